"""Creating, reading, merging and deleting every configuration object type over the REST API."""

import json

import pytest

from vtmadmin import schema

from .conftest import BASE, put

# A valid body for each JSON object type, and a key whose update we check merges.
SAMPLES = {
    "pools": ({"basic": {"nodes_table": [{"node": "10.0.0.1:80"}], "monitors": ["Ping"]}},
              {"load_balancing": {"algorithm": "least_connections"}}),
    "virtual_servers": ({"basic": {"port": 8080, "pool": "discard"}}, {"basic": {"enabled": True}}),
    "monitors": ({"basic": {"type": "http"}, "http": {"path": "/health"}}, {"basic": {"delay": 10}}),
    "persistence": ({"basic": {"type": "cookie", "cookie": "SESSION"}}, {"basic": {"failure_mode": "close"}}),
    "bandwidth": ({"basic": {"maximum": 5000}}, {"basic": {"sharing": "connection"}}),
    "rate": ({"basic": {"max_rate_per_second": 10}}, {"basic": {"note": "api"}}),
    "service_level_monitors": ({"basic": {"response_time": 200}}, {"basic": {"note": "x"}}),
    "protection": ({"basic": {"note": "p"}}, {"basic": {"debug": True}}),
    "ssl/server_keys": ({"basic": {"note": "cert"}}, {"basic": {"request": ""}}),
    "traffic_ip_groups": ({"basic": {"ipaddresses": ["192.0.2.10"], "machines": []}}, {"basic": {"enabled": False}}),
    "traffic_managers": ({"basic": {"num_children": 2}}, {"basic": {"location": "x"}}),
    "user_groups": ({"basic": {"description": "ops", "permissions": [{"name": "pools", "access_level": "ro"}]}},
                    {"basic": {"timeout": 60}}),
    "users": ({"basic": {"password": "pw-12345", "group": "Guest"}}, {"basic": {"note": "n"}}),
}


@pytest.mark.parametrize("path", sorted(SAMPLES))
def test_create_read_update_delete(api, path):
    create, update = SAMPLES[path]
    otype = path.replace("ssl/server_keys", "ssl_server_key").rstrip("s")
    r = put(api, f"{path}/obj1", {"properties": create})
    assert r.status_code == 201, r.content
    full = r.json()["properties"]
    # every section and key of the schema is there, with defaults
    from vtmadmin.registry import TYPES
    sections = schema.sections(TYPES[path].schema)
    assert set(full) == set(sections)
    for section, keys in sections.items():
        assert set(full[section]) == set(keys)
    assert api.get(f"{BASE}/{path}/obj1").json() == r.json()
    r = put(api, f"{path}/obj1", {"properties": update})
    assert r.status_code == 200
    after = r.json()["properties"]
    for section, keys in update.items():
        for key, value in keys.items():
            assert after[section][key] == value
    for section, keys in create.items():  # the first PUT's keys survive the merge
        for key, value in keys.items():
            if key != "password" and key not in update.get(section, {}):
                got = after[section][key]
                if isinstance(value, list) and value and isinstance(value[0], dict):
                    got = [{k: row[k] for k in value[i]} for i, row in enumerate(got)]
                assert got == value
    assert otype
    assert api.delete(f"{BASE}/{path}/obj1").status_code == 204
    assert api.get(f"{BASE}/{path}/obj1").status_code == 404
    assert api.delete(f"{BASE}/{path}/obj1").status_code == 404


def test_nodes_table_rows_get_their_defaults(api):
    r = put(api, "pools/web", {"properties": {"basic": {"nodes_table": [{"node": "10.0.0.1:80"},
                                                                        {"node": "10.0.0.2:80", "weight": 3}]}}})
    rows = r.json()["properties"]["basic"]["nodes_table"]
    assert rows == [
        {"node": "10.0.0.1:80", "state": "active", "weight": 1, "priority": 1, "source_ip": ""},
        {"node": "10.0.0.2:80", "state": "active", "weight": 3, "priority": 1, "source_ip": ""},
    ]


def test_lists_are_empty_lists_never_null(api):
    props = put(api, "pools/p", {"properties": {}}).json()["properties"]
    assert props["basic"]["monitors"] == []
    assert props["basic"]["nodes_table"] == []


def test_values_round_trip_exactly(api):
    monitors = ["Ping", "Connect", "Ping"]
    put(api, "pools/rt", {"properties": {"basic": {"monitors": monitors, "note": "ünïcode ✓"},
                                         "connection": {"max_reply_time": 7}}})
    props = api.get(f"{BASE}/pools/rt").json()["properties"]
    assert props["basic"]["monitors"] == monitors
    assert props["basic"]["note"] == "ünïcode ✓"
    assert props["connection"]["max_reply_time"] == 7 and isinstance(props["connection"]["max_reply_time"], int)


def test_put_answers_with_the_whole_object(api):
    r = put(api, "virtual_servers/vs", {"properties": {"basic": {"port": 80, "pool": "discard"}}})
    assert r.status_code == 201
    assert r["Content-Type"].startswith("application/json")
    assert r.json()["properties"]["basic"]["protocol"] == "http"
    assert r.json()["properties"]["basic"]["enabled"] is False


def test_rules_are_raw_text(api):
    text = 'http.setHeader("X-Forwarded-For", request.getRemoteIP());\n'
    r = api.put(f"{BASE}/rules/xff", text, content_type="application/octet-stream")
    assert r.status_code == 201
    r = api.get(f"{BASE}/rules/xff")
    assert r.status_code == 200 and r.content.decode() == text
    assert r["Content-Type"] == "application/octet-stream"
    r = api.put(f"{BASE}/rules/xff", "# changed\n", content_type="application/octet-stream")
    assert r.status_code == 200
    assert api.get(f"{BASE}/rules/xff").content == b"# changed\n"
    assert api.delete(f"{BASE}/rules/xff").status_code == 204


def test_license_keys_are_raw_text(api):
    r = api.put(f"{BASE}/license_keys/key1", "license text", content_type="application/octet-stream")
    assert r.status_code == 201
    assert api.get(f"{BASE}/license_keys/key1").content == b"license text"


def test_global_settings_update_merges(api):
    r = api.put(f"{BASE}/global_settings", {"properties": {"basic": {"chunk_size": 32768}}}, format="json")
    assert r.status_code == 200
    assert r.json()["properties"]["basic"]["chunk_size"] == 32768
    assert api.delete(f"{BASE}/global_settings").status_code == 403


def test_pool_used_by_a_virtual_server_cannot_be_deleted(api):
    put(api, "pools/web", {"properties": {}})
    put(api, "virtual_servers/site", {"properties": {"basic": {"port": 80, "pool": "web"}}})
    r = api.delete(f"{BASE}/pools/web")
    assert r.status_code == 409
    body = r.json()
    assert body["error_id"] == "resource.in_use"
    assert "virtual_servers 'site'" in body["error_text"]
    assert api.get(f"{BASE}/pools/web").status_code == 200
    api.delete(f"{BASE}/virtual_servers/site")
    assert api.delete(f"{BASE}/pools/web").status_code == 204


def test_rule_used_by_a_virtual_server_cannot_be_deleted(api):
    api.put(f"{BASE}/rules/r1", "1;", content_type="application/octet-stream")
    put(api, "virtual_servers/v", {"properties": {"basic": {"port": 81, "pool": "discard", "request_rules": ["r1"]}}})
    assert api.delete(f"{BASE}/rules/r1").status_code == 409


def test_builtin_discard_pool_cannot_be_deleted(api):
    assert api.delete(f"{BASE}/pools/discard").status_code == 403


def test_reference_to_missing_pool_is_stored_with_a_warning_and_diagnosed(api):
    r = put(api, "virtual_servers/early", {"properties": {"basic": {"port": 80, "pool": "later"}}})
    assert r.status_code == 201
    assert any("pools 'later'" in w for w in r.json()["warnings"])
    report = api.get("/api/tm/8.3/status/local_tm/diagnose").json()["diagnose"]
    assert any(e["name"] == "early" for e in report)
    put(api, "pools/later", {"properties": {}})
    report = api.get("/api/tm/8.3/status/local_tm/diagnose").json()["diagnose"]
    assert not any(e["name"] == "early" for e in report)


def test_unparsable_certificate_is_stored_and_diagnosed(api):
    r = put(api, "ssl/server_keys/bad", {"properties": {"basic": {"public": "not a cert", "private": "nope"}}})
    assert r.status_code == 201
    assert any("does not parse" in w for w in r.json()["warnings"])


def test_each_change_makes_a_revision_and_writes_engine_json(api, settings, django_capture_on_commit_callbacks):
    from vtmadmin.services.revisions import revision_latest

    before = revision_latest().number
    with django_capture_on_commit_callbacks(execute=True):
        put(api, "pools/rev", {"properties": {"basic": {"nodes_table": [{"node": "127.0.0.1:8001"}]}}})
    after = revision_latest()
    assert after.number == before + 1
    engine = json.loads(settings.ENGINE_CONFIG.read_text())
    assert engine["revision"] == after.number
    assert engine["config"]["pools"]["rev"]["properties"]["basic"]["nodes_table"][0]["node"] == "127.0.0.1:8001"
    # defaults are filled for the engine
    assert engine["config"]["pools"]["rev"]["properties"]["load_balancing"]["algorithm"] == "round_robin"
    # an update that changes nothing makes no revision
    put(api, "pools/rev", {"properties": {"basic": {"nodes_table": [{"node": "127.0.0.1:8001"}]}}})
    assert revision_latest().number == after.number


def test_this_traffic_manager_cannot_be_deleted(api, settings):
    r = api.delete(f"{BASE}/traffic_managers/{settings.TM_NAME}")
    assert r.status_code == 403 and r.json()["error_id"] == "resource.protected"


def test_rule_that_does_not_compile_is_stored_and_its_errors_reported(api):
    text = 'if ($x == 1 {\n  http.setHeader("X");\n}\n'
    r = api.put(f"{BASE}/rules/broken", text, content_type="application/octet-stream")
    assert r.status_code == 201
    warnings = json.loads(r["X-Config-Warnings"])
    assert any("rules 'broken' line 1" in w for w in warnings)
    assert api.get(f"{BASE}/rules/broken").content.decode() == text
    report = api.get("/api/tm/8.3/status/local_tm/diagnose").json()["diagnose"]
    entry = next(e for e in report if e["name"] == "broken")
    assert any("column" in p for p in entry["problems"])


def test_rule_naming_a_pool_that_does_not_exist_is_diagnosed(api):
    api.put(f"{BASE}/rules/usepool", 'pool.use("nowhere");\n', content_type="application/octet-stream")
    report = api.get("/api/tm/8.3/status/local_tm/diagnose").json()["diagnose"]
    entry = next(e for e in report if e["name"] == "usepool")
    assert any("nowhere" in p for p in entry["problems"])
    put(api, "pools/nowhere", {"properties": {}})
    report = api.get("/api/tm/8.3/status/local_tm/diagnose").json()["diagnose"]
    assert not any(e["name"] == "usepool" for e in report)


def test_two_virtual_servers_on_one_port_are_stored_and_the_second_diagnosed(api):
    put(api, "virtual_servers/a", {"properties": {"basic": {"port": 8080, "pool": "discard", "enabled": True}}})
    r = put(api, "virtual_servers/b", {"properties": {"basic": {"port": 8080, "pool": "discard", "enabled": True}}})
    assert r.status_code == 201
    report = {e["name"]: e["problems"] for e in api.get("/api/tm/8.3/status/local_tm/diagnose").json()["diagnose"]}
    assert "a" not in report
    assert any("already used by virtual server 'a'" in p for p in report["b"])


def test_private_keys_are_stored_but_never_read_back(api, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = put(api, "ssl/server_keys/k", {"properties": {"basic": {"public": "PUB", "private": "SECRET-KEY"}}})
    assert r.json()["properties"]["basic"]["private"] == ""
    assert "SECRET-KEY" not in api.get(f"{BASE}/ssl/server_keys/k").content.decode()
    engine = json.loads(settings.ENGINE_CONFIG.read_text())
    assert engine["config"]["ssl_server_keys"]["k"]["properties"]["basic"]["private"] == "SECRET-KEY"
    put(api, "ssl/server_keys/k", {"properties": {"basic": {"note": "renewed"}}})  # an update keeps the key
    from virtualservers.models import SSLServerKey
    assert SSLServerKey.objects.get(name="k").properties["basic"]["private"] == "SECRET-KEY"


def test_config_object_put_can_leave_the_revision_to_its_caller(tm):
    from vtmadmin.models import ConfigRevision
    from vtmadmin.registry import TYPES
    from vtmadmin.services.config import config_object_put
    from vtmadmin.services.revisions import revision_record

    before = ConfigRevision.objects.order_by("-number").first().number
    config_object_put(otype=TYPES["pools"], name="quiet", value={"basic": {"nodes_table": []}}, record=False)
    assert TYPES["pools"].model.objects.filter(name="quiet").exists()
    assert ConfigRevision.objects.order_by("-number").first().number == before
    assert revision_record(reason="batch").number == before + 1
    config_object_put(otype=TYPES["pools"], name="loud", value={"basic": {"nodes_table": []}})
    assert ConfigRevision.objects.order_by("-number").first().number == before + 2
