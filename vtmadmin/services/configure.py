"""The configure program ($ZEUSHOME/zxtm/configure): the guide's post-install steps, in its order.

Answers come from the terminal or a replay file (upgrades/prompts.py). The
settings it gathers go to $ZEUSHOME/admin/etc/settings.json; the node is then
prepared and started by a fresh `manage.py start_tm`, which reads them.
"""

import grp
import ipaddress
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from upgrades.prompts import CONFIGURE_KEYS, INSTALL_KEYS, Answers, is_yes, yes_no
from upgrades.services import LICENSE_TEXT
from vtmadmin.services.licensing import LicenseInvalid, license_parse
from vtmadmin.services.nodesettings import node_settings_path, node_settings_read, node_settings_write
from vtmadmin.services.processes import processes_stop

KEYS = CONFIGURE_KEYS | INSTALL_KEYS  # a replay file made for zinstall is passed on to configure
MIN_PASSWORD = 6


def local_addresses() -> set[str]:
    """The IP addresses of this host's interfaces."""
    addresses = {"127.0.0.1", "::1"}
    try:
        out = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True, timeout=10).stdout
        for link in json.loads(out or "[]"):
            addresses.update(a["local"] for a in link.get("addr_info", []) if "local" in a)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        pass
    return addresses


def resolves(name: str) -> bool:
    try:
        socket.getaddrinfo(name, None)
        return True
    except (socket.gaierror, UnicodeError):
        return False


def _check_user(name: str) -> str | None:
    try:
        pwd.getpwnam(name)
        return None
    except KeyError:
        return f"There is no user '{name}' on this machine"


def _check_group(name: str) -> str | None:
    try:
        grp.getgrnam(name)
        return None
    except KeyError:
        return f"There is no group '{name}' on this machine"


def _check_local_ip(answer: str) -> str | None:
    try:
        ip = str(ipaddress.ip_address(answer.strip()))
    except ValueError:
        return f"'{answer}' is not an IP address"
    if ip not in local_addresses():
        return f"{ip} is not an address of this machine"
    return None


def _check_password(answer: str) -> str | None:
    if len(answer) < MIN_PASSWORD:
        return f"The password must be at least {MIN_PASSWORD} characters long"
    return None


def systemd_unit_dir() -> Path:
    return Path(os.environ.get("VTM_SYSTEMD_DIR", "/etc/systemd/system"))


def unit_name() -> str:
    return "zeus-" + str(settings.ZEUSHOME).strip("/").replace("/", "-") + ".service"


def start_at_boot_install() -> str:
    """Install a systemd unit that runs start-zeus at boot; say what was done, or why it could not be."""
    unit_dir = systemd_unit_dir()
    if "VTM_SYSTEMD_DIR" not in os.environ and not Path("/run/systemd/system").is_dir():
        return "This machine does not run systemd: start the traffic manager at boot with your init system " \
               f"by running {settings.ZEUSHOME}/start-zeus"
    unit = unit_dir / unit_name()
    unit_dir.mkdir(parents=True, exist_ok=True)
    home = settings.ZEUSHOME
    unit.write_text(
        f"[Unit]\nDescription=Traffic Manager ({home})\nAfter=network-online.target\n\n"
        f"[Service]\nType=forking\nRemainAfterExit=yes\nExecStart={home}/start-zeus\nExecStop={home}/stop-zeus\n\n"
        "[Install]\nWantedBy=multi-user.target\n")
    if shutil.which("systemctl") and "VTM_SYSTEMD_DIR" not in os.environ:
        subprocess.run(["systemctl", "daemon-reload"], capture_output=True)
        subprocess.run(["systemctl", "enable", unit.name], capture_output=True)
    return f"The traffic manager will start at boot ({unit})"


def start_at_boot_remove() -> None:
    unit = systemd_unit_dir() / unit_name()
    if unit.exists():
        if shutil.which("systemctl") and "VTM_SYSTEMD_DIR" not in os.environ:
            subprocess.run(["systemctl", "disable", unit.name], capture_output=True)
        unit.unlink()


def configuration_clear() -> list[str]:
    """Option 3: stop the software and return to the state zinstall left (the software stays)."""
    lines = processes_stop()
    start_at_boot_remove()
    home = Path(settings.ZEUSHOME)
    for path in (home / "admin" / "var", home / "admin" / "etc", home / "zxtm" / "conf", home / "run", home / "log"):
        shutil.rmtree(path, ignore_errors=True)
    lines.append("All configuration has been cleared; the software is still installed. "
                 f"Run {home}/zxtm/configure to configure it again.")
    return lines


def _discover_clusters(answers: Answers) -> list[list[str]]:
    answers.out.write("Searching for Traffic Manager clusters ... ")
    from clusters.discovery import discover_clusters

    found = discover_clusters(timeout=1.0)
    answers.say("done")
    return found


def _choose_cluster(answers: Answers, previous: dict) -> str:
    while True:
        clusters = _discover_clusters(answers)
        answers.say()
        answers.say("Which Traffic Manager cluster should this installation be added to?")
        answers.say("  C) Create a new cluster")
        for i, members in enumerate(clusters, 1):
            answers.say(f"  {i}) Cluster {i}: " + "\n                ".join(members))
        answers.say("  S) Specify another machine to contact")
        answers.say("  R) Refresh the cluster list")
        valid = {"C", "S", "R"} | {str(i) for i in range(1, len(clusters) + 1)}
        choice = answers.ask("zxtm!cluster", "Select option", default="C",
                             check=lambda a, valid=valid: None if a.strip().upper() in valid
                             else "Choose one of the options listed")
        choice = choice.strip().upper()
        if choice == "R":
            continue
        if choice != "C":
            why = ("Joining an existing cluster from configure is not available in this version yet: create a new "
                   "cluster (C) here, then join it from the other traffic manager's Admin UI when clustering is "
                   "available.")
            answers.say(why)
            if answers.noninteractive:
                raise SystemExit(why)
            continue
        return choice


def _choose_name(answers: Answers, previous: dict, bind_ip: str | None) -> str:
    current = previous.get("VTM_NAME")
    if current:
        answers.say("Each Traffic Manager in your cluster must have a unique name, resolvable by each member of the "
                    "cluster.")
        answers.say(f"This Traffic Manager is currently called '{current}'.")
        answers.say("Would you like to:\n  1. Keep the current Traffic Manager name (default)\n"
                    "  2. Specify a new resolvable hostname\n  3. Use an IP address instead of a hostname")
        option = answers.ask("zxtm!name_option", "Choose option", default="1",
                             check=lambda a: None if a in ("1", "2", "3") else "Choose 1, 2 or 3")
        if option == "1":
            return current
        if option == "2":
            return answers.ask("zxtm!name", "New hostname",
                               check=lambda a: None if resolves(a) else f"'{a}' does not resolve to an address")
        return answers.ask("zxtm!name", "IP address to use", default=bind_ip, check=_check_local_ip)
    name = socket.getfqdn()
    if bind_ip:
        return bind_ip if not resolves(name) else name
    if resolves(name):
        return name
    answers.say(f"This machine's hostname '{name}' cannot be resolved.")
    use_ip = answers.ask("zxtm!use_ip_for_name", "Use an IP address to identify this Traffic Manager? (Y/N)",
                         default="Y", check=yes_no("Y"))
    if is_yes(use_ip):
        return answers.ask("zxtm!name", "IP address to use", check=_check_local_ip)
    return name


def configure_run(*, answers: Answers, start: bool = True) -> int:
    """Walk the configuration steps; returns an exit status."""
    say = answers.say
    say("Traffic Manager Configuration Program")
    say()
    say("This program will perform the initial configuration of the Traffic Manager.")
    say()
    previous = node_settings_read()
    first_time = not previous.get("configured")
    if not first_time:
        say("Initial configuration has already been performed on this Traffic Manager installation.")
        say()
        say("  1. Quit (default)\n  2. Perform the post-install configuration again\n  3. Clear all configuration")
        say()
        option = answers.ask("zxtm!reconfigure_option", "Choose option", default="1",
                             check=lambda a: None if a.strip() in ("1", "2", "3") else "Choose 1, 2 or 3")
        if option.strip() == "1":
            answers.save()
            return 0
        if option.strip() == "3":
            answers.save()
            for line in configuration_clear():
                say(line)
            return 0
    else:
        say(LICENSE_TEXT)
        accepted = answers.ask("accept-license", "Type 'accept' to accept the terms of the license agreement")
        if accepted.strip().lower() != "accept":
            say("You did not accept the license agreement: the traffic manager has not been configured.")
            return 1

    license_text = None
    path = answers.ask("zxtm!license_key", "Enter the full path of your license key file (blank for the "
                                           "Community Edition)", default=previous.get("license_key_file", ""),
                       check=lambda a: None if not a or Path(a).is_file() else f"There is no file {a}")
    if path:
        license_text = Path(path).read_text(errors="replace")
        try:
            found = license_parse(license_text)
            say(f"License key for {found.licensee}, valid until {found.expires}.")
        except LicenseInvalid as e:
            say(f"The license key is not valid: {e}.")
            use = answers.ask("zxtm!use_invalid_key_license", "Install it anyway (the Community Edition applies "
                                                             "until a valid key is added)? (Y/N)", default="N",
                              check=yes_no("N"))
            if not is_yes(use):
                license_text = None
                path = ""
    else:
        say("No license key: the Traffic Manager will run as the Community Edition.")

    default_group = "nogroup" if _check_group("nogroup") is None else "nobody"
    user = answers.ask("zxtm!user", "User to run as", default=previous.get("VTM_RUN_USER", "nobody"),
                       check=_check_user)
    group = answers.ask("zxtm!group", "Group to run as", default=previous.get("VTM_RUN_GROUP", default_group),
                        check=_check_group)

    bind_ip = None
    prior_ip = previous.get("VTM_BIND_ADDRESS") if previous.get("VTM_BIND_ADDRESS") not in (None, "0.0.0.0") else None
    restrict = answers.ask("zxtm!unique_bind", "Restrict the software's internal management traffic to a single "
                                               "IP address? (Y/N)", default="Y" if prior_ip else "N",
                           check=lambda a: None if a.strip().lower() in ("y", "yes", "n", "no")
                           or _check_local_ip(a) is None else "Answer Y or N (or give a local IP address)")
    if _check_local_ip(restrict) is None:
        bind_ip = str(ipaddress.ip_address(restrict.strip()))
    elif is_yes(restrict):
        bind_ip = answers.ask("zxtm!bindip", "IP address for management traffic", default=prior_ip,
                              check=_check_local_ip)

    name = _choose_name(answers, previous, bind_ip)
    at_boot = answers.ask("start_at_boot", "Start the Traffic Manager when the machine boots? (Y/N)",
                          default="Y" if previous.get("start_at_boot", True) else "N", check=yes_no("Y"))

    password = None
    if first_time:
        _choose_cluster(answers, previous)
        password = answers.ask_new_password("admin!password", "Please choose a password for the admin server",
                                            check=_check_password)
    answers.save()

    values = dict(previous)
    values.update({"configured": True, "VTM_NAME": name, "VTM_RUN_USER": user, "VTM_RUN_GROUP": group,
                   "VTM_BIND_ADDRESS": bind_ip or "0.0.0.0", "start_at_boot": is_yes(at_boot),
                   "license_key_file": path})
    if previous.get("VTM_NAME") and previous["VTM_NAME"] != name:
        values["previous_name"] = previous["VTM_NAME"]
    node_settings_path().parent.mkdir(parents=True, exist_ok=True)
    node_settings_write(values)
    say(start_at_boot_install() if is_yes(at_boot) else "The Traffic Manager will not start at boot.")
    if not is_yes(at_boot):
        start_at_boot_remove()
    return _apply(password=password, license_text=license_text, start=start, answers=answers)


def _apply(*, password: str | None, license_text: str | None, start: bool, answers: Answers) -> int:
    """Prepare (and start) the node in a fresh process that reads the new settings."""
    command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "start_tm", "--from-configure"]
    if not start:
        command.append("--prepare-only")
    stdin = json.dumps({"admin_password": password, "license_key": license_text})
    env = dict(os.environ, ZEUSHOME=str(settings.ZEUSHOME))
    result = subprocess.run(command, input=stdin, text=True, capture_output=True, env=env)
    if result.returncode != 0:
        answers.say(result.stdout + result.stderr)
        answers.say("The Traffic Manager could not be configured.")
        return 1
    answers.say(result.stdout.rstrip())
    return 0
