"""Machine instructions one proxied request costs, counted exactly by valgrind's callgrind: the guide for speed work
on a shared machine, where timings of a few percent drown in noise (bench/hotpath.py's setup, compiled modules).

    .venv/bin/python bench/instructions.py [--requests 2000] [--norule] [--close] [--top 25]
    .venv/bin/python bench/instructions.py --compare /tmp/base       # the same for another checkout, and the ratio

Only the request work is counted (callgrind collects inside the two protocols' data_received), so start-up and the
set-up requests are not. Needs valgrind (.ci/install installs it; callgrind_annotate comes with it) and the
engine's compiled modules (python -m proxyengine.compile): the pure .py modules are counted in opcodes by
bench/hotpath.py --opcodes instead. Counts move by ~1% between runs (addresses, ports and clock-driven branches):
trust a difference of 2% or more.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--norule", action="store_true", help="the virtual server without its routing rule")
    ap.add_argument("--close", action="store_true", help="a new client connection per request")
    ap.add_argument("--compare", default="", help="another checkout's root, counted the same way")
    ap.add_argument("--top", type=int, default=25, help="the engine's functions with the most instructions")
    ap.add_argument("--driver", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.driver:
        driver(Path(args.driver), args.requests, args.norule, args.close)
        return 0
    if not shutil.which("valgrind"):
        print("needs valgrind: apt-get install valgrind", file=sys.stderr)
        return 2
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
