"""The Community Edition's bandwidth cap, measured through a whole traffic manager."""

import json
import socket
import time
import urllib.request

import pytest

from tests.integration.nodes import Node, free_port, wait_until


@pytest.fixture
def node(tmp_path):
    n = Node(tmp_path / "zeus")
    yield n
    n.manage("stop_tm", check=False)


@pytest.fixture
def big_backend():
    """A back-end serving 6 MB, to measure bandwidth through the engine."""
    import http.server
    import threading

    payload = b"x" * 6_000_000

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], len(payload)
    server.shutdown()


@pytest.mark.timeout(180)
def test_community_edition_caps_bandwidth_at_10_mbit(node, big_backend):
    """No license key: a large download through a virtual server runs at 10 Mb/s (± 10%)."""
    backend_port, size = big_backend
    node.env.pop("VTM_BANDWIDTH_LIMIT_KBPS", None)
    node.manage("start_tm")
    assert wait_until(lambda: node.request("GET", "/api/tm/")[0] == 200)
    status, body = node.request("GET", "/api/tm/8.3/status/local_tm/license")
    assert json.loads(body)["license"]["bandwidth_limit_kbps"] == 10_000
    port = free_port()
    pool = {"properties": {"basic": {"nodes_table": [{"node": f"127.0.0.1:{backend_port}"}]}}}
    node.request("PUT", "/api/tm/8.3/config/active/pools/big", json.dumps(pool).encode())
    vs = {"properties": {"basic": {"enabled": True, "port": port, "pool": "big", "listen_on_any": False,
                                   "listen_on_hosts": ["127.0.0.1"]}}}
    node.request("PUT", "/api/tm/8.3/config/active/virtual_servers/big", json.dumps(vs).encode())

    def reachable():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    assert wait_until(reachable, timeout=30)
    # Measured between the 0.5 MB and 5.5 MB marks: the bucket's short initial burst, and the last block the
    # engine forwards before pausing, do not count.
    got, marks = 0, {}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as r:
        while chunk := r.read(65536):
            got += len(chunk)
            for mark in (512 * 1024, size - 512 * 1024):
                if mark not in marks and got >= mark:
                    marks[mark] = (got, time.monotonic())
    assert got == size
    (b1, t1), (b2, t2) = marks[512 * 1024], marks[size - 512 * 1024]
    rate_kbit = (b2 - b1) * 8 / 1000 / (t2 - t1)
    assert 9_000 <= rate_kbit <= 11_000, f"{rate_kbit:.0f} kbit/s"
