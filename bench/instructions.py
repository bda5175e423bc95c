"""Machine instructions one proxied request costs, counted exactly by valgrind's callgrind: the guide for speed work
on a shared machine, where timings of a few percent drown in noise (bench/hotpath.py's setup, compiled modules).

    .venv/bin/python bench/instructions.py [--requests 2000] [--norule] [--close] [--top 25]
    .venv/bin/python bench/instructions.py --compare /tmp/base       # the same for another checkout, and the ratio
    .venv/bin/python bench/instructions.py --sockets [--l4]          # whole processes with real sockets, and HAProxy

Only the request work is counted (callgrind collects inside the two protocols' data_received), so start-up and the
set-up requests are not. Needs valgrind (.ci/install installs it; callgrind_annotate comes with it) and the
engine's compiled modules (python -m proxyengine.compile): the pure .py modules are counted in opcodes by
bench/hotpath.py --opcodes instead. Counts move by ~1% between runs (addresses, ports and clock-driven branches):
trust a difference of 2% or more.

--sockets counts differently: HAProxy (one thread) and our engine (one worker) each run whole under callgrind on
127.0.0.1, with the nginx back-end outside it, and wrk drives them (small keep-alive requests, 50 connections, or
the L4 virtual server with --l4). Every user-space instruction of the proxy's process between two moments (event
loop, uvloop, the interpreter, the kernel's share excluded) is divided by the requests wrk completed in between:
the one ratio to HAProxy that the machine's noise does not move. (Under valgrind a proxy runs ~50x slower, so its
event loop batches more events per wake-up than it would at full speed; the two are measured alike.)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# where callgrind collects: the request work, whichever protocol a request's bytes arrive on
TOGGLES = ("*HttpClientProtocol_*data_received", "*HttpNodeProtocol_*data_received")
WARMUP = 1000  # hotpath.build runs this many requests before returning; they are collected too


def driver(root: Path, requests: int, norule: bool, close: bool) -> None:
    """Inside valgrind: build the engine of ``root`` as hotpath.py does and run ``requests`` requests."""
    sys.path.insert(0, str(ROOT / "bench"))
    import hotpath
    import proxies

    d = Path(tempfile.mkdtemp())
    (d / "log").mkdir()
    cfg = proxies.engine_config(d, [proxies.free_port(), proxies.free_port()], 1, proxies.free_port(),
                                proxies.free_port())  # fmt: skip
    if norule:
        cfg["config"]["virtual_servers"]["web"]["properties"]["basic"]["request_rules"] = []
    path = d / "engine.json"
    path.write_text(json.dumps(cfg))
    mods = hotpath.load_engine(root)
    if not mods["http"].__file__.endswith(".so"):
        sys.exit(f"{root}: proxyengine.http is not compiled (python -m proxyengine.compile there)")
    loop = mods["worker"].new_event_loop()
    _, one = hotpath.build(mods, path, loop, close)
    gc.collect()
    gc.freeze()
    for _ in range(requests):
        one()
    shutil.rmtree(d, ignore_errors=True)


def count(root: Path, args, out: Path) -> float:
    """Instructions per request for the engine in ``root``; the profile is left in ``out``."""
    argv = ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out}"]
    argv += [f"--toggle-collect={t}" for t in TOGGLES]
    argv += [sys.executable, __file__, "--driver", str(root), "--requests", str(args.requests)]
    argv += ["--norule"] * args.norule + ["--close"] * args.close
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    m = re.search(r"Collected\s*:\s*(\d+)", proc.stderr) or re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if proc.returncode or m is None:
        sys.exit(f"valgrind failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return int(m[1].replace(",", "")) / (args.requests + WARMUP)


def _demangle(name: str) -> str:
    """Cython's C name of a function, ``11proxyengine_4http_18HttpClientProtocol__start``, as
    ``http.HttpClientProtocol._start`` (each part is prefixed with its length)."""
    parts = []
    while (m := re.match(r"(\d+)", name)) is not None:
        size = int(m[1])
        parts.append(name[len(m[1]) : len(m[1]) + size])
        name = name[len(m[1]) + size + 1 :]  # past the "_" that follows the part
    return ".".join(parts[1:] + [name])


def top(profile: Path, n: int, requests: int) -> None:
    """The engine's functions with the most instructions, inclusive of what they call, per request."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", str(profile)], capture_output=True,
                         text=True).stdout  # fmt: skip
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+\S*?:?__pyx_f_(\w+)", line)
        if m:
            rows.append((int(m[1].replace(",", "")) / requests, _demangle(m[2])))
    for value, name in rows[:n]:
        print(f"  {value:8.0f}  {name}")


def sockets(l4: bool, seconds: float) -> dict[str, float]:
    """User-space instructions per request of HAProxy's process and our worker, whole, with real sockets."""
    sys.path.insert(0, str(ROOT / "bench"))
    import proxies
    import run

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench") as tmp:
        work = Path(tmp)
        lua = work / "report.lua"
        lua.write_text(run.WRK_LUA)
        backend, nodes = proxies.start_backend(work)
        try:
            ha, ha_http, ha_tcp = proxies.start_haproxy(work, nodes)  # writes haproxy.cfg; run again under valgrind
            ha.stop()
            cfg = work / "engine.json"
            (work / "log").mkdir()
            cfg.write_text(json.dumps(proxies.engine_config(work, nodes, 1, proxies.free_port(), proxies.free_port())))
            engine = json.loads(cfg.read_text())["config"]["virtual_servers"]
            ours_http, ours_tcp = engine["web"]["properties"]["basic"]["port"], engine["l4"]["properties"]["basic"]["port"]
            targets = [
                ("haproxy", [proxies.tool("haproxy"), "-db", "-f", str(work / "haproxy.cfg")], ha_tcp if l4 else ha_http,
                 {}),
                ("ours", [sys.executable, "-m", "proxyengine", "--config", str(cfg)], ours_tcp if l4 else ours_http,
                 {"PYTHONPATH": str(ROOT)}),
            ]  # fmt: skip
            for name, argv, port, env in targets:
                prof = work / name
                prof.mkdir()
                proc = subprocess.Popen(
                    ["valgrind", "--tool=callgrind", "--trace-children=yes",
                     f"--callgrind-out-file={prof}/callgrind.out.%p", *argv],
                    env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )  # fmt: skip
                try:
                    proxies.wait_port(port, proc, timeout=180)
                    time.sleep(3)
                    run.run_wrk(port, "/small", 20, [], 3, lua)  # warm up
                    subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True)
                    for child in _children(proc.pid):
                        subprocess.run(["callgrind_control", "-z", str(child)], capture_output=True)
                    w = run.run_wrk(port, "/small", 50, [], seconds, lua)
                    for pid in [proc.pid, *_children(proc.pid)]:
                        subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True)
                finally:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(60)
                dumps = [int(m[1]) for f in prof.glob("callgrind.out.*.1")
                         if (m := re.search(r"^summary: (\d+)", f.read_text(errors="replace"), re.M))]  # fmt: skip
                # our master only waits while its worker serves: the worker is the process that did the work
                out[name] = max(dumps) / max(w["requests"], 1)
        finally:
            backend.stop()
    return out


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--norule", action="store_true", help="the virtual server without its routing rule")
    ap.add_argument("--close", action="store_true", help="a new client connection per request")
    ap.add_argument("--compare", default="", help="another checkout's root, counted the same way")
    ap.add_argument("--top", type=int, default=25, help="the engine's functions with the most instructions")
    ap.add_argument("--sockets", action="store_true", help="whole processes with real sockets, ours and HAProxy's")
    ap.add_argument("--l4", action="store_true", help="with --sockets: the L4 virtual servers")
    ap.add_argument("--seconds", type=float, default=15, help="with --sockets: how long wrk drives each")
    ap.add_argument("--driver", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.driver:
        driver(Path(args.driver), args.requests, args.norule, args.close)
        return 0
    if not shutil.which("valgrind"):
        print("needs valgrind: apt-get install valgrind", file=sys.stderr)
        return 2
    if args.sockets:
        counts = sockets(args.l4, args.seconds)
        what = "L4" if args.l4 else "small keep-alive, routing rule"
        print(f"{what}, real sockets: HAProxy {counts['haproxy']:,.0f}, ours {counts['ours']:,.0f} user-space "
              f"instructions per request; ours/HAProxy {counts['ours'] / counts['haproxy']:.2f}")  # fmt: skip
        return 0
    what = ("no rule" if args.norule else "routing rule") + (", connection per request" if args.close else "")
    with tempfile.TemporaryDirectory() as tmp:
        ours = count(ROOT, args, Path(tmp) / "ours.out")
        print(f"{what}: this tree: {ours:,.0f} instructions per request")
        top(Path(tmp) / "ours.out", args.top, args.requests + WARMUP)
        if args.compare:
            theirs = count(Path(args.compare).resolve(), args, Path(tmp) / "theirs.out")
            print(f"{what}: {args.compare}: {theirs:,.0f} instructions per request; this/other {ours / theirs:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
