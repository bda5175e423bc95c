"""Configuration pages: list, view, create, edit, delete with confirmation, errors next to fields."""

import re

from vtmadmin.models import ConfigRevision
from vtmadmin.registry import TYPES
from vtmadmin.services.certificates import self_signed_certificate
from vtmadmin.services.config import config_object_put

POOLS, VSS, RULES = TYPES["pools"].model, TYPES["virtual_servers"].model, TYPES["rules"].model


def nodes_form(rows, extra=0, **fields):
    data = {"nodes-TOTAL_FORMS": len(rows) + extra, "nodes-INITIAL_FORMS": 0, "algorithm": "round_robin", **fields}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"nodes-{i}-{key}"] = value
    return data


def test_create_pool_with_nodes_table(ui):
    data = nodes_form([{"node": "10.0.0.1:80", "state": "active", "weight": 2, "priority": 1},
                       {"node": "10.0.0.2:80", "state": "draining", "weight": 1, "priority": 2}], extra=1,
                      name="web", monitors=["Ping"], algorithm="least_connections")
    response = ui.post("/config/pools/add/", data, follow=True)
    assert response.redirect_chain[-1][0] == "/config/pools/web/"
    assert b"Created pool" in response.content
    stored = POOLS.objects.get(name="web").properties
    assert stored["basic"]["nodes_table"] == [
        {"node": "10.0.0.1:80", "state": "active", "weight": 2, "priority": 1},
        {"node": "10.0.0.2:80", "state": "draining", "weight": 1, "priority": 2},
    ]
    assert stored["basic"]["monitors"] == ["Ping"] and stored["load_balancing"]["algorithm"] == "least_connections"
    assert "note" not in stored["basic"]  # only values that were set are stored
    page = response.content.decode()
    assert "10.0.0.2:80" in page and "draining" in page
    assert "admin created pools &#x27;web&#x27; (Admin UI)" in ui.get("/system/audit-log/").content.decode()


def test_edit_pool_drains_adds_and_removes_nodes(ui):
    config_object_put(otype=TYPES["pools"], name="web", value={"basic": {"nodes_table": [
        {"node": "10.0.0.1:80"}, {"node": "10.0.0.2:80"}]}})
    page = ui.get("/config/pools/web/edit/").content.decode()
    assert 'value="10.0.0.1:80"' in page and 'name="nodes-0-DELETE"' in page
    data = nodes_form([{"node": "10.0.0.1:80", "state": "draining", "weight": 1, "priority": 1},
                       {"node": "10.0.0.2:80", "state": "active", "weight": 1, "priority": 1, "DELETE": "on"},
                       {"node": "10.0.0.3:8080", "state": "active", "weight": 5, "priority": 1}])
    response = ui.post("/config/pools/web/edit/", data)
    assert response.status_code == 302
    assert [(r["node"], r["state"]) for r in POOLS.objects.get(name="web").properties["basic"]["nodes_table"]] == [
        ("10.0.0.1:80", "draining"), ("10.0.0.3:8080", "active")]


def test_pool_errors_shown_next_to_the_row_and_nothing_saved(ui):
    config_object_put(otype=TYPES["pools"], name="web", value={"basic": {"nodes_table": [{"node": "10.0.0.1:80"}]}})
    revisions = ConfigRevision.objects.count()
    data = nodes_form([{"node": "10.0.0.1:80", "state": "active", "weight": 1, "priority": 1},
                       {"node": "not a node", "state": "active", "weight": 500, "priority": 1}])
    response = ui.post("/config/pools/web/edit/", data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved" in page or "Nodes:" in page
    row = re.search(r'value="not a node".*?</td>', page, re.S).group(0)
    assert "is not of the form" in row  # the message sits in that row's cell
    assert POOLS.objects.get(name="web").properties["basic"]["nodes_table"] == [{"node": "10.0.0.1:80"}]
    assert ConfigRevision.objects.count() == revisions


def test_weight_out_of_range_is_shown_at_the_weight(ui):
    data = nodes_form([{"node": "10.0.0.1:80", "state": "active", "weight": 500, "priority": 1}], name="p")
    response = ui.post("/config/pools/add/", data)
    assert response.status_code == 400
    assert "500 is out of range, it must be from 1 to 100" in response.content.decode()
    assert not POOLS.objects.filter(name="p").exists()


def test_virtual_server_form_errors_next_to_fields(ui):
    config_object_put(otype=TYPES["pools"], name="web", value={})
    response = ui.post("/config/virtual-servers/add/", {"name": "site", "protocol": "http", "port": 0, "pool": ""})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Choose the pool this virtual server sends traffic to" in page
    response = ui.post("/config/virtual-servers/add/", {"name": "site", "protocol": "http", "port": 123456,
                                                         "pool": "web"})
    page = response.content.decode()
    field = re.search(r"<div class=\"field[^\"]*\">\s*<label for=\"id_port\".*?</div>\s*</div>", page, re.S).group(0)
    assert "123456 is out of range, it must be from 1 to 65535" in field
    assert not VSS.objects.exists()


def test_virtual_server_create_view_edit(ui):
    config_object_put(otype=TYPES["pools"], name="web", value={})
    config_object_put(otype=TYPES["rules"], name="tag", value='http.setHeader("X-A", "1");')
    response = ui.post("/config/virtual-servers/add/", {"name": "site", "protocol": "http", "port": 8080,
                                                         "pool": "web", "enabled": "on", "listen_on_any": "on",
                                                         "request_rules": ["tag"]})
    assert response.status_code == 302
    assert VSS.objects.get(name="site").properties["basic"]["request_rules"] == ["tag"]
    page = ui.get("/config/virtual-servers/site/").content.decode()
    assert "8080" in page and "tag" in page and "The traffic engine is not running." in page
    ui.post("/config/virtual-servers/site/edit/", {"protocol": "http", "port": 9000, "pool": "web",
                                                   "listen_on_any": "on"})
    basic = VSS.objects.get(name="site").properties["basic"]
    assert basic["port"] == 9000 and basic["enabled"] is False
    assert "site" in ui.get("/config/virtual-servers/").content.decode()


def test_delete_confirmation_names_dependents(ui):
    config_object_put(otype=TYPES["pools"], name="web", value={})
    config_object_put(otype=TYPES["virtual_servers"], name="site", value={"basic": {"pool": "web", "port": 80}})
    page = ui.get("/config/pools/web/delete/").content.decode()
    assert "cannot be deleted" in page and "virtual_servers &#x27;site&#x27;" in page
    assert 'type="submit" class="danger"' not in page
    response = ui.post("/config/pools/web/delete/")
    assert response.status_code == 409 and POOLS.objects.filter(name="web").exists()
    # once nothing uses it, the page asks, and deleting works
    ui.post("/config/virtual-servers/site/delete/")
    assert "Nothing else uses this pool" in ui.get("/config/pools/web/delete/").content.decode()
    response = ui.post("/config/pools/web/delete/", follow=True)
    assert b"Deleted pool" in response.content and not POOLS.objects.filter(name="web").exists()


def test_built_in_objects_cannot_be_deleted(ui):
    page = ui.get("/config/pools/discard/delete/").content.decode()
    assert "is built in and cannot be deleted" in page and 'class="danger"' not in page
    response = ui.post("/config/pools/discard/delete/", follow=True)
    assert b"built in and cannot be deleted" in response.content
    assert POOLS.objects.filter(name="discard").exists()


def test_rule_editor_shows_errors_at_their_lines_and_asks_before_saving(ui):
    page = ui.get("/config/rules/add/").content.decode()
    assert 'class="editor"' in page and "editor.js" in page
    bad = 'http.setHeader("X-A", "1");\n$x = ;\n'
    response = ui.post("/config/rules/add/", {"name": "broken", "text": bad})
    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(r"Line 2, column \d+", page)
    assert 'data-error-lines="2 "' in page
    assert 'name="save_with_errors"' in page
    assert not RULES.objects.filter(name="broken").exists()
    response = ui.post("/config/rules/add/", {"name": "broken", "text": bad, "save_with_errors": "on"}, follow=True)
    assert RULES.objects.get(name="broken").text == bad
    page = response.content.decode()
    assert "It has problems, listed below." in page and re.search(r"Line 2, column \d+", page)
    view = ui.get("/config/rules/broken/").content.decode()
    assert 'class="error-line"' in view


def test_rule_without_errors_saves(ui):
    response = ui.post("/config/rules/add/", {"name": "ok", "text": 'http.setHeader("X-A", "1");'})
    assert response.status_code == 302 and RULES.objects.get(name="ok").text == 'http.setHeader("X-A", "1");'
    ui.post("/config/rules/ok/edit/", {"text": 'http.removeHeader("X-B");'})
    assert RULES.objects.get(name="ok").text == 'http.removeHeader("X-B");'


def test_ssl_certificate_generate_and_import(ui):
    response = ui.post("/config/ssl-server-keys/add/", {"name": "gen", "generate": "on",
                                                         "common_name": "www.example.com"}, follow=True)
    page = response.content.decode()
    assert "CN=www.example.com" in page and "SHA-256 fingerprint" in page and "self-signed" in page
    assert "BEGIN PRIVATE KEY" not in page  # the key never goes back to the browser
    cert, key = self_signed_certificate(common_name="imported.example.com")
    response = ui.post("/config/ssl-server-keys/add/", {"name": "imp", "public": cert.decode(),
                                                         "private": key.decode()})
    assert response.status_code == 302
    stored = TYPES["ssl/server_keys"].model.objects.get(name="imp").properties["basic"]
    assert stored["private"] == key.decode().strip()
    # editing the note keeps the key
    ui.post("/config/ssl-server-keys/imp/edit/", {"note": "hello", "public": cert.decode(), "private": ""})
    stored = TYPES["ssl/server_keys"].model.objects.get(name="imp").properties["basic"]
    assert stored["private"] == key.decode().strip() and stored["note"] == "hello"


def test_ssl_certificate_that_does_not_parse_is_refused(ui):
    response = ui.post("/config/ssl-server-keys/add/", {"name": "junk", "public": "not a cert", "private": "nope"})
    assert response.status_code == 400 and b"does not parse" in response.content
    assert not TYPES["ssl/server_keys"].model.objects.filter(name="junk").exists()


def test_monitor_persistence_bandwidth_and_traffic_ip_group(ui):
    assert ui.post("/config/monitors/add/", {"name": "hc", "type": "http", "delay": 5, "timeout": 2,
                                             "failures": 3, "http_path": "/health"}).status_code == 302
    assert TYPES["monitors"].model.objects.get(name="hc").properties["http"] == {"path": "/health"}
    assert ui.post("/config/persistence/add/", {"name": "sticky", "type": "cookie", "cookie": "JSESSIONID",
                                                "failure_mode": "new_node"}).status_code == 302
    assert ui.post("/config/bandwidth/add/", {"name": "slow", "maximum": 500, "sharing": "cluster"}).status_code == 302
    response = ui.post("/config/bandwidth/add/", {"name": "bad", "maximum": "lots", "sharing": "cluster"})
    assert response.status_code == 400 and b"Enter a whole number" in response.content
    assert ui.post("/config/traffic-ip-groups/add/", {"name": "front", "enabled": "on", "ipaddresses": "10.9.0.1\n10.9.0.2",
                                                      "machines": ["tm1.test"], "mode": "singlehosted"}).status_code == 302
    tip = TYPES["traffic_ip_groups"].model.objects.get(name="front").properties["basic"]
    assert tip["ipaddresses"] == ["10.9.0.1", "10.9.0.2"] and tip["machines"] == ["tm1.test"]
    for url in ("/config/monitors/hc/", "/config/persistence/sticky/", "/config/bandwidth/slow/",
                "/config/traffic-ip-groups/front/"):
        assert ui.get(url).status_code == 200


def test_duplicate_name_is_refused(ui):
    config_object_put(otype=TYPES["bandwidth"], name="slow", value={})
    response = ui.post("/config/bandwidth/add/", {"name": "slow", "maximum": 5, "sharing": "cluster"})
    assert response.status_code == 400 and b"already exists" in response.content


def test_virtual_server_page_says_when_its_rules_are_remembered(ui, monkeypatch):
    from vtmadmin.services import ui_status

    config_object_put(otype=TYPES["pools"], name="web", value={})
    ui.post("/config/virtual-servers/add/", {"name": "site", "protocol": "http", "port": 8080, "pool": "web",
                                             "enabled": "on", "listen_on_any": "on"})  # fmt: skip
    for memo in (True, False):
        health = {"virtual_servers": {"site": {"running": True, "reason": "", "route_memo": memo}}}
        monkeypatch.setattr(ui_status, "engine_query", lambda command, health=health, **kw: health)
        page = ui.get("/config/virtual-servers/site/").content.decode()
        assert "running" in page
        assert ("runs them once for each distinct request" in page) is memo
