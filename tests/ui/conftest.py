"""Fixtures for the Admin UI: a bootstrapped traffic manager and a logged-in browser session (Django's client)."""

import pytest
from django.core.cache import cache
from django.test import Client

from vtmadmin.services.bootstrap import config_bootstrap
from vtmadmin.services.users import user_set_password

ADMIN_PASSWORD = "s3cret-pass"


@pytest.fixture
def tm(db, settings, tmp_path):
    """A traffic manager as it is after its first start; the engine's control socket does not answer."""
    settings.ENGINE_CONTROL_SOCKET = tmp_path / "no-engine.sock"
    settings.BACKUP_DIR = tmp_path / "backups"
    cache.clear()
    config_bootstrap()
    user_set_password(name="admin", password=ADMIN_PASSWORD)


class HTTPSClient(Client):
    """Django's test client speaking HTTPS, as the admin server only does."""

    def generic(self, method, path, data="", content_type="application/octet-stream", secure=False, **extra):
        return super().generic(method, path, data, content_type, secure=True, **extra)


def https_client() -> Client:
    return HTTPSClient(HTTP_HOST="tm1.test")


@pytest.fixture
def anon(tm):
    return https_client()


@pytest.fixture
def ui(tm):
    client = https_client()
    response = client.post("/login/", {"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client
