"""The benchmark's quick mode runs end to end in bounded time and writes its table and JSON (not its speed)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import proxies  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(bool(proxies.missing_tools()), reason="needs nginx, haproxy and wrk (.ci/install)"),
]


def quick_run(out: Path, *options: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """bench/run.py --quick with ``options``, writing its JSON to ``out``; it must succeed."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", *options, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_quick_benchmark_prints_the_table_and_writes_json(tmp_path):
    out = tmp_path / "result.json"
    proc = quick_run(out)
    assert "rps/HA" in proc.stdout and "ours-2w" in proc.stdout
    doc = json.loads(out.read_text())
    summary = doc["summary"]
    assert set(summary) == {
        "small keep-alive 50c",
        "small keep-alive 200c",
        "100 KB keep-alive 50c",
        "small conn-per-request 50c",
        "L4 TCP small 50c",
    }
    for case, rows in summary.items():
        assert {"haproxy", "ours-1w", "ours-2w"} <= set(rows), case
        for name, row in rows.items():
            assert row["req_s"] > 0 and row["errors"] == 0, (case, name, row)
        assert rows["ours-1w"]["req_s/haproxy"] > 0
    # the goals: every one measured, with its verdict, in the output and in the JSON
    assert [g["goal"] for g in doc["goals"]][:1] == ["small keep-alive 50c, 2 workers: req/s"]
    assert len(doc["goals"]) == 7 and all(g["value"] is not None and g["met"] in (True, False) for g in doc["goals"])
    assert "memory at 200c" in proc.stdout


def test_the_floor_serves_every_case_without_errors(tmp_path):
    """bench/floor.py (--floor), the yardstick: keep-alive, 100 KB, a connection per request and L4 all answered."""
    out = tmp_path / "result.json"
    quick_run(out, "--floor", "--cases", "50c", timeout=80)
    summary = json.loads(out.read_text())["summary"]
    assert len(summary) == 4  # every 50-connection case
    for case, rows in summary.items():
        for name in ("floor-1w", "floor-2w"):
            row = rows[name]
            assert row["req_s"] > 0 and row["errors"] == 0, (case, name, row)
            assert row["req_s/haproxy"] > 0
