"""The Manage a New Service wizard's work: check back-end nodes, probe them, create the service."""

import socket
from dataclasses import dataclass

from django.db import transaction

from vtmadmin.registry import TYPES
from vtmadmin.schema import SchemaErrors, node_address_error
from vtmadmin.services.config import config_object_put
from vtmadmin.services.revisions import revision_record

# The port a protocol usually listens on, for the wizard's default.
DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "smtp": 25, "pop3": 110, "pop3s": 995, "imapv4": 143,
                 "imaps": 993, "ldap": 389, "ldaps": 636, "telnet": 23, "rtsp": 554, "dns": 53, "dns_tcp": 53,
                 "siptcp": 5060, "sipudp": 5060, "ssl": 443}


@dataclass(frozen=True)
class NodeLine:
    """One line of the wizard's node list and what is wrong with it."""

    line: int
    text: str
    error: str | None


def nodes_parse(text: str) -> list[NodeLine]:
    """The non-blank lines (or comma-separated entries) of a node list, each checked as <host>:<port>."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        for part in line.replace(",", " ").split():
            entries.append(NodeLine(number, part, node_address_error(part)))
    return entries


def node_probe(address: str, *, timeout: float = 1.0) -> str | None:
    """Why a TCP connection to `address` cannot be made, or None when it can (the wizard warns, never blocks)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return None
    except OSError as e:
        return f"{address} did not accept a connection: {e.strerror or e}"


def nodes_probe(addresses: list[str], *, timeout: float = 1.0) -> list[str]:
    """The warnings for every node that does not accept a connection, probed side by side."""
    from concurrent.futures import ThreadPoolExecutor

    if not addresses:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(addresses))) as pool:
        return [w for w in pool.map(lambda a: node_probe(a, timeout=timeout), addresses) if w]


def service_name_taken(name: str) -> str | None:
    for path, label in (("virtual_servers", "virtual server"), ("pools", "pool")):
        if TYPES[path].model.objects.filter(name=name).exists():
            return f"A {label} named '{name}' already exists"
    return None


@transaction.atomic
def service_create(*, name: str, protocol: str, port: int, nodes: list[str], user: str = "") -> None:
    """Create the pool and the virtual server of a new service in one transaction, through the config services.

    Raises SchemaErrors (nothing is saved) when a value is refused or the name is taken.
    """
    if why := service_name_taken(name):
        raise SchemaErrors({}, why)
    by = f" by {user}" if user else ""
    config_object_put(
        otype=TYPES["pools"], name=name, value={"basic": {"nodes_table": [{"node": n} for n in nodes]}}, record=False,
    )
    config_object_put(
        otype=TYPES["virtual_servers"], name=name,
        value={"basic": {"pool": name, "protocol": protocol, "port": port, "enabled": True}}, record=False,
    )
    # one revision (and one push) for the whole service, not one per object
    revision_record(reason=f"Manage a New Service wizard{by}: created pools '{name}' and virtual_servers '{name}'")
