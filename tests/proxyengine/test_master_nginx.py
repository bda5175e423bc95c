"""The real process: `python -m proxyengine` with two workers in front of a real nginx, driven over the
control socket; reloads under a bounded load with zero failed requests; SIGTERM stops it cleanly."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import Client, engine_json, free_port, pool, vserver

from proxyengine.control import request

pytestmark = pytest.mark.timeout(120)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def nginx(tmp_path):
    port = free_port()
    d = tmp_path / "nginx"
    d.mkdir()
    (d / "conf").write_text(f"""
daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 512; }}
http {{
  access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi; keepalive_requests 100000;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "nginx\\n"; }} }}
}}
""")
    proc = subprocess.Popen(["/usr/sbin/nginx", "-p", str(d), "-c", str(d / "conf")])
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            import socket

            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)


def _wait_socket(path, proc, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "engine exited"
        if os.path.exists(path):
            try:
                if request(path, {"cmd": "ping"}, 2)["ok"]:
                    return
            except OSError:
                pass
        time.sleep(0.05)
    raise AssertionError("control socket never came up")


async def _load(port, stop_at, max_requests, conns=4):
    ok = failed = 0

    async def one():
        nonlocal ok, failed
        c = await Client(port).connect()
        while time.monotonic() < stop_at and ok + failed < max_requests:
            try:
                r = await c.request("/", timeout=5)
                if r.status == 200 and r.body == b"nginx\n":
                    ok += 1
                else:
                    failed += 1
                if not r.keep_alive or r.headers.get("connection") == "close":
                    await c.close()
                    c = await Client(port).connect()
            except (TimeoutError, OSError):
                failed += 1
                await c.close()
                c = await Client(port).connect()
        await c.close()

    await asyncio.gather(*(one() for _ in range(conns)))
    return ok, failed


def test_engine_process_with_nginx_reload_under_load_and_sigterm(tmp_path, nginx):
    port, port2 = free_port(), free_port()
    cfg_path = tmp_path / "engine.json"
    ctl = str(tmp_path / "run" / "engine.sock")

    def doc(rev, second=False):
        vss = {"web": vserver(port)}
        if second:
            vss["second"] = vserver(port2)
        return engine_json(tmp_path, revision=rev, pools={"web": pool([f"127.0.0.1:{nginx}"])},
                           virtual_servers=vss)

    cfg_path.write_text(json.dumps(doc(1)))
    proc = subprocess.Popen([sys.executable, "-m", "proxyengine", "--config", str(cfg_path), "--workers", "2"],
                            cwd=ROOT)
    try:
        _wait_socket(ctl, proc)
        ping = request(ctl, {"cmd": "ping"})
        assert len(ping["workers"]) == 2
        # root (CI) loads the eBPF program that deals new connections to the workers in turn
        assert ping["connections_spread"] == "in turn" if os.geteuid() == 0 else "hash" in ping["connections_spread"]
        # cpu_affinity auto: each worker bound to a CPU of its own (when there are two)
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2:
            assert ping["worker_cpus"] == cpus[:2]
            assert [os.sched_getaffinity(pid) for pid in ping["workers"]] == [{cpus[0]}, {cpus[1]}]

        async def scenario():
            load = asyncio.create_task(_load(port, time.monotonic() + 8, 3000))
            results = []
            for i in range(6):
                await asyncio.sleep(0.3)
                if i == 3:
                    cfg_path.write_text("{broken")
                else:
                    cfg_path.write_text(json.dumps(doc(10 + i, second=i % 2 == 0)))
                results.append(await asyncio.to_thread(request, ctl, {"cmd": "reload"}))
            ok, failed = await load
            return results, ok, failed

        results, ok, failed = asyncio.run(scenario())
        print(f"requests ok={ok} failed={failed} reloads={len(results)}")
        assert failed == 0 and ok > 100
        assert [r["ok"] for r in results] == [True, True, True, False, True, True]
        assert "not valid JSON" in results[3]["error"]
        assert request(ctl, {"cmd": "ping"})["revision"] == 15

        stats = request(ctl, {"cmd": "stats"})["statistics"]
        assert stats["virtual_servers"]["web"]["total_requests"] >= ok
        node = stats["nodes"]["node"][f"127.0.0.1:{nginx}"]
        assert node["state"] == "alive" and node["new_conn"] < node["total_conn"] / 10  # keep-alive reuse
        assert "vtm_virtual_server_total_requests" in request(ctl, {"cmd": "stats", "format": "prometheus"})["text"]
        csv = request(ctl, {"cmd": "stats", "format": "csv"})["text"]
        assert csv.startswith("# pxname,svname") and "web,FRONTEND" in csv
        recent = request(ctl, {"cmd": "recent_connections", "limit": 5})["connections"]
        assert len(recent) == 5 and recent[0]["virtual_server"] == "web"
        assert recent[0]["node"] == f"127.0.0.1:{nginx}" and recent[0]["pool"] == "web"
        drained = request(ctl, {"cmd": "node_state", "pool": "web", "node": f"127.0.0.1:{nginx}",
                                "state": "disabled"})
        assert drained == {"ok": True, "pool": "web", "node": f"127.0.0.1:{nginx}", "state": "disabled"}
        r = asyncio.run(_one(port))
        assert r == 503
        health = request(ctl, {"cmd": "health"})
        assert health["pools"]["web"]["nodes"][f"127.0.0.1:{nginx}"]["config_state"] == "disabled"
        events = request(ctl, {"cmd": "events"})["events"]
        assert any("reload refused" in e["message"] for e in events)
        # a killed worker is replaced
        victim = request(ctl, {"cmd": "ping"})["workers"][1]
        os.kill(victim, signal.SIGKILL)
        deadline = time.time() + 5
        while time.time() < deadline:
            ws = request(ctl, {"cmd": "ping"})["workers"]
            if victim not in ws and len(ws) == 2:
                break
            time.sleep(0.1)
        assert victim not in ws and len(ws) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    assert not os.path.exists(ctl)


async def _one(port):
    c = await Client(port).connect()
    r = await c.request("/")
    await c.close()
    return r.status
