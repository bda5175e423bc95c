"""Fixtures for the admin side: a bootstrapped configuration and REST API clients."""

import base64

import pytest
from rest_framework.test import APIClient

from vtmadmin.services.bootstrap import config_bootstrap
from vtmadmin.services.users import user_set_password

ADMIN_PASSWORD = "s3cret-pass"
BASE = "/api/tm/8.3/config/active"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def tm(db):
    """A traffic manager as it is after its first start."""
    config_bootstrap()
    user_set_password(name="admin", password=ADMIN_PASSWORD)


@pytest.fixture
def api(tm):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic("admin", ADMIN_PASSWORD))
    client.defaults["wsgi.url_scheme"] = "https"
    return client


@pytest.fixture
def anon(tm):
    return APIClient()


def put(api, path, body, **kw):
    return api.put(f"{BASE}/{path}", body, format="json", **kw)
