"""The contract between the admin side and the engine: whatever the admin side accepts and renders,
the engine accepts. A schema-valid configuration must never make the engine refuse a reload."""

import json
import random

import pytest

from proxyengine.config import parse_config
from vtmadmin import schema
from vtmadmin.registry import TYPES
from vtmadmin.services.document import config_digest

ENGINE_TYPES = [path for path, t in TYPES.items() if t.engine and not t.raw and not t.singleton]


def random_value(spec: dict, rng: random.Random):
    kind = spec["type"]
    if kind == "bool":
        return rng.choice([True, False])
    if kind == "int":
        low = spec.get("min", 0)
        high = spec.get("max", max(low, 100000))
        return rng.choice([low, high, rng.randint(low, high)])
    if kind == "string":
        if "enum" in spec:
            return rng.choice(spec["enum"])
        if spec.get("format") == "host_port":
            return rng.choice(["10.0.0.1", "web.example.com", "[::1]"]) + f":{rng.randint(1, 65535)}"
        if spec.get("format") == "regex":
            return rng.choice(["", ".+", "^[23][0-9][0-9]$", "ok|fine"])
        return rng.choice(["", "x", "a b", "ünï", "web", "127.0.0.1"])
    if kind == "[]string":
        if spec.get("items") == "ip":
            return rng.sample(["10.0.0.1", "192.0.2.7", "::1"], rng.randint(0, 3))
        return rng.sample(["a", "b", "web", "10.0.0.1", "Ping"], rng.randint(0, 3))
    if kind == "table":
        columns = schema.schema()["tables"][spec["table"]]
        rows = []
        for i in range(rng.randint(0, 3)):
            row = {}
            for column, cspec in columns.items():
                if cspec.get("required") or rng.random() < 0.5:
                    row[column] = random_value(cspec, rng)
            key = next(c for c, cspec in columns.items() if cspec.get("required"))
            if isinstance(row.get(key), str):
                row[key] = row[key].replace(":", f"{i}:", 1) if ":" in row[key] else f"{row[key]}{i}"
            rows.append(row)
        return rows
    raise AssertionError(kind)


def random_properties(schema_type: str, rng: random.Random) -> dict:
    props = {}
    for section, keys in schema.sections(schema_type).items():
        chosen = {k: random_value(spec, rng) for k, spec in keys.items() if rng.random() < 0.4 or spec.get("required")}
        if chosen:
            props[section] = chosen
    schema.validate_properties(schema_type, props, creating=True)  # the admin side accepts it
    return props


@pytest.mark.parametrize("seed", range(60))
def test_engine_accepts_every_schema_valid_configuration(seed, db):
    from vtmadmin.services.engine import engine_render

    rng = random.Random(seed)
    config = {"global_settings": {"properties": random_properties("global_settings", rng)}}
    for path in ENGINE_TYPES:
        config[path] = {f"obj{i}": {"properties": random_properties(TYPES[path].schema, rng)} for i in range(2)}
    config["rules"] = {"r": "http.setHeader(\"X\", \"1\");"}
    document = {"schema_version": "8.3", "revision": 1, "digest": config_digest(config), "config": config}
    rendered = engine_render(document=document)
    parse_config(json.dumps(rendered))


@pytest.mark.parametrize("children, workers", [(None, 0), (0, 0), (3, 3), (1000, 256)])
def test_engine_workers_are_this_traffic_managers_num_children(children, workers, db, settings, monkeypatch):
    from vtmadmin.services.engine import engine_render

    monkeypatch.delenv("VTM_ENGINE_WORKERS", raising=False)
    basic = {} if children is None else {"num_children": children}
    config = {"traffic_managers": {settings.TM_NAME: {"properties": {"basic": basic}},
                                   "other": {"properties": {"basic": {"num_children": 7}}}}}
    document = {"schema_version": "8.3", "revision": 1, "digest": config_digest(config), "config": config}
    rendered = engine_render(document=document)
    assert rendered["node"]["workers"] == workers  # (0: one per CPU; the engine runs at most 256)
    assert parse_config(json.dumps(rendered)).node.workers == workers
    monkeypatch.setenv("VTM_ENGINE_WORKERS", "2")  # an operator's override
    assert engine_render(document=document)["node"]["workers"] == 2
