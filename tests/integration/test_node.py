"""A whole traffic manager started as a user starts it: redis-server, a real Celery worker,
gunicorn over HTTPS; a REST change reaches engine.json through the worker."""

import json
import urllib.request

import pytest

from tests.integration.nodes import Node, free_port, wait_until


@pytest.fixture
def node(tmp_path):
    n = Node(tmp_path / "zeus")
    yield n
    n.manage("stop_tm", check=False)


@pytest.mark.timeout(180)
def test_start_change_and_see_it_reach_engine_json(node):
    out = node.manage("start_tm").stdout
    assert f"https://127.0.0.1:{node.admin_port}/" in out
    assert "password:" in out and node.password in out
    assert oct((node.home / "admin" / "etc" / "admin.password").stat().st_mode & 0o777) == "0o600"
    assert wait_until(lambda: node.request("GET", "/api/tm/")[0] == 200), (node.home / "log" / "admin.log").read_text()

    # wrong password over real HTTPS
    status, body = node.request("GET", "/api/tm/8.3/config/active/pools/", password="wrong")
    assert status == 401 and json.loads(body)["error_id"] == "auth.invalid"
    # doubled slashes reach the API as they do on vTM
    assert node.request("GET", "//api//tm//8.3//config//active//pools")[0] == 200

    body = json.dumps({"properties": {"basic": {"nodes_table": [{"node": "127.0.0.1:8081"}]}}}).encode()
    status, _ = node.request("PUT", "/api/tm/8.3/config/active/pools/itest", body)
    assert status == 201
    engine_json = node.home / "zxtm" / "conf" / "engine.json"

    def pushed():
        try:
            return "itest" in json.loads(engine_json.read_text())["config"]["pools"]
        except (OSError, ValueError, KeyError):
            return False

    assert wait_until(pushed), "the change never reached engine.json"
    worker_log = (node.home / "log" / "worker.log").read_text()
    assert wait_until(lambda: "push_revision" in (node.home / "log" / "worker.log").read_text()), worker_log

    # running the start command again changes nothing and breaks nothing
    again = node.manage("start_tm").stdout
    assert "already running" in again
    assert "password:" not in again  # the generated password is printed once
    assert node.request("GET", "/api/tm/8.3/config/active/pools/itest")[0] == 200


@pytest.fixture
def backend():
    """A small HTTP server on 127.0.0.1 that names itself in its answers."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"hello from the backend\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


@pytest.mark.timeout(180)
def test_a_service_configured_over_rest_answers_and_shows_statistics(node, backend):
    node.env["VTM_BANDWIDTH_LIMIT_KBPS"] = "0"
    node.manage("start_tm")
    assert wait_until(lambda: node.request("GET", "/api/tm/")[0] == 200)
    port = free_port()
    pool = {"properties": {"basic": {"nodes_table": [{"node": f"127.0.0.1:{backend}"}]}}}
    assert node.request("PUT", "/api/tm/8.3/config/active/pools/svc", json.dumps(pool).encode())[0] == 201
    vs = {"properties": {"basic": {"enabled": True, "port": port, "pool": "svc", "protocol": "http",
                                   "listen_on_any": False, "listen_on_hosts": ["127.0.0.1"]}}}
    assert node.request("PUT", "/api/tm/8.3/config/active/virtual_servers/svc", json.dumps(vs).encode())[0] == 201

    def served():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                return r.read() == b"hello from the backend\n"
        except OSError:
            return False

    assert wait_until(served, timeout=30), (node.home / "log" / "engine.log").read_text()[-2000:]
    status, body = node.request("GET", "/api/tm/8.3/status/local_tm/statistics/virtual_servers/svc")
    assert status == 200, body
    assert json.loads(body)["statistics"]["total_requests"] >= 1
    status, body = node.request("GET", "/api/tm/8.3/status/local_tm/statistics/pools/")
    assert "svc" in [c["name"] for c in json.loads(body)["children"]]
    status, body = node.request("GET", "/api/tm/8.3/status/local_tm/statistics?format=prometheus")
    assert status == 200 and b"svc" in body
