"""Bringing one traffic manager up: its database, built-in configuration, admin password, processes."""

import os
import socket
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import transaction

from vtmadmin.models import User
from vtmadmin.registry import TYPES
from vtmadmin.services.bootstrap import config_bootstrap
from vtmadmin.services.certificates import admin_certificate_paths, certificate_fingerprints
from vtmadmin.services.engine import engine_push
from vtmadmin.services.nodesettings import node_settings_read, node_uuid
from vtmadmin.services.processes import processes_start
from vtmadmin.services.revisions import revision_latest, revision_record
from vtmadmin.services.users import generate_password, user_set_password


def password_file() -> Path:
    return Path(settings.ZEUSHOME) / "admin" / "etc" / "admin.password"


def _rename_traffic_manager(old: str, new: str) -> None:
    """configure changed this node's name: its entry and the traffic IP groups follow."""
    model = TYPES["traffic_managers"].model
    if old == new or not model.objects.filter(name=old).exists() or model.objects.filter(name=new).exists():
        return
    model.objects.filter(name=old).update(name=new)
    for group in TYPES["traffic_ip_groups"].model.objects.all():
        basic = group.properties.get("basic", {})
        for key in ("machines", "slaves"):
            if old in basic.get(key, []):
                basic[key] = [new if m == old else m for m in basic[key]]
        group.save()


@transaction.atomic
def _prepare_config(*, admin_password: str | None, license_text: str | None) -> str | None:
    from vtmadmin.services.config import config_object_put

    previous = node_settings_read().get("previous_name")
    if previous:
        _rename_traffic_manager(previous, settings.TM_NAME)
    config_bootstrap(record=False)
    generated = None
    if admin_password is None and not User.objects.filter(name="admin").exists():
        if node_settings_read().get("configured"):
            raise RuntimeError("There is no admin user: run configure again")
        admin_password = generated = generate_password()
    if admin_password is not None:
        user_set_password(name="admin", password=admin_password)
    if license_text:
        config_object_put(otype=TYPES["license_keys"], name="license", value=license_text,
                          reason="license key given to configure")
    return generated


def node_prepare(*, admin_password: str | None = None, license_text: str | None = None) -> str | None:
    """Database, built-in objects, admin user and certificate. Returns a password it generated, if any."""
    for directory in (settings.RUN_DIR, settings.LOG_DIR, Path(settings.ZEUSHOME) / "admin" / "etc"):
        Path(directory).mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0, interactive=False)
    generated = _prepare_config(admin_password=admin_password, license_text=license_text)
    if generated and not node_settings_read().get("configured"):
        path = password_file()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(generated + "\n")
        os.chmod(path, 0o600)
    revision = revision_record(reason="traffic manager started")
    engine_push(revision_id=revision.id)
    admin_certificate_paths()
    node_uuid()
    return generated


def admin_url() -> str:
    host = settings.BIND_ADDRESS if settings.BIND_ADDRESS not in ("0.0.0.0", "::") else socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{settings.ADMIN_PORT}/"


def banner() -> list[str]:
    """What configure prints at the end: the certificate's SHA-1 fingerprint and where to log in."""
    cert, _ = admin_certificate_paths()
    fingerprints = certificate_fingerprints(cert.read_bytes())
    return [
        "**",
        "** The SHA-1 fingerprint of the admin server's SSL certificate:",
        f"**   {fingerprints['sha1']}",
        "** Keep a record of this for security verification when connecting",
        "** to the admin server with a web browser and when clustering other",
        "** Traffic Manager installations with this one.",
        "**",
        "** To configure the Traffic Manager, connect to the admin server at:",
        f"**   {admin_url()}",
        "** and login as 'admin' with your admin password.",
        "**",
    ]


def node_start(*, admin_password: str | None = None, license_text: str | None = None) -> tuple[list[str], bool]:
    """Prepare the node and start its processes; the lines say what a user needs to know; ok is False
    when a process failed to start."""
    generated = node_prepare(admin_password=admin_password, license_text=license_text)
    lines, ok = processes_start()
    lines += [
        "",
        f"Traffic manager '{settings.TM_NAME}' (ZEUSHOME={settings.ZEUSHOME}), configuration revision "
        f"{revision_latest().number}.",
        f"  Admin UI:  {admin_url()}",
        f"  REST API:  {admin_url().replace(str(settings.ADMIN_PORT), str(settings.REST_PORT))}api/tm/8.3/",
    ]
    lines += banner()
    if generated:
        lines.append(f"  User 'admin', password: {generated}   (saved in {password_file()}, mode 0600)")
    return lines, ok
