"""License keys: signed, expiring, and the Community Edition when there is none that is valid."""

import base64
import datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vtmadmin.services.licensing import LicenseInvalid, license_limits, license_parse, license_sign

from .conftest import BASE


@pytest.fixture
def issuer(tmp_path, monkeypatch):
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    path = tmp_path / "licensing.pub"
    path.write_text(base64.b64encode(pub).decode())
    monkeypatch.setenv("VTM_LICENSE_PUBLIC_KEY", str(path))
    monkeypatch.delenv("VTM_BANDWIDTH_LIMIT_KBPS", raising=False)
    return key


def fields(**over):
    f = {"licensee": "Example Ltd", "serial": "EX-1", "expires": "2099-12-31", "bandwidth_limit_kbps": 0,
         "max_cluster_size": 64}
    f.update(over)
    return f


def test_valid_key_grants_its_terms(issuer):
    lic = license_parse(license_sign(fields=fields(), private_key=issuer))
    assert lic.licensee == "Example Ltd" and lic.max_cluster_size == 64


def test_expired_key_is_refused(issuer):
    text = license_sign(fields=fields(expires="2020-01-01"), private_key=issuer)
    with pytest.raises(LicenseInvalid, match="expired on 2020-01-01"):
        license_parse(text)


def test_key_signed_by_someone_else_is_refused(issuer):
    text = license_sign(fields=fields(), private_key=Ed25519PrivateKey.generate())
    with pytest.raises(LicenseInvalid, match="signature"):
        license_parse(text)


def test_changed_key_is_refused(issuer):
    text = license_sign(fields=fields(), private_key=issuer).replace('"max_cluster_size": 64', '"max_cluster_size": 640')
    with pytest.raises(LicenseInvalid, match="signature"):
        license_parse(text)


@pytest.mark.parametrize("text", ["", "garbage", "{}", '{"license": {}, "signature": "!!"}'])
def test_garbage_is_refused(issuer, text):
    with pytest.raises(LicenseInvalid):
        license_parse(text)


def test_community_edition_without_a_valid_key(api, issuer):
    assert license_limits()["edition"] == "community"
    assert license_limits()["bandwidth_limit_kbps"] == 10_000
    assert license_limits()["max_cluster_size"] == 4
    api.put(f"{BASE}/license_keys/old", license_sign(fields=fields(expires=str(datetime.date(2001, 1, 1))),
                                                      private_key=issuer), content_type="application/octet-stream")
    assert license_limits()["edition"] == "community"
    diag = api.get("/api/tm/8.3/status/local_tm/diagnose").json()["diagnose"]
    assert any("expired" in p for e in diag for p in e["problems"])


def test_valid_key_lifts_the_limits_and_is_shown(api, issuer):
    api.put(f"{BASE}/license_keys/main", license_sign(fields=fields(), private_key=issuer),
            content_type="application/octet-stream")
    shown = api.get("/api/tm/8.3/status/local_tm/license").json()["license"]
    assert shown["edition"] == "licensed" and shown["bandwidth_limit_kbps"] == 0
    assert shown["licensee"] == "Example Ltd"


def test_community_edition_caps_the_cluster_at_four_traffic_managers(api):
    for i in range(3):
        assert api.put(f"{BASE}/traffic_managers/tm-extra-{i}", {"properties": {}}, format="json").status_code == 201
    r = api.put(f"{BASE}/traffic_managers/tm-fifth", {"properties": {}}, format="json")
    assert r.status_code == 400
    assert "at most 4 traffic managers" in r.json()["error_text"]
    assert api.get(f"{BASE}/traffic_managers/tm-fifth").status_code == 404
