"""Activity: the Connections tab and the Current Activity graph, with the engine absent and with its data injected."""

import json

import pytest

CONNECTIONS = [
    {"id": 2, "time": 1764068000.25, "virtual_server": "web", "pool": "web", "node": "10.0.0.1:80",
     "client": "192.0.2.7:50001", "method": "GET", "url": "/shop/cart", "status": 200, "bytes_in": 120,
     "bytes_out": 5300, "duration_ms": 3.2},
    {"id": 1, "time": 1764067999.5, "virtual_server": "api", "pool": "api", "node": "10.0.0.2:8080",
     "client": "198.51.100.9:40000", "method": "POST", "url": "/v1/orders", "status": 503, "bytes_in": 900,
     "bytes_out": 80, "duration_ms": 12.0},
]


@pytest.fixture
def engine(monkeypatch):
    """The engine's control socket, answering what tests put in `replies`."""
    replies = {}
    seen = []

    def control(command, timeout=2.0):
        seen.append(command)
        if command["cmd"] not in replies:
            return {"ok": False, "error": "unknown command"}
        return {"ok": True, **replies[command["cmd"]]}

    monkeypatch.setattr("vtmadmin.services.ui_status.engine_control", control)
    replies["seen"] = seen
    return replies


def test_connections_when_the_engine_is_not_running(ui):
    page = ui.get("/activity/").content.decode()
    assert "The traffic engine is not running" in page
    rows = ui.get("/activity/connections/rows/").content.decode()
    assert 'id="engine-state"' in rows


def test_connections_lists_recent_connections(ui, engine):
    engine["recent_connections"] = {"connections": CONNECTIONS}
    page = ui.get("/activity/").content.decode()
    for text in ("192.0.2.7:50001", "10.0.0.1:80", "GET /shop/cart", "5300", "3.2 ms", "198.51.100.9:40000", "503"):
        assert text in page
    assert 'hx-trigger="every 3s"' in page and "X-Poll" in page  # refreshes itself without keeping the session alive


@pytest.mark.parametrize("query,shown,hidden", [
    ({"virtual_server": "api"}, "/v1/orders", "/shop/cart"),
    ({"status": "5"}, "/v1/orders", "/shop/cart"),
    ({"text": "cart"}, "/shop/cart", "/v1/orders"),
    ({"pool": "web"}, "/shop/cart", "/v1/orders"),
])
def test_connections_filter(ui, engine, query, shown, hidden):
    engine["recent_connections"] = {"connections": CONNECTIONS}
    rows = ui.get("/activity/connections/rows/", query).content.decode()
    assert shown in rows and hidden not in rows


def test_connections_empty_list_explains_itself(ui, engine):
    engine["recent_connections"] = {"connections": []}
    assert "reload pages from a site" in ui.get("/activity/connections/rows/").content.decode()


def test_current_activity_page_ships_the_chart_library(ui):
    page = ui.get("/activity/current/").content.decode()
    assert "/static/vtmadmin/vendor/uplot-1.6.32/uPlot.iife.min.js" in page and "activity.js" in page
    assert 'data-src="/activity/current/data/"' in page


def test_current_activity_data(ui, engine):
    assert json.loads(ui.get("/activity/current/data/").content)["engine_running"] is False
    engine["stats"] = {"statistics": {"virtual_servers": {"web": {"bytes_in": 10, "bytes_out": 990, "total_conn": 4,
                                                                  "current_conn": 1, "port": 80}}},
                       "per_second": [{"time": 100, "requests": 3, "conns": 2, "bytes_in": 5, "bytes_out": 50}]}
    data = json.loads(ui.get("/activity/current/data/", HTTP_X_POLL="1").content)
    assert data["engine_running"] is True
    assert data["per_second"][0]["conns"] == 2
    assert data["virtual_servers"]["web"] == {"bytes_in": 10, "bytes_out": 990, "total_conn": 4, "current_conn": 1}


def test_pool_page_shows_node_health_from_the_engine(ui, engine):
    from vtmadmin.registry import TYPES
    from vtmadmin.services.config import config_object_put

    config_object_put(otype=TYPES["pools"], name="web", value={"basic": {"nodes_table": [
        {"node": "10.0.0.1:80"}, {"node": "10.0.0.2:80", "state": "draining"}]}})
    page = ui.get("/config/pools/web/").content.decode()
    assert "node health is unknown" in page and "draining" in page
    engine["health"] = {"pools": {"web": {"nodes": {"10.0.0.1:80": {"state": "alive"}, "10.0.0.2:80": {"state": "dead"}}}}}
    page = ui.get("/config/pools/web/").content.decode()
    assert "node health is unknown" not in page and "alive" in page and "dead" in page


def test_diagnose_lists_problems_and_engine_events(ui, engine):
    from vtmadmin.registry import TYPES
    from vtmadmin.services.config import config_object_put

    page = ui.get("/diagnose/").content.decode()
    assert "No problems" in page
    config_object_put(otype=TYPES["virtual_servers"], name="site", value={"basic": {"pool": "missing", "port": 80}})
    engine["events"] = {"events": [{"time": 1764068000, "level": "warn", "object": "virtual_servers/site",
                                    "message": "pool 'missing' does not exist; not started"}]}
    page = ui.get("/diagnose/").content.decode()
    assert "names pools &#x27;missing&#x27;, which does not exist" in page
    assert 'href="/config/virtual-servers/site/"' in page
    assert "not started" in page and "virtual_servers/site" in page


def test_diagnose_without_the_engine(ui):
    assert "no events to show" in ui.get("/diagnose/").content.decode()
