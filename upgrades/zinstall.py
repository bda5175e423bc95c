#!/usr/bin/env python3
"""zinstall: installs the traffic manager from an unpacked release package.

Standard library only (no virtualenv exists yet). Copied to the top of the
package as `zinstall`; the software it installs is beside it in `software/`,
with its Python dependencies as wheels in `wheels/`, so installing needs no network.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "software"))

from upgrades.prompts import CONFIGURE_KEYS, INSTALL_KEYS, AnswerMissing, Answers, is_yes, yes_no  # noqa: E402

KEYS = INSTALL_KEYS | CONFIGURE_KEYS  # configure's answers pass through to it
MARKER = ".zeus-installation"


def package_info() -> dict:
    return json.loads((HERE / "package.json").read_text())


def check_distribution(say) -> None:
    """Every file listed in the manifest is present and matches its checksum; stop naming the first that is not."""
    manifest = HERE / "MANIFEST.sha256"
    sys.stdout.write("Checking distribution ... ")
    sys.stdout.flush()
    if not manifest.exists():
        raise SystemExit("FAILED\nThe package has no MANIFEST.sha256: it is incomplete")
    for line in manifest.read_text().splitlines():
        digest, _, name = line.partition("  ")
        path = HERE / name
        try:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except OSError:
            raise SystemExit(f"FAILED\n{name} is missing from the package") from None
        if h.hexdigest() != digest:
            raise SystemExit(f"FAILED\n{name} does not match its checksum: the package is damaged or was changed")
    say("all packages match checksums")


def existing_installation(home: Path) -> dict | None:
    try:
        return json.loads((home / MARKER).read_text())
    except (OSError, ValueError):
        return None


def check_destination(answer: str, version: str) -> str | None:
    path = Path(answer)
    if not path.is_absolute():
        return "Please give an absolute path, such as /usr/local/zeus"
    if path.exists() and not path.is_dir():
        return f"{path} exists and is not a directory"
    if path.is_dir() and any(path.iterdir()):
        found = existing_installation(path)
        if found is None:
            return (f"{path} is not empty and holds no traffic manager installation: choose an empty or new "
                    "directory; the traffic manager must not share a directory with other software")
        if version in found.get("versions", []):
            return f"Version {version} is already installed in {path}"
    return None


def write_wrappers(home: Path) -> None:
    """The commands the guide names, each a thin wrapper over the current version."""
    py = '"$ZEUSHOME/current/venv/bin/python"'
    manage = '"$ZEUSHOME/current/manage.py"'
    scripts = {
        "start-zeus": ('"$(dirname "$0")"', f"exec {py} {manage} start_tm \"$@\""),
        "stop-zeus": ('"$(dirname "$0")"', f"exec {py} {manage} stop_tm \"$@\""),
        "zxtm/configure": ('"$(dirname "$0")/.."', f"exec {py} {manage} configure \"$@\""),
        "admin/bin/cert": ('"$(dirname "$0")/../.."', f"exec {py} \"$ZEUSHOME/current/upgrades/cert.py\" \"$@\""),
    }
    for name, (root, command) in scripts.items():
        path = home / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"#!/bin/sh\nZEUSHOME=$(cd {root} && pwd)\nexport ZEUSHOME\n{command}\n")
        path.chmod(0o755)


def install(home: Path, version: str, say) -> None:
    target = home / "versions" / version
    if target.exists():
        shutil.rmtree(target)
    say(f"Installing version {version} in {target} ...")
    shutil.copytree(HERE / "software", target, symlinks=True)
    # The system's Python, readable by the unprivileged run user (a per-user Python may not be).
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    subprocess.run([python, "-m", "venv", str(target / "venv")], check=True)
    result = subprocess.run(
        [str(target / "venv" / "bin" / "pip"), "install", "-q", "--no-index", "--disable-pip-version-check",
         "--find-links", str(HERE / "wheels"), "-r", str(target / "requirements.txt")],
        capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise SystemExit(f"Installing the Python packages failed:\n{result.stderr.strip()[-2000:]}")
    current = home / "current"
    tmp = home / ".current.new"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(Path("versions") / version)
    os.replace(tmp, current)
    write_wrappers(home)
    marker = existing_installation(home) or {"product": "traffic-manager", "versions": []}
    if version not in marker["versions"]:
        marker["versions"].append(version)
    marker["current"] = version
    (home / MARKER).write_text(json.dumps(marker, indent=1) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Install the traffic manager software.")
    parser.add_argument("--record-to", metavar="FILE", help="write the answers to a replay file")
    parser.add_argument("--replay-from", metavar="FILE", help="take answers from a replay file")
    parser.add_argument("--noninteractive", action="store_true", help="never wait for input")
    args = parser.parse_args(argv)
    answers = Answers(known_keys=KEYS, replay_from=args.replay_from, record_to=args.record_to,
                      noninteractive=args.noninteractive)
    say = answers.say
    info = package_info()
    version = info["version"]
    try:
        say(f"You are installing a package built for {info['platform']}")
        say()
        say(f"Traffic Manager Installation Program - version {version}")
        say()
        check_distribution(say)
        say()
        if os.geteuid() != 0:
            allow = answers.ask("allow_non_root_install", "You are not root. Install anyway? (Y/N)", default="N",
                                check=yes_no("N"))
            if not is_yes(allow):
                raise SystemExit("The traffic manager must be installed as root.")
        say((HERE / "LICENSE.txt").read_text())
        accepted = answers.ask("accept-license", "Type 'accept' to accept the terms of the license agreement, "
                                                  "anything else to stop")
        if accepted.strip().lower() != "accept":
            raise SystemExit("You did not accept the license agreement: nothing was installed.")
        home = Path(answers.ask("zeushome", "Where should the traffic manager be installed?",
                                default="/usr/local/zeus",
                                check=lambda a: check_destination(a, version))).resolve()
        found = existing_installation(home)
        if found:
            choice = answers.ask("zxtm!upgrade_or_abort",
                                 f"{home} holds version(s) {', '.join(found['versions'])}. (U)pgrade or (A)bort?",
                                 default="A", check=lambda a: None if a.upper() in ("U", "A") else "Answer U or A")
            if choice.upper() != "U":
                raise SystemExit("Aborted: nothing was changed.")
        home.mkdir(parents=True, exist_ok=True)
        install(home, version, say)
        say()
        say(f"Traffic Manager {version} is now installed in {home}.")
        configure_now = answers.ask("zxtm!perform_initial_config",
                                    "Are you ready to perform the initial configuration now ? (Y/N)", default="Y",
                                    check=yes_no("Y"))
        answers.save()
        if is_yes(configure_now):
            command = [str(home / "zxtm" / "configure")]
            if args.replay_from:
                command.append(f"--replay-from={args.replay_from}")
            if args.noninteractive:
                command.append("--noninteractive")
            return subprocess.call(command)
        say(f"Run {home}/zxtm/configure to configure it later.")
        return 0
    except AnswerMissing as e:
        answers.save()
        say(str(e))
        return 2


if __name__ == "__main__":
    sys.exit(main())
