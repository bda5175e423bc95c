"""Compile the engine's hot modules with Cython: ``python -m proxyengine.compile [--force]``.

Each ``proxyengine/<name>.py`` with a ``<name>.pxd`` beside it is compiled in place to an extension module. The
``.py`` stays the one source (the ``.pxd`` only declares C types for its classes and functions): where no compiled
module exists, or it was built from other sources, the ``.py`` is what runs (see ``proxyengine/__init__.py``).
``.ci/install`` and ``build_package`` run this; it needs Cython and a C compiler (a traffic manager needs neither).

PERFORMANCE-NOTES: ``http``, ``http1``, ``flow`` and ``pools`` typed, ``rulehooks`` and ``stats`` untyped, took ~30%
off the Python cost of a proxied request (bench/hotpath.py) and ~10% of the engine's CPU per request with real
sockets (bench/engine_only.py --pin). ``rules/`` compiled untyped made it slower (hotpath 0.69 -> 0.81): code that
mostly reads attributes of Python objects runs faster in CPython 3.11's specialising interpreter than as generic
C-API calls. Compile a module only with types for what it touches, and measure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "compiled.json"  # {module: digest of the sources it was built from}
DIRECTIVES = {"language_level": 3, "annotation_typing": False, "binding": True}
CFLAGS = ["-O2", "-g0"]


def module_path(name: str, suffix: str = ".py", here: Path = HERE) -> Path:
    """``rules.rule`` -> proxyengine/rules/rule.py (names are relative to the proxyengine package)."""
    return here / f"{name.replace('.', '/')}{suffix}"


def compiled_modules(here: Path = HERE) -> list[str]:
    """The modules that have a .pxd: the ones worth compiling (``http``, ``rules.rule``, ...)."""
    names = (".".join(p.relative_to(here).with_suffix("").parts) for p in here.rglob("*.pxd"))
    return sorted(n for n in names if module_path(n, here=here).exists())


def source_digest(name: str, here: Path = HERE) -> str:
    """What a compiled module must have been built from: its .py, and every .pxd (its own and those it cimports)."""
    h = hashlib.sha256(json.dumps([DIRECTIVES, CFLAGS], sort_keys=True).encode())  # how it is built, too
    for path in [module_path(name, here=here), *sorted(here.rglob("*.pxd"))]:
        h.update(path.relative_to(here).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def read_manifest(here: Path = HERE) -> dict[str, str]:
    try:
        return json.loads((here / MANIFEST.name).read_text())
    except (OSError, ValueError):
        return {}


def extension_path(name: str, here: Path = HERE) -> Path:
    return module_path(name, sysconfig.get_config_var("EXT_SUFFIX"), here)


def fresh(name: str, manifest: dict[str, str] | None = None, here: Path = HERE) -> bool:
    """True if the compiled ``name`` exists and was built from the sources now beside it."""
    manifest = read_manifest(here) if manifest is None else manifest
    return extension_path(name, here).exists() and manifest.get(name) == source_digest(name, here)


def stale_files(here: Path = HERE) -> set[Path]:
    """Compiled modules (of any Python version) not built from the sources beside them: never to be shipped."""
    manifest = read_manifest(here)
    ext = sysconfig.get_config_var("EXT_SUFFIX")
    out = set()
    for path in here.rglob("*.so"):
        rel = path.relative_to(here).as_posix()
        name = rel.split(".", 1)[0].replace("/", ".")
        if not path.name.endswith(ext) or not fresh(name, manifest, here):
            out.add(path)
    return out


def build(force: bool = False, quiet: bool = False) -> list[str]:
    """Compile the modules whose extension is missing or stale; returns the names compiled."""
    names = compiled_modules()
    manifest = read_manifest()
    todo = [n for n in names if force or not fresh(n, manifest)]
    if not todo:
        return []
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    build_dir = HERE.parent / "build" / "cython"
    extensions = [Extension(f"proxyengine.{n}", [str(module_path(n))], extra_compile_args=CFLAGS) for n in todo]
    modules = cythonize(
        extensions,
        build_dir=str(build_dir),
        compiler_directives=DIRECTIVES,
        quiet=quiet,
        force=True,
    )
    dist = Distribution({"ext_modules": modules})
    cmd = dist.get_command_obj("build_ext")
    cmd.inplace = True
    cmd.build_temp = str(build_dir / "temp")
    cmd.ensure_finalized()
    cmd.run()
    for n in todo:
        manifest[n] = source_digest(n)
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return todo


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m proxyengine.compile", description=__doc__.split("\n\n")[0])
    ap.add_argument("--force", action="store_true", help="compile even the modules that are up to date")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    try:
        done = build(args.force, args.quiet)
    except Exception as e:  # noqa: BLE001 (no compiler, no Cython: the engine runs its .py modules)
        print(f"proxyengine.compile: not compiled ({type(e).__name__}: {e}); the engine runs as pure Python",
              file=sys.stderr)  # fmt: skip
        return 1
    names = compiled_modules()
    print(f"proxyengine.compile: {', '.join(done) if done else 'nothing to do'} "
          f"({len(names)} compiled modules: {', '.join(names)})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
