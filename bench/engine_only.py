"""A quick engine-only measurement for optimisation work: the back-end, HAProxy and our engine (one process,
``--no-fork``) with bench/run.py's configuration, and optionally the same engine without its rule (the floor).

    .venv/bin/python bench/engine_only.py [--rounds 3] [--seconds 5] [--case small] [--passthrough]
    .venv/bin/python bench/engine_only.py --profile out.prof     # cProfile the engine while the load runs
    .venv/bin/python bench/engine_only.py --pyspy out.txt        # py-spy (if installed) while the load runs
    .venv/bin/python bench/engine_only.py --compare /tmp/base    # A/B: an engine from another checkout too
    .venv/bin/python bench/engine_only.py --compare /tmp/base --pin   # the same, proxies pinned to one CPU

Prints, per round, req/s and CPU µs per request for each target and ours/HAProxy ratios; then medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import proxies  # noqa: E402
import run  # noqa: E402

CASES = {"small": "small keep-alive 50c", "big": "100 KB keep-alive 50c", "close": "small conn-per-request 50c",
         "l4": "L4 TCP small 50c", "small200": "small keep-alive 200c"}  # fmt: skip


def start(work: Path, nodes: list[int], name: str, rule: bool, profile: str = "",
          root: Path = proxies.ROOT) -> tuple[proxies.Proc, int, int]:
    d = work / name
    (d / "log").mkdir(parents=True)
    http_port, tcp_port = proxies.free_port(), proxies.free_port()
    cfg = proxies.engine_config(d, nodes, 1, http_port, tcp_port)
    if not rule:
        cfg["config"]["virtual_servers"]["web"]["properties"]["basic"]["request_rules"] = []
    path = d / "engine.json"
    path.write_text(json.dumps(cfg, indent=1))
    env = {**os.environ, "PYTHONPATH": str(root)}
    argv = [sys.executable]
    if profile:
        argv += ["-m", "cProfile", "-o", profile]
    argv += ["-m", "proxyengine", "--no-fork", "--config", str(path)]
    # run from ``root``: ``python -m`` puts the working directory first on sys.path, before PYTHONPATH (without
    # this an A/B with --compare ran this checkout's engine twice)
    proc = proxies.Proc(name, argv, http_port, work, env, cwd=root)
    proxies.wait_port(tcp_port, proc.proc)
    return proc, http_port, tcp_port


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--case", default="small", choices=sorted(CASES))
    ap.add_argument("--passthrough", action="store_true", help="also our engine without the routing rule")
    ap.add_argument("--no-haproxy", action="store_true")
    ap.add_argument("--compare", default="", help="also an engine run from another checkout's root (A/B)")
    ap.add_argument("--profile", default="", help="cProfile output file (only our engine, one round)")
    ap.add_argument("--pyspy", default="", help="py-spy flame/raw output (only our engine, one round)")
    ap.add_argument("--attach", default="", help="a command run during the load, {pid} replaced (e.g. strace -c)")
    ap.add_argument("--pin", action="store_true", help="the proxies on the last CPU, wrk and the back-end on the "
                    "others: less noise for an A/B (not how bench/run.py measures)")
    args = ap.parse_args()
    last_cpu = max(os.sched_getaffinity(0))
    if args.pin:  # wrk and the back-end, started from here, inherit this
        os.sched_setaffinity(0, os.sched_getaffinity(0) - {last_cpu} or {last_cpu})
    case = CASES[args.case]
    l4 = run.CASES[case][3]
    with tempfile.TemporaryDirectory(prefix="bench") as tmp:
        work = Path(tmp)
        lua = work / "report.lua"
        lua.write_text(run.WRK_LUA)
        procs = []
        try:
            backend, nodes = proxies.start_backend(work)
            procs.append(backend)
            targets = []
            if not (args.no_haproxy or args.profile or args.pyspy or args.attach):
                ha, ha_http, ha_tcp = proxies.start_haproxy(work, nodes)
                procs.append(ha)
                targets.append(("haproxy", ha, ha_tcp if l4 else ha_http))
            ours, o_http, o_tcp = start(work, nodes, "ours", True, args.profile)
            procs.append(ours)
            targets.append(("ours", ours, o_tcp if l4 else o_http))
            if args.compare:
                other, c_http, c_tcp = start(work, nodes, "other", True, root=Path(args.compare).resolve())
                procs.append(other)
                targets.append(("other", other, c_tcp if l4 else c_http))
            if args.passthrough and not l4:
                pt, p_http, _ = start(work, nodes, "norule", False)
                procs.append(pt)
                targets.append(("norule", pt, p_http))
            if args.pin:
                for _, proc, _ in targets:
                    for pid in proc.pids():
                        os.sched_setaffinity(pid, {last_cpu})
            time.sleep(1)
            if args.profile or args.pyspy or args.attach:
                spy = None
                if args.attach:
                    spy = subprocess.Popen(args.attach.replace("{pid}", str(ours.proc.pid)), shell=True)
                elif args.pyspy:
                    spy = subprocess.Popen([shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                                            "record", "-r", "500", "-f", "raw", "-o", args.pyspy, "-p",
                                            str(ours.proc.pid), "-d", str(int(args.seconds))])
                r = run.measure(ours, targets[0][2], case, args.seconds, lua)
                print(f"ours {r['req_s']:.0f}/s {r['cpu_us_per_req']:.1f} us/req")
                if spy is not None:
                    spy.wait(60)
                return 0
            rows = []
            for rnd in range(args.rounds):
                row = {}
                shift = rnd % len(targets)
                for name, proc, port in targets[shift:] + targets[:shift]:
                    row[name] = run.measure(proc, port, case, args.seconds, lua)
                rows.append(row)
                print(f"round {rnd + 1}: " + "  ".join(
                    f"{n} {r['req_s']:.0f}/s {r['cpu_us_per_req']:.1f}us" for n, r in row.items()), flush=True)
            print(f"median ({case}):")
            for name, _, _ in targets:
                rps = statistics.median(r[name]["req_s"] for r in rows)
                cpu = statistics.median(r[name]["cpu_us_per_req"] for r in rows)
                mib = statistics.median(r[name]["mib_s"] for r in rows)
                line = f"  {name:8} {rps:8.0f} req/s {mib:7.1f} MiB/s {cpu:6.1f} us/req"
                if name != "haproxy" and "haproxy" in rows[0]:
                    rr = statistics.median(r[name]["req_s"] / r["haproxy"]["req_s"] for r in rows)
                    cr = statistics.median(r[name]["cpu_us_per_req"] / r["haproxy"]["cpu_us_per_req"] for r in rows)
                    line += f"   rps/HA {rr:.2f}  cpu/HA {cr:.2f}"
                print(line)
        finally:
            for p in reversed(procs):
                p.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
