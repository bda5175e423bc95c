"""Every Admin UI page renders for a logged-in administrator, and error pages are HTML (JSON under /api)."""

import pytest

PAGES = [
    "/", "/config/virtual-servers/", "/config/virtual-servers/add/", "/config/pools/", "/config/pools/add/",
    "/config/pools/discard/", "/config/pools/discard/edit/", "/config/rules/", "/config/rules/add/",
    "/config/monitors/", "/config/monitors/add/", "/config/monitors/Simple%20HTTP/",
    "/config/monitors/Simple%20HTTP/edit/", "/config/persistence/", "/config/persistence/add/",
    "/config/bandwidth/", "/config/bandwidth/add/", "/config/ssl-server-keys/", "/config/ssl-server-keys/add/",
    "/config/traffic-ip-groups/", "/config/traffic-ip-groups/add/", "/wizards/new-service/",
    "/activity/", "/activity/current/", "/system/", "/system/security/", "/system/licenses/", "/system/backups/",
    "/system/audit-log/", "/diagnose/",
]


@pytest.mark.parametrize("url", PAGES)
def test_page_renders(ui, url):
    response = ui.get(url)
    assert response.status_code == 200
    assert b"Manage a New Service" in response.content  # the Wizards menu is on every page
    assert b"<html" in response.content


def test_static_files_are_served_without_a_cdn(anon):
    for path in ("/static/vtmadmin/admin.css", "/static/vtmadmin/vendor/htmx-2.0.11/htmx.min.js",
                 "/static/vtmadmin/vendor/uplot-1.6.32/uPlot.iife.min.js"):
        response = anon.get(path)
        assert response.status_code == 200, path
        assert b"".join(response.streaming_content)
    assert anon.get("/static/vtmadmin/../../settings.py").status_code == 404
    page = anon.get("/login/").content.decode()
    assert "https://" not in page.split("<body")[0]  # nothing loaded from elsewhere


def test_ui_404_is_a_page_and_api_404_stays_json(ui):
    page = ui.get("/no/such/page/")
    assert page.status_code == 404 and b"There is no page at" in page.content
    api = ui.get("/api/tm/8.3/nothing-here/x/y/z")
    assert api.status_code == 404 and api["Content-Type"].startswith("application/json")
    assert ui.get("/config/pools/no-such-pool/").status_code == 404


def test_home_shows_this_traffic_manager_and_the_empty_state(ui):
    page = ui.get("/").content.decode()
    assert "tm1.test" in page and "21.4" in page
    assert 'id="empty-state"' in page and "not yet created any pools or virtual servers" in page
    assert "/wizards/new-service/" in page
    assert "engine is not running" in page


def test_home_lists_services_with_pools_and_traffic_state(ui, monkeypatch):
    from vtmadmin.registry import TYPES
    from vtmadmin.services.config import config_object_put

    config_object_put(otype=TYPES["pools"], name="web", value={"basic": {"nodes_table": [{"node": "10.0.0.1:80"}]}})
    config_object_put(otype=TYPES["virtual_servers"], name="site",
                      value={"basic": {"pool": "web", "port": 8080, "enabled": True}})
    config_object_put(otype=TYPES["virtual_servers"], name="blocked",
                      value={"basic": {"pool": "web", "port": 8081, "enabled": True}})
    replies = {
        "stats": {"ok": True, "per_second": [], "statistics": {"virtual_servers": {
            "site": {"state": "running", "current_conn": 3, "total_conn": 41}, "blocked": {"state": "stopped"}}}},
        "recent_connections": {"ok": True, "connections": []},
        "health": {"ok": True, "virtual_servers": {"blocked": {"running": False,
                                                               "reason": "cannot listen on *:8081: Address in use"}}},
    }
    monkeypatch.setattr("vtmadmin.services.ui_status.engine_control", lambda cmd, timeout=2.0: replies[cmd["cmd"]])
    page = ui.get("/").content.decode()
    assert 'id="empty-state"' not in page
    assert "site" in page and "10.0.0.1:80" in page and "traffic flowing" in page and "41" in page
    assert "cannot listen on *:8081: Address in use" in page


def test_home_says_traffic_flows_after_a_recent_connection(ui, monkeypatch):
    import time

    from vtmadmin.registry import TYPES
    from vtmadmin.services.config import config_object_put

    config_object_put(otype=TYPES["pools"], name="web", value={})
    for name in ("busy", "quiet"):
        config_object_put(otype=TYPES["virtual_servers"], name=name,
                          value={"basic": {"pool": "web", "port": 80, "enabled": True}})
    running = {"state": "running", "current_conn": 0, "total_conn": 5}
    replies = {
        "stats": {"ok": True, "statistics": {"virtual_servers": {"busy": running, "quiet": running}}},
        "recent_connections": {"ok": True, "connections": [{"time": time.time() - 5, "virtual_server": "busy"}]},
        "health": {"ok": True, "virtual_servers": {}},
    }
    monkeypatch.setattr("vtmadmin.services.ui_status.engine_control", lambda cmd, timeout=2.0: replies[cmd["cmd"]])
    rows = ui.get("/").content.decode().split("<tr>")
    assert "traffic flowing" in next(r for r in rows if ">busy<" in r)
    assert "no traffic in the last minute" in next(r for r in rows if ">quiet<" in r)


def test_ui_500_is_a_page(ui, monkeypatch):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr("vtmadmin.views.traffic_managers", broken)
    ui.raise_request_exception = False
    response = ui.get("/")
    assert response.status_code == 500 and b"Something went wrong" in response.content
