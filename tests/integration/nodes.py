"""Helpers for tests that run whole traffic managers: each in its own $ZEUSHOME, on its own ports."""

import base64
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """A traffic manager in its own $ZEUSHOME, on its own ports."""

    def __init__(self, home: Path):
        self.home = home
        self.admin_port, self.rest_port = free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("VTM_", "DJANGO_"))}
        self.env.update(ZEUSHOME=str(home), VTM_ADMIN_PORT=str(self.admin_port), VTM_REST_PORT=str(self.rest_port),
                        VTM_BIND_ADDRESS="127.0.0.1", VTM_NAME="itest-tm", DJANGO_SETTINGS_MODULE="vtmadmin.settings")

    def manage(self, *args, check=True) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                                text=True, timeout=120)
        assert not check or result.returncode == 0, result.stdout + result.stderr
        return result

    def request(self, method: str, path: str, body: bytes | None = None, password: str | None = None,
                content_type="application/json"):
        req = urllib.request.Request(f"https://127.0.0.1:{self.rest_port}{path}", data=body, method=method)
        auth = base64.b64encode(f"admin:{password or self.password}".encode()).decode()
        req.add_header("Authorization", f"Basic {auth}")
        if body is not None:
            req.add_header("Content-Type", content_type)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    @property
    def password(self) -> str:
        return (self.home / "admin" / "etc" / "admin.password").read_text().strip()


def wait_until(predicate, timeout=30.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
