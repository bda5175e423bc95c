"""Bringing one traffic manager up: its database, built-in configuration, admin password, processes."""

import os
import socket
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from vtmadmin.models import User
from vtmadmin.services.bootstrap import config_bootstrap
from vtmadmin.services.certificates import admin_certificate_paths, certificate_fingerprints
from vtmadmin.services.engine import engine_push
from vtmadmin.services.processes import processes_start
from vtmadmin.services.revisions import revision_latest, revision_record
from vtmadmin.services.users import generate_password, user_set_password


def password_file() -> Path:
    return Path(settings.ZEUSHOME) / "admin" / "etc" / "admin.password"


def node_prepare(*, admin_password: str | None = None) -> str | None:
    """Database, built-in objects, admin user and certificate. Returns a password it generated, if any."""
    for directory in (settings.RUN_DIR, settings.LOG_DIR, Path(settings.ZEUSHOME) / "admin" / "etc"):
        Path(directory).mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0, interactive=False)
    config_bootstrap(record=False)
    generated = None
    if admin_password is None and not User.objects.filter(name="admin").exists():
        admin_password = generated = generate_password()
    if admin_password is not None:
        user_set_password(name="admin", password=admin_password)
        path = password_file()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(admin_password + "\n")
        os.chmod(path, 0o600)
    revision = revision_record(reason="traffic manager started")
    engine_push(revision_id=revision.id)
    admin_certificate_paths()
    return generated


def node_start(*, admin_password: str | None = None) -> list[str]:
    """Prepare the node and start its processes; the lines say what a user needs to know."""
    generated = node_prepare(admin_password=admin_password)
    lines = processes_start()
    cert, _ = admin_certificate_paths()
    fingerprints = certificate_fingerprints(cert.read_bytes())
    host = settings.BIND_ADDRESS if settings.BIND_ADDRESS not in ("0.0.0.0", "::") else socket.getfqdn()
    lines += [
        "",
        f"Traffic manager '{settings.TM_NAME}' is running (ZEUSHOME={settings.ZEUSHOME}).",
        f"  Admin UI:  https://{host}:{settings.ADMIN_PORT}/",
        f"  REST API:  https://{host}:{settings.REST_PORT}/api/tm/8.3/",
        f"  SHA-1 fingerprint of the admin server's certificate:   {fingerprints['sha1']}",
        f"  SHA-256 fingerprint: {fingerprints['sha256']}",
        f"  Configuration revision {revision_latest().number}.",
    ]
    if generated:
        lines.append(f"  User 'admin', password: {generated}   (saved in {password_file()}, mode 0600)")
    else:
        lines.append(f"  User 'admin': the password you set (also in {password_file()} if it was generated)")
    return lines
