"""Bad bodies are refused with 400, an error naming what is wrong, and nothing stored."""

import json

import pytest

from .conftest import BASE

NODE = {"node": "10.0.0.1:80"}
# (type path, body, section, key) - section/key: where error_info must point, or None for a body-level error
INVALID = [
    ("pools", {"properties": {"basic": {"passive_monitoring": "yes"}}}, "basic", "passive_monitoring"),
    ("pools", {"properties": {"basic": {"passive_monitoring": 1}}}, "basic", "passive_monitoring"),
    ("pools", {"properties": {"basic": {"max_connection_attempts": "3"}}}, "basic", "max_connection_attempts"),
    ("pools", {"properties": {"basic": {"max_connection_attempts": 3.5}}}, "basic", "max_connection_attempts"),
    ("pools", {"properties": {"basic": {"max_connection_attempts": True}}}, "basic", "max_connection_attempts"),
    ("pools", {"properties": {"basic": {"max_connection_attempts": -1}}}, "basic", "max_connection_attempts"),
    ("pools", {"properties": {"basic": {"max_connection_attempts": 100000}}}, "basic", "max_connection_attempts"),
    ("pools", {"properties": {"connection": {"max_connect_time": 0}}}, "connection", "max_connect_time"),
    ("pools", {"properties": {"load_balancing": {"algorithm": "fastest"}}}, "load_balancing", "algorithm"),
    ("pools", {"properties": {"load_balancing": {"algorithm": "roundrobin"}}}, "load_balancing", "algorithm"),
    ("pools", {"properties": {"load_balancing": {"algorithm": None}}}, "load_balancing", "algorithm"),
    ("pools", {"properties": {"basic": {"monitors": "Ping"}}}, "basic", "monitors"),
    ("pools", {"properties": {"basic": {"monitors": ["Ping", 3]}}}, "basic", "monitors"),
    ("pools", {"properties": {"basic": {"monitors": None}}}, "basic", "monitors"),
    ("pools", {"properties": {"basic": {"nodes_table": {"node": "10.0.0.1:80"}}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": ["10.0.0.1:80"]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{"state": "active"}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{"node": "10.0.0.1"}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{"node": "10.0.0.1:0"}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{"node": "10.0.0.1:65536"}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{"node": "10.0.0.1:http"}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{"node": ":80"}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{"node": "bad host:80"}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{"node": "::1:80"}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{"node": "10.0.0.1:+80"}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{**NODE, "weight": 0}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{**NODE, "weight": 101}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{**NODE, "state": "up"}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{**NODE, "colour": "red"}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [{**NODE, "priority": "1"}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"nodes_table": [NODE, {**NODE, "weight": 2}]}}}, "basic", "nodes_table"),
    ("pools", {"properties": {"basic": {"no_such_key": 1}}}, "basic", "no_such_key"),
    ("pools", {"properties": {"nonsense": {"a": 1}}}, "nonsense", None),
    ("pools", {"properties": {"basic": []}}, "basic", None),
    ("pools", {"properties": {"basic": {"note": "a\u0000b"}}}, "basic", "note"),
    ("virtual_servers", {"properties": {"basic": {"port": 0, "pool": "discard"}}}, "basic", "port"),
    ("virtual_servers", {"properties": {"basic": {"port": 65536, "pool": "discard"}}}, "basic", "port"),
    ("virtual_servers", {"properties": {"basic": {"port": "80", "pool": "discard"}}}, "basic", "port"),
    ("virtual_servers", {"properties": {"basic": {"pool": "discard"}}}, "basic", "port"),
    ("virtual_servers", {"properties": {"basic": {"port": 80}}}, "basic", "pool"),
    ("virtual_servers", {"properties": {"basic": {"port": 80, "pool": "d", "protocol": "gopher"}}}, "basic", "protocol"),
    ("virtual_servers", {"properties": {"basic": {"port": 80, "pool": "d", "request_rules": "r"}}}, "basic",
     "request_rules"),
    ("monitors", {"properties": {"basic": {"type": "smtp"}}}, "basic", "type"),
    ("monitors", {"properties": {"basic": {"delay": 0}}}, "basic", "delay"),
    ("monitors", {"properties": {"http": {"status_regex": "(("}}}, "http", "status_regex"),
    ("monitors", {"properties": {"tcp": {"response_regex": "[a-"}}}, "tcp", "response_regex"),
    ("persistence", {"properties": {"basic": {"type": "sticky"}}}, "basic", "type"),
    ("bandwidth", {"properties": {"basic": {"maximum": 0}}}, "basic", "maximum"),
    ("bandwidth", {"properties": {"basic": {"sharing": "everyone"}}}, "basic", "sharing"),
    ("traffic_ip_groups", {"properties": {"basic": {"mode": "anycast"}}}, "basic", "mode"),
    ("traffic_ip_groups", {"properties": {"basic": {"ipaddresses": ["192.0.2.1", "not-an-ip"]}}}, "basic",
     "ipaddresses"),
    ("user_groups", {"properties": {"basic": {"permissions": [{"name": "x", "access_level": "root"}]}}}, "basic",
     "permissions"),
]

BODY_LEVEL = [
    ("pools", b"{not json", "json.parse_error"),
    ("pools", b"", "json.parse_error"),
    ("pools", b"\xff\xfe", "json.parse_error"),
    ("pools", b"[1, 2]", "resource.validation_error"),
    ("pools", b'"text"', "resource.validation_error"),
    ("pools", b'{"properties": [1]}', "resource.validation_error"),
    ("pools", b'{"props": {}}', "resource.validation_error"),
    ("pools", b"x" * (4 * 1024 * 1024 + 1), "request.too_large"),
]


def _count(api, path):
    return len(api.get(f"{BASE}/{path}/").json()["children"])


@pytest.mark.parametrize(("path", "body", "section", "key"), INVALID)
def test_invalid_value_is_refused_and_names_section_and_key(api, path, body, section, key):
    before = _count(api, path)
    r = api.put(f"{BASE}/{path}/bad", body, format="json")
    assert r.status_code == 400, r.content
    err = r.json()
    assert err["error_id"] == "resource.validation_error"
    assert section in err["error_info"]
    if key:
        assert err["error_info"][section][key]["error_text"]
    assert _count(api, path) == before
    assert api.get(f"{BASE}/{path}/bad").status_code == 404


@pytest.mark.parametrize(("path", "raw", "error_id"), BODY_LEVEL)
def test_unreadable_body_is_refused(api, path, raw, error_id):
    r = api.put(f"{BASE}/{path}/bad", raw, content_type="application/json")
    assert r.status_code == 400
    assert r.json()["error_id"] == error_id
    assert api.get(f"{BASE}/{path}/bad").status_code == 404


@pytest.mark.parametrize("name", [".hidden", "a\u0001b", "x" * 256])
def test_invalid_names_are_refused(api, name):
    from urllib.parse import quote

    r = api.put(f"{BASE}/pools/{quote(name)}", {"properties": {}}, format="json")
    assert r.status_code == 400


def test_failed_update_leaves_the_stored_object_unchanged(api):
    api.put(f"{BASE}/pools/keep", {"properties": {"basic": {"note": "original"}}}, format="json")
    r = api.put(f"{BASE}/pools/keep", {"properties": {"basic": {"note": "new", "max_connection_attempts": -5}}},
                format="json")
    assert r.status_code == 400
    assert api.get(f"{BASE}/pools/keep").json()["properties"]["basic"]["note"] == "original"


def test_every_error_lists_all_bad_keys(api):
    r = api.put(f"{BASE}/pools/multi", {"properties": {"basic": {"passive_monitoring": 1, "note": 2},
                                                       "connection": {"max_reply_time": 0}}}, format="json")
    info = r.json()["error_info"]
    assert set(info["basic"]) == {"passive_monitoring", "note"}
    assert "max_reply_time" in info["connection"]
    json.dumps(info)

