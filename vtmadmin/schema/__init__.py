"""The vTM 8.3 configuration schema: every key's type, default and range, and the one validator.

Every entry path (REST API, Admin UI forms, manage.py, document import) validates
through `validate_properties`, so a value refused in one place is refused in all.
"""

import copy
import ipaddress
import json
import re
from functools import cache
from pathlib import Path

SCHEMA_VERSION = "8.3"
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$")


class SchemaErrors(Exception):
    """A body that does not fit the schema: `info` is the vTM `error_info` tree."""

    def __init__(self, info: dict, text: str = "The resource provided is invalid"):
        super().__init__(text)
        self.info = info
        self.text = text


@cache
def schema() -> dict:
    return json.loads((Path(__file__).parent / "vtm-8.3.json").read_text())


def sections(schema_type: str) -> dict:
    return schema()["types"][schema_type]


def _error(error_id: str, text: str) -> dict:
    return {"error_id": error_id, "error_text": text}


def valid_host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(host)) and not host.replace(".", "").isdigit()


def node_address_error(value: str) -> str | None:
    """Why `value` is not a usable "<host>:<port>" node address, or None."""
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        return f"'{value}' is not of the form <host>:<port>"
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        return f"'{value}' has an invalid port: the port must be a number from 1 to 65535"
    if ":" in host and not host.startswith("["):
        return f"'{value}': an IPv6 address must be written in brackets, as [::1]:80"
    if not valid_host(host):
        return f"'{value}' has an invalid host name or IP address"
    return None


def _check_value(spec: dict, value, where: str) -> dict | None:
    kind = spec["type"]
    if kind == "bool":
        if not isinstance(value, bool):
            return _error("type.bool", f"{where}: expected true or false, got {json.dumps(value)}")
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return _error("type.int", f"{where}: expected an integer, got {json.dumps(value)}")
        low, high = spec.get("min"), spec.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            return _error("int.out_of_range", f"{where}: {value} is out of range, it must be {bounds}")
    elif kind == "string":
        if not isinstance(value, str):
            return _error("type.string", f"{where}: expected a string, got {json.dumps(value)}")
        if "\x00" in value:
            return _error("string.invalid", f"{where}: NUL characters are not allowed")
        if spec.get("enum") is not None and value not in spec["enum"]:
            return _error(
                "enum.invalid", f"{where}: '{value}' is not one of: {', '.join(spec['enum'])}"
            )
        if spec.get("format") == "host_port" and (why := node_address_error(value)):
            return _error("node.invalid_address", f"{where}: {why}")
        if spec.get("format") == "regex":
            try:
                re.compile(value)
            except (re.error, RecursionError, OverflowError) as e:
                return _error("regex.invalid", f"{where}: '{value}' is not a valid regular expression: {e}")
    elif kind == "[]string":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return _error("type.list", f"{where}: expected a list of strings, got {json.dumps(value)[:80]}")
        if spec.get("items") == "ip":
            for item in value:
                try:
                    ipaddress.ip_address(item)
                except ValueError:
                    return _error("ip.invalid", f"{where}: '{item}' is not an IP address")
    elif kind == "table":
        return _check_table(schema()["tables"][spec["table"]], value, where)
    return None


def _check_table(columns: dict, rows, where: str) -> dict | None:
    if not isinstance(rows, list):
        return _error("type.table", f"{where}: expected a list of rows (objects), got {json.dumps(rows)[:80]}")
    # a table is keyed by its one required column (node, name, ip, ...), as on vTM
    key_column = next((c for c, spec in columns.items() if spec.get("required")), None)
    seen = set()
    for i, row in enumerate(rows, 1):
        if key_column and isinstance(row, dict) and isinstance(row.get(key_column), str):
            if row[key_column] in seen:
                return _error("table.duplicate", f"{where}: row {i} repeats {key_column} '{row[key_column]}'")
            seen.add(row[key_column])
        if not isinstance(row, dict):
            return _error("type.table", f"{where}: row {i} is not an object")
        for column, spec in columns.items():
            if spec.get("required") and column not in row:
                return _error("table.row_invalid", f"{where}: row {i} has no '{column}'")
        for column, value in row.items():
            if column not in columns:
                return _error("key.unknown", f"{where}: row {i} has an unknown column '{column}'")
            if err := _check_value(columns[column], value, f"{where} row {i} {column}"):
                return err
    return None


def validate_properties(schema_type: str, properties, *, creating: bool = False, stored: dict | None = None) -> None:
    """Raise SchemaErrors unless `properties` (a REST `properties` object) fits the schema.

    `creating`: keys the type requires must be present, in `properties` or `stored`.
    """
    if not isinstance(properties, dict):
        raise SchemaErrors({}, "The body must be a JSON object with a 'properties' object")
    known = sections(schema_type)
    info: dict = {}
    for section, keys in properties.items():
        if section not in known:
            info[section] = _error("section.unknown", f"Unknown section '{section}'")
            continue
        if not isinstance(keys, dict):
            info[section] = _error("type.section", f"Section '{section}' must be an object of keys")
            continue
        for key, value in keys.items():
            spec = known[section].get(key)
            if spec is None:
                err = _error("key.unknown", f"Unknown key '{key}' in section '{section}'")
            else:
                err = _check_value(spec, value, f"{section}.{key}")
            if err:
                info.setdefault(section, {})[key] = err
    if creating:
        for section, keys in known.items():
            for key, spec in keys.items():
                if spec.get("required") and key not in properties.get(section, {}) and key not in (
                    (stored or {}).get(section, {})
                ):
                    info.setdefault(section, {})[key] = _error("value.required", f"{section}.{key} must be given")
    if info:
        raise SchemaErrors(info)


def _row_with_defaults(columns: dict, row: dict) -> dict:
    full = {c: copy.deepcopy(spec.get("default", "")) for c, spec in columns.items() if c in row or "default" in spec}
    full.update(row)
    return full


def with_defaults(schema_type: str, properties: dict) -> dict:
    """Every section and key of the type, stored values over defaults (table rows filled too)."""
    tables = schema()["tables"]
    out = {}
    for section, keys in sections(schema_type).items():
        given = properties.get(section, {})
        out[section] = {}
        for key, spec in keys.items():
            if key in given:
                value = copy.deepcopy(given[key])
                if spec["type"] == "table":
                    value = [_row_with_defaults(tables[spec["table"]], row) for row in value]
            else:
                value = copy.deepcopy(spec["default"])
            out[section][key] = value
    return out


def merged(stored: dict, update: dict) -> dict:
    """A PUT's update merged into the stored properties: sections merge, keys replace."""
    out = copy.deepcopy(stored)
    for section, keys in update.items():
        out.setdefault(section, {}).update(copy.deepcopy(keys))
    return out


def name_error(name: str) -> str | None:
    """Why `name` cannot name a configuration object, or None."""
    if not name or not name.strip():
        return "The name must not be empty"
    if len(name) > 255:
        return "The name must be at most 255 characters"
    if "/" in name or name in (".", "..") or name.startswith("."):
        return f"'{name}' is not a valid name: it must not contain '/' or start with '.'"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "The name must not contain control characters"
    return None
