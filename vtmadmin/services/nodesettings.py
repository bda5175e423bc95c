"""This node's own settings, kept in $ZEUSHOME/admin/etc/settings.json (written by configure,
read by vtmadmin/settings.py at start): name, management IP, run user and group, ports."""

import json
import uuid
from pathlib import Path

from django.conf import settings

from vtmadmin.services.engine import write_atomically


def node_settings_path() -> Path:
    return Path(settings.ZEUSHOME) / "admin" / "etc" / "settings.json"


def node_settings_read() -> dict:
    try:
        return json.loads(node_settings_path().read_text())
    except (FileNotFoundError, ValueError):
        return {}


def node_settings_write(values: dict) -> None:
    write_atomically(node_settings_path(), json.dumps(values, indent=1, sort_keys=True).encode() + b"\n", mode=0o644)


def node_is_configured() -> bool:
    return bool(node_settings_read().get("configured"))


def node_uuid() -> str:
    """This traffic manager's UUID, made once (at first start, as root) and kept in admin/etc."""
    path = Path(settings.ZEUSHOME) / "admin" / "etc" / "uuid"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = str(uuid.uuid4())
        write_atomically(path, value.encode() + b"\n", mode=0o644)
        return value
