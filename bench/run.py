"""Benchmark our engine against HAProxy and nginx on 127.0.0.1, interleaved, and print one table of medians.

    .venv/bin/python bench/run.py            # 3 rounds of 5 s per case and target (about 6 minutes)
    .venv/bin/python bench/run.py --quick    # 1 round of 1 s: a smoke test
    .venv/bin/python bench/run.py --floor    # also bench/floor.py, a minimal uvloop + httptools proxy (a yardstick)

Needs nginx, haproxy and wrk (.ci/install installs them: apt-get install haproxy nginx wrk); installs nothing.
Writes bench/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import proxies  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
WRK_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"errors": %d, "non2xx": %d}\\n', summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
"""

# case: (path, connections, extra wrk headers, L4?)
CASES = {
    "small keep-alive 50c": ("/small", 50, [], False),
    "small keep-alive 200c": ("/small", 200, [], False),
    "100 KB keep-alive 50c": ("/big", 50, [], False),
    "small conn-per-request 50c": ("/small", 50, ["Connection: close"], False),
    "L4 TCP small 50c": ("/small", 50, [], True),
}


def run_wrk(port: int, path: str, conns: int, headers: list[str], seconds: float, lua: Path) -> dict:
    argv = [proxies.tool("wrk"), "-t1", f"-c{conns}", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(lua)]
    for h in headers:
        argv += ["-H", h]
    argv.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30).stdout
    for line in out.splitlines():
        if line.startswith("WRKJSON "):
            return json.loads(line[8:])
    raise RuntimeError(f"wrk printed no summary: {out!r}")


class MemorySampler(threading.Thread):
    """The largest memory figures of a process group while a load runs."""

    def __init__(self, proc: proxies.Proc):
        super().__init__(daemon=True)
        self.proc, self.stop_at = proc, threading.Event()
        self.max_rss = self.max_rss_total = self.max_pss = 0

    def run(self):
        while not self.stop_at.wait(0.3):
            biggest, rss, pss = proxies.memory_kib(self.proc.pids())
            self.max_rss = max(self.max_rss, biggest)
            self.max_rss_total = max(self.max_rss_total, rss)
            self.max_pss = max(self.max_pss, pss)


def measure(proc: proxies.Proc, port: int, case: str, seconds: float, lua: Path) -> dict:
    path, conns, headers, _ = CASES[case]
    pids = proc.pids()
    sampler = MemorySampler(proc)
    sampler.start()
    cpu0 = proxies.cpu_seconds(pids)
    w = run_wrk(port, path, conns, headers, seconds, lua)
    cpu = proxies.cpu_seconds(pids) - cpu0
    sampler.stop_at.set()
    sampler.join()
    secs = w["duration_us"] / 1e6
    n = max(w["requests"], 1)
    return {
        "req_s": w["requests"] / secs, "mib_s": w["bytes"] / secs / 2**20, "p50_ms": w["p50_us"] / 1000,
        "p99_ms": w["p99_us"] / 1000, "cpu_us_per_req": cpu / n * 1e6, "errors": w["errors"] + w["non2xx"],
        "max_rss_mib": sampler.max_rss / 1024, "pss_mib": sampler.max_pss / 1024, "processes": len(pids),
    }  # fmt: skip


def ratios(rounds: list[dict], target: str, ref: str, metric: str) -> float | None:
    """Median over rounds of target/ref, each taken within one round (the machine's noise cancels)."""
    vals = [r[target][metric] / r[ref][metric] for r in rounds if target in r and ref in r and r[ref][metric]]
    return statistics.median(vals) if vals else None


def summarise(results: dict) -> dict:
    summary = {}
    for case, rounds in results.items():
        targets = {t for r in rounds for t in r}
        rows = {}
        for t in sorted(targets):
            rows[t] = {
                m: statistics.median(r[t][m] for r in rounds if t in r) for m in rounds[0][next(iter(rounds[0]))]
            }
            if t.startswith(("ours", "floor")):
                for ref in ("haproxy", "nginx"):
                    for metric in ("req_s", "mib_s", "p99_ms", "cpu_us_per_req"):
                        rows[t][f"{metric}/{ref}"] = ratios(rounds, t, ref, metric)
        summary[case] = rows
    return summary


def fmt(v, spec=".2f") -> str:
    return "-" if v is None else format(v, spec)


def table(summary: dict) -> str:
    head = (
        f"{'case':28} {'proxy':10} {'req/s':>8} {'MiB/s':>7} {'p50ms':>6} {'p99ms':>6} {'CPUus/req':>9} "
        f"{'RSSmax':>6} {'PSS':>6} {'err':>4} | {'rps/HA':>6} {'p99/HA':>6} {'cpu/HA':>6} {'MiB/HA':>6} | "
        f"{'rps/ngx':>7} {'cpu/ngx':>7}"
    )
    lines = [head, "-" * len(head)]
    for case, rows in summary.items():
        for t, r in rows.items():
            line = (
                f"{case:28} {t:10} {r['req_s']:8.0f} {r['mib_s']:7.1f} {r['p50_ms']:6.2f} {r['p99_ms']:6.2f} "
                f"{r['cpu_us_per_req']:9.1f} {r['max_rss_mib']:6.1f} {r['pss_mib']:6.1f} {r['errors']:4.0f}"
            )
            if t.startswith(("ours", "floor")):
                line += (
                    f" | {fmt(r.get('req_s/haproxy')):>6} {fmt(r.get('p99_ms/haproxy')):>6} "
                    f"{fmt(r.get('cpu_us_per_req/haproxy')):>6} {fmt(r.get('mib_s/haproxy')):>6} | "
                    f"{fmt(r.get('req_s/nginx')):>7} {fmt(r.get('cpu_us_per_req/nginx')):>7}"
                )
            lines.append(line)
    return "\n".join(lines)


# the speed goals (issue 5): (what, case, target, metric ratio to HAProxy, comparison, bound)
GOALS = [
    ("small keep-alive 50c, 2 workers: req/s", "small keep-alive 50c", "ours-2w", "req_s/haproxy", ">=", 1.0),
    ("small keep-alive 50c, 2 workers: p99", "small keep-alive 50c", "ours-2w", "p99_ms/haproxy", "<=", 1.3),
    ("small keep-alive, 1 worker: CPU/request", "small keep-alive 50c", "ours-1w", "cpu_us_per_req/haproxy", "<=",
     1.2),
    ("100 KB, 2 workers: MiB/s", "100 KB keep-alive 50c", "ours-2w", "mib_s/haproxy", ">=", 1.0),
    ("connection per request, 2 workers: req/s", "small conn-per-request 50c", "ours-2w", "req_s/haproxy", ">=",
     0.8),
    ("L4 TCP, 2 workers: req/s", "L4 TCP small 50c", "ours-2w", "req_s/haproxy", ">=", 1.0),
]  # fmt: skip
MEMORY_GOAL_MIB = 50  # RSS per worker at 200 connections


def goal_results(summary: dict) -> list[dict]:
    """The issue's goals, each with the value this run measured and whether it is met (None: not measured)."""
    out = []
    for what, case, target, metric, op, bound in GOALS:
        v = summary.get(case, {}).get(target, {}).get(metric)
        ok = None if v is None else (v >= bound if op == ">=" else v <= bound)
        out.append({"goal": what, "value": v, "op": op, "bound": bound, "met": ok})
    rss = [r.get("max_rss_mib") for t, r in summary.get("small keep-alive 200c", {}).items() if t.startswith("ours")]
    if rss:
        out.append({"goal": "memory at 200c: RSS per worker (MiB)", "value": max(rss), "op": "<=",
                    "bound": MEMORY_GOAL_MIB, "met": max(rss) <= MEMORY_GOAL_MIB})
    return out


def goals(summary: dict) -> str:
    """The goals as a table."""
    lines = [f"{'goal':44} {'value':>6} {'bound':>8}  met"]
    for g in goal_results(summary):
        met = "-" if g["met"] is None else "yes" if g["met"] else "no"
        lines.append(f"{g['goal']:44} {fmt(g['value'], '.2f' if g['bound'] < 10 else '.1f'):>6} "
                     f"{g['op'] + ' ' + format(g['bound'], '.1f' if g['bound'] < 10 else '.0f'):>8}  {met}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 round of 1 s per case and target (a smoke test)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--cases", default="", help="comma-separated substrings of case names to run")
    ap.add_argument("--out", default="", help="JSON file to write (default bench/results/<time>.json)")
    ap.add_argument("--floor", action="store_true", help="also bench/floor.py, the least a uvloop + httptools "
                    "proxy does (floor-1w, floor-2w): a yardstick for what Python itself costs")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 1, 1
    missing = proxies.missing_tools()
    if missing:
        print(
            f"bench: missing {', '.join(missing)}: run .ci/install (apt-get install haproxy nginx wrk)", file=sys.stderr
        )
        return 2
    cases = [c for c in CASES if not args.cases or any(s.strip() in c for s in args.cases.split(","))]
    procs: list[proxies.Proc] = []
    with tempfile.TemporaryDirectory(prefix="bench") as tmp:
        work = Path(tmp)
        lua = work / "report.lua"
        lua.write_text(WRK_LUA)
        try:
            backend, nodes = proxies.start_backend(work)
            procs.append(backend)
            haproxy, ha_http, ha_tcp = proxies.start_haproxy(work, nodes)
            nginx, ngx_http = proxies.start_nginx_proxy(work, nodes)
            ours1, o1_http, o1_tcp = proxies.start_engine(work, nodes, 1)
            ours2, o2_http, o2_tcp = proxies.start_engine(work, nodes, 2)
            procs += [haproxy, nginx, ours1, ours2]
            http_targets = [
                ("haproxy", haproxy, ha_http),
                ("nginx", nginx, ngx_http),
                ("ours-1w", ours1, o1_http),
                ("ours-2w", ours2, o2_http),
            ]
            tcp_targets = [("haproxy", haproxy, ha_tcp), ("ours-1w", ours1, o1_tcp), ("ours-2w", ours2, o2_tcp)]
            if args.floor:
                for workers in (1, 2):
                    floor, fl_http, fl_tcp = proxies.start_floor(work, nodes, workers)
                    procs.append(floor)
                    http_targets.append((f"floor-{workers}w", floor, fl_http))
                    tcp_targets.append((f"floor-{workers}w", floor, fl_tcp))
            time.sleep(1)  # monitors have run once, workers are up
            results: dict[str, list[dict]] = {c: [] for c in cases}
            for rnd in range(args.rounds):
                for case in cases:
                    targets = tcp_targets if CASES[case][3] else http_targets
                    shift = rnd % len(targets)  # rotate who goes first: A B C, B C A, ...
                    row = {}
                    for name, proc, port in targets[shift:] + targets[:shift]:
                        row[name] = measure(proc, port, case, args.seconds, lua)
                    results[case].append(row)
                    print(
                        f"round {rnd + 1}/{args.rounds} {case}: "
                        + ", ".join(f"{n} {r['req_s']:.0f}/s" for n, r in row.items()),
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            for p in reversed(procs):
                p.stop()
    summary = summarise(results)
    print(table(summary))
    print()
    print(goals(summary))
    RESULTS.mkdir(exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / (datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + ".json")
    out.write_text(
        json.dumps(
            {
                "when": datetime.datetime.now().isoformat(timespec="seconds"),
                "rounds": args.rounds,
                "seconds": args.seconds,
                "summary": summary,
                "goals": goal_results(summary),
                "raw": results,
            },
            indent=1,
        )
    )
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
