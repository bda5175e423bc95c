"""Building the release package `ZeusTM_<version>_Linux-x86_64.tgz`, reproducibly.

The package unpacks into `ZeusTM_<version>_Linux-x86_64/` holding `zinstall`, the
software, its pinned Python dependencies as wheels (installing needs no network),
the license agreement and `MANIFEST.sha256`. The same sources and wheels give a
byte-identical archive: entries sorted, times, owners and modes fixed.
"""

import gzip
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
from pathlib import Path

from django.conf import settings

from vtmadmin.version import VERSION

SOFTWARE = ["manage.py", "vtmadmin", "pools", "virtualservers", "clusters", "upgrades",
            "proxyengine", "templates"]
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", "node_modules"}
LICENSE_TEXT = """\
TRAFFIC MANAGER SOFTWARE LICENSE AGREEMENT

This software is provided to you under the terms agreed with its supplier.
Without a license key it runs as the Community Edition: full functionality,
a bandwidth limit of 10 Mb/s and a cluster of at most 4 traffic managers.
The software is provided "as is", without warranty of any kind.
"""


class PackageError(Exception):
    """The package could not be built; the message says why."""


def package_platform() -> str:
    return f"{platform.system()}-{platform.machine()}"


def package_name(version: str = VERSION) -> str:
    return f"ZeusTM_{version}_{package_platform()}"


def _software_files(root: Path) -> list[Path]:
    from proxyengine.compile import stale_files

    skip = stale_files(root / "proxyengine")  # a compiled engine module goes only if built from these sources
    files = []
    for top in SOFTWARE:
        path = root / top
        if path.is_file():
            files.append(path)
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            files += [Path(dirpath) / f for f in sorted(filenames)
                      if not f.endswith((".pyc", ".pyo")) and Path(dirpath) / f not in skip]
    return sorted(files)


# requirements.txt lists what runs the product, then, after this line, what only develops and tests it.
TEST_SECTION = "# Tests and lint"  # the line may go on: "# Tests and lint (not shipped ...)"


def runtime_requirements(requirements: Path) -> str:
    """The part of requirements.txt an installed traffic manager needs (no test tools)."""
    text = requirements.read_text()
    return text.split(TEST_SECTION, 1)[0].rstrip() + "\n"


def wheels_for(requirements: Path, cache: Path) -> list[Path]:
    """Wheels of every pinned requirement, built once per requirements file content and kept in `cache`."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    directory = cache / f"wheels-{digest}"
    done = directory / ".complete"
    if not done.exists():
        directory.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "-r", str(requirements),
             "-w", str(directory)], capture_output=True, text=True)
        if result.returncode != 0:
            raise PackageError(f"Could not get the wheels of {requirements}:\n{result.stderr.strip()[-2000:]}")
        done.write_text("ok\n")
    return sorted(directory.glob("*.whl"))


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, mtime
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))


def _compile_engine(root: Path) -> None:
    """Compile the engine's hot modules (python -m proxyengine.compile) if they are not already: the package then
    carries them for this platform and Python. Without Cython or a compiler it carries the .py modules alone, which
    run the same, slower."""
    try:
        subprocess.run([sys.executable, "-m", "proxyengine.compile", "--quiet"], cwd=root, capture_output=True,
                       timeout=900)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        pass  # stale or missing compiled modules are left out (_software_files)


def package_build(*, output_dir: Path, root: Path | None = None, cache: Path | None = None) -> Path:
    """Build the package and return the path of the .tgz it wrote."""
    root = root or Path(settings.BASE_DIR)
    cache = cache or root / "build"
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "1700000000"))
    top = package_name()
    _compile_engine(root)
    entries: dict[str, tuple[bytes, int]] = {}
    for path in _software_files(root):
        rel = path.relative_to(root).as_posix()
        mode = 0o755 if os.access(path, os.X_OK) else 0o644
        entries[f"software/{rel}"] = (path.read_bytes(), mode)
    runtime = runtime_requirements(root / "requirements.txt")
    entries["software/requirements.txt"] = (runtime.encode(), 0o644)
    cache.mkdir(parents=True, exist_ok=True)
    runtime_file = cache / "requirements-runtime.txt"
    if not runtime_file.exists() or runtime_file.read_text() != runtime:
        runtime_file.write_text(runtime)
    for wheel in wheels_for(runtime_file, cache):
        entries[f"wheels/{wheel.name}"] = (wheel.read_bytes(), 0o644)
    entries["zinstall"] = ((root / "upgrades" / "zinstall.py").read_bytes(), 0o755)
    entries["LICENSE.txt"] = (LICENSE_TEXT.encode(), 0o644)
    info = {"product": "traffic-manager", "version": VERSION, "platform": package_platform()}
    entries["package.json"] = (json.dumps(info, indent=1, sort_keys=True).encode() + b"\n", 0o644)
    manifest = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, (data, _) in sorted(entries.items()))
    entries["MANIFEST.sha256"] = (manifest.encode(), 0o644)

    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{top}.tgz"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({str(Path(name).parent) for name in entries} - {"."})
        all_dirs = sorted({"/".join(d.split("/")[: i + 1]) for d in dirs for i in range(d.count("/") + 1)})
        for d in [""] + all_dirs:
            info_dir = tarfile.TarInfo(f"{top}/{d}".rstrip("/"))
            info_dir.type, info_dir.mode, info_dir.mtime = tarfile.DIRTYPE, 0o755, mtime
            info_dir.uname = info_dir.gname = "root"
            tar.addfile(info_dir)
        for name, (data, mode) in sorted(entries.items()):
            _add(tar, f"{top}/{name}", data, mode, mtime)
    tmp = target.with_suffix(".tgz.tmp")
    with open(tmp, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
        gz.write(raw.getvalue())
    os.replace(tmp, target)
    return target
