"""The compiled hot modules (python -m proxyengine.compile, run by .ci/install): they are what the tests run, the .py
modules still run alone (PROXYENGINE_PURE=1, or where nothing was compiled), and a stale build is never used."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from proxyengine import compile as engine_compile

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_with_a_pxd_is_compiled_and_fresh():
    import proxyengine.flow
    import proxyengine.http
    import proxyengine.http1

    names = engine_compile.compiled_modules()
    assert {"flow", "http", "http1", "tcp"} <= set(names)
    for name in names:
        assert engine_compile.fresh(name), f"{name}: run python -m proxyengine.compile (.ci/install does)"
    assert all(proxyengine.is_compiled(m) for m in (proxyengine.flow, proxyengine.http, proxyengine.http1))
    assert engine_compile.stale_files() == set()


def test_the_python_modules_run_alone():
    """The protocol unit tests again, on the .py modules (what a platform without the compiled ones runs)."""
    env = {**os.environ, "PROXYENGINE_PURE": "1"}
    probe = subprocess.run([sys.executable, "-c", "import proxyengine.http as h; print(h.__file__)"], env=env,
                           cwd=ROOT, capture_output=True, text=True, check=True)  # fmt: skip
    assert probe.stdout.strip().endswith("proxyengine/http.py")
    tests = [str(ROOT / "tests" / "proxyengine" / f) for f in ("test_protocol_unit.py", "test_hardening.py")]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=240)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_a_stale_compiled_module_is_not_used_nor_shipped(tmp_path):
    pkg = tmp_path / "proxyengine"
    shutil.copytree(ROOT / "proxyengine", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    assert engine_compile.stale_files(pkg) == set()
    with open(pkg / "flow.py", "a") as f:
        f.write("\nEDITED = True  # after the build\n")
    assert engine_compile.stale_files(pkg) == {engine_compile.extension_path("flow", pkg)}
    proc = subprocess.run([sys.executable, "-c", "import proxyengine.flow as f; print(f.__file__, f.EDITED)"],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, capture_output=True,
                          text=True, check=True)  # fmt: skip
    assert proc.stdout.split() == [str(pkg / "flow.py"), "True"]
    assert "the compiled flow is stale" in proc.stderr


def test_modules_in_subpackages_are_named_from_the_package(tmp_path):
    (tmp_path / "rules").mkdir()
    for rel in ("top.py", "top.pxd", "rules/rule.py", "rules/rule.pxd", "rules/other.py"):
        (tmp_path / rel).write_text("x = 1\n")
    assert engine_compile.compiled_modules(tmp_path) == ["rules.rule", "top"]
    assert engine_compile.extension_path("rules.rule", tmp_path).parent == tmp_path / "rules"
    assert not engine_compile.fresh("rules.rule", here=tmp_path)  # never built


def test_each_compiled_module_imports_first():
    """Compiled modules import one another to find C types (a .pxd's cimport): whichever a process imports first,
    none may meet another half-initialised (http and rulehooks import each other)."""
    for name in engine_compile.compiled_modules():
        proc = subprocess.run([sys.executable, "-c", f"import proxyengine.{name}"], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 0, f"import proxyengine.{name} first: {proc.stderr[-2000:]}"
