"""bench/instructions.py counts the instructions of the request work under callgrind (not their number's size)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(180)


def test_instructions_counts_the_request_work_and_names_where_it_goes():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "instructions.py"), "--requests", "200", "--top", "8"],
                          capture_output=True, text=True, timeout=170, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = re.search(r"routing rule: this tree: ([\d,]+) instructions per request", proc.stdout)
    assert m, proc.stdout
    assert 5_000 < int(m[1].replace(",", "")) < 2_000_000  # the request work, not the start-up
    assert "http.HttpClientProtocol._start" in proc.stdout  # the top list: where a request's instructions go
