"""Builds vtm-8.3.json, our machine-readable copy of the vTM 8.3 key list.

Run once when the reference changes:
    python -m vtmadmin.schema.generate ../shared/reference > vtmadmin/schema/vtm-8.3.json

The reference lists each key as `<section>.<key> : <type> [default; range] # text`.
Some enum lists are cut short there; the enum file completes them. Table rows
are not described by the reference (except the nodes table), so their columns
are given here, as vTM 8.3 defines them.
"""

import json
import re
import sys
from pathlib import Path

LINE = re.compile(r"^(\w+)\.(\w+) : (\S+)(?:\s+\[(.*)\])?\s+#\s?(.*)$|^(\w+)\.(\w+) : (\S+)(?:\s+\[(.*)\])?\s*$")

# Columns of each table type: name -> (type, default, extra). The first column is the row's key.
S, B, INT, L = "string", "bool", "int", "[]string"
TABLES = {
    "PoolNodesTableTable": {
        "node": {"type": S, "required": True, "format": "host_port"},
        "state": {"type": S, "default": "active", "enum": ["active", "disabled", "draining"]},
        "weight": {"type": INT, "default": 1, "min": 1, "max": 100},
        "priority": {"type": INT, "default": 1, "min": 0, "max": 65535},
        "source_ip": {"type": S, "default": ""},
    },
    "MonitorArgumentsTable": {
        "name": {"type": S, "required": True},
        "value": {"type": S, "default": ""},
        "description": {"type": S, "default": ""},
    },
    "TrafficIpGroupIpMappingTable": {
        "ip": {"type": S, "required": True},
        "traffic_manager": {"type": S, "default": ""},
    },
    "UserGroupPermissionsTable": {
        "name": {"type": S, "required": True},
        "access_level": {"type": S, "default": "none", "enum": ["full", "none", "ro"]},
    },
    "VirtualServerServerCertHostMappingTable": {
        "host": {"type": S, "required": True},
        "certificate": {"type": S, "default": ""},
        "alt_certificates": {"type": L, "default": []},
    },
    "VirtualServerOcspIssuersTable": {
        "issuer": {"type": S, "required": True},
        "aia": {"type": B, "default": True},
        "nonce": {"type": S, "default": "off", "enum": ["off", "on", "strict"]},
        "required": {"type": S, "default": "optional", "enum": ["none", "optional", "strict"]},
        "responder_cert": {"type": S, "default": ""},
        "signer": {"type": S, "default": ""},
        "url": {"type": S, "default": ""},
    },
    "VirtualServerProfileTable": {
        "name": {"type": S, "required": True},
        "urls": {"type": L, "default": []},
    },
    "VirtualServerCaSitesTable": {
        "name": {"type": S, "required": True},
        "ca_sites": {"type": S, "default": "none", "enum": ["all", "none", "simple"]},
    },
    "TrafficManagerHostsTable": {
        "name": {"type": S, "required": True},
        "ip_address": {"type": S, "default": ""},
    },
    "TrafficManagerIfTable": {
        "name": {"type": S, "required": True},
        "autoneg": {"type": B, "default": True},
        "bmode": {"type": S, "default": "802_3ad", "enum": ["802_3ad", "balance_alb"]},
        "bond": {"type": S, "default": ""},
        "duplex": {"type": B, "default": True},
        "mode": {"type": S, "default": "static", "enum": ["dhcp", "static"]},
        "mtu": {"type": INT, "default": 1500, "min": 68, "max": 9216},
        "speed": {"type": S, "default": "1000", "enum": ["10", "100", "1000", "10000", "100000", "40000"]},
    },
    "TrafficManagerIpTable": {
        "name": {"type": S, "required": True},
        "addr": {"type": S, "default": ""},
        "isexternal": {"type": B, "default": False},
        "mask": {"type": S, "default": ""},
    },
    "TrafficManagerRoutesTable": {
        "name": {"type": S, "required": True},
        "gw": {"type": S, "default": ""},
        "if": {"type": S, "default": ""},
        "mask": {"type": S, "default": ""},
    },
    "TrafficManagerApplianceCardTable": {
        "name": {"type": S, "required": True},
        "interfaces": {"type": L, "default": []},
        "label": {"type": S, "default": "-"},
    },
    "TrafficManagerApplianceSysctlTable": {
        "sysctl": {"type": S, "required": True},
        "description": {"type": S, "default": ""},
        "value": {"type": S, "default": ""},
    },
    "TrafficManagerTrafficipTable": {
        "name": {"type": S, "required": True},
        "networks": {"type": L, "default": []},
    },
    "GlobalSettingsApplianceReturnpathTable": {
        "mac": {"type": S, "required": True},
        "ipv4": {"type": S, "default": ""},
        "ipv6": {"type": S, "default": ""},
    },
    "GlobalSettingsProxyMapTable": {
        "name": {"type": S, "required": True},
        "absolute_path": {"type": S, "default": ""},
    },
}

# Defaults the reference leaves out but vTM has (a missing int default would be 0).
EXTRA_DEFAULTS = {
    ("pool", "basic", "lard_size"): 2047,
    ("global_settings", "http", "max_chunk_header_length"): 4096,
}
# Ranges the reference leaves out, for keys whose 0 would be meaningless (min, max).
EXTRA_RANGES = {("global_settings", "http", "max_chunk_header_length"): (64, 1 << 20)}
# Formats the reference leaves out: private keys are never read back; traffic IPs are IP addresses.
EXTRA_FORMATS = {
    ("ssl_server_key", "basic", "private"): {"write_only": True},
    ("traffic_ip_group", "basic", "ipaddresses"): {"items": "ip"},
}
# Keys a create must give.
REQUIRED = {("virtual_server", "basic", "port"), ("virtual_server", "basic", "pool")}


def _enums(path: Path) -> dict[str, list[str]]:
    enums = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^(\w+) (\w+) = ([^|]+)\|", line)
        if m:
            enums[f"{m[1]} {m[2]}"] = [v.strip() for v in m[3].split(",")]
    return enums


def _default(text: str, kind: str):
    m = re.match(r'default=("(?:[^"\\]|\\.)*"|[^;\]]*)', text)
    if not m:
        return None
    raw = m[1]
    if raw.startswith('"'):
        return json.loads(raw)
    if kind == "bool" and raw in ("true", "false"):
        return raw == "true"
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            return None
    return None


def _key(kind: str, constraint: str, obj_type: str, section: str, name: str, enums: dict) -> dict:
    if kind in TABLES:
        return {"type": "table", "table": kind, "default": []}
    key: dict = {"type": kind}
    default = _default(constraint, kind)
    if kind == "int":
        if m := re.search(r"IntBetween\((\d+), (\d+)\)", constraint):
            key["min"], key["max"] = int(m[1]), int(m[2])
        elif m := re.search(r"IntAtLeast\((\d+)\)", constraint):
            key["min"] = int(m[1])
    if (obj_type, section, name) in EXTRA_RANGES:
        key["min"], key["max"] = EXTRA_RANGES[(obj_type, section, name)]
    if "one of {" in constraint:
        for candidate in (f"{obj_type} {name}", f"{obj_type} {section}_{name}"):
            if candidate in enums:
                key["enum"] = enums[candidate]
                break
        else:
            key["enum"] = re.findall(r'"([^"]*)"', constraint.split("one of {", 1)[1].split("}", 1)[0])
    fallback = {"bool": False, "int": 0, "string": "", "[]string": []}[kind]
    key["default"] = EXTRA_DEFAULTS.get((obj_type, section, name), default if default is not None else fallback)
    if kind == "string" and key.get("enum") and key["default"] not in key["enum"]:
        key["default"] = key["enum"][0] if key["default"] == "" else key["default"]
    if (obj_type, section, name) in REQUIRED:
        key["required"] = True
    if kind == "string" and name.endswith("_regex"):
        key["format"] = "regex"
    key.update(EXTRA_FORMATS.get((obj_type, section, name), {}))
    return key


def build(reference: Path) -> dict:
    enums = _enums(reference / "vtm-enums-8.3.txt")
    types: dict[str, dict] = {}
    current = None
    for line in (reference / "vtm-schema-8.3.txt").read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            types[current] = {}
            continue
        m = LINE.match(line)
        if not m or current is None:
            continue
        section, name, kind, constraint = (m[1], m[2], m[3], m[4]) if m[1] else (m[6], m[7], m[8], m[9])
        types[current].setdefault(section, {})[name] = _key(kind, constraint or "", current, section, name, enums)
    # Local users of the Admin UI and REST API (vTM keeps them outside the 8.3 key list).
    types["user"] = {
        "basic": {
            "group": {"type": "string", "default": "admin"},
            "password": {"type": "string", "default": "", "write_only": True},
            "note": {"type": "string", "default": ""},
        }
    }
    return {"version": "8.3", "types": types, "tables": TABLES}


if __name__ == "__main__":
    json.dump(build(Path(sys.argv[1])), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
