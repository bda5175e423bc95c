"""License keys and what they allow.

A license key is a small JSON file signed with Ed25519:
    {"license": {"licensee": ..., "serial": ..., "expires": "YYYY-MM-DD",
                 "bandwidth_limit_kbps": 0, "max_cluster_size": 64},
     "signature": "<base64 Ed25519 signature of the canonical JSON of 'license'>"}
The public key that verifies keys ships with the software (licensing.pub); tests
point VTM_LICENSE_PUBLIC_KEY at their own. No key, or only invalid or expired
keys, means the Community Edition: full function, 10 Mb/s of total bandwidth,
at most 4 traffic managers in a cluster (the guide's terms).
"""

import base64
import datetime
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

COMMUNITY_EDITION = {"edition": "community", "bandwidth_limit_kbps": 10_000, "max_cluster_size": 4}
PUBLIC_KEY_FILE = Path(__file__).resolve().parent.parent / "licensing.pub"
FIELDS = {"licensee": str, "serial": str, "expires": str, "bandwidth_limit_kbps": int, "max_cluster_size": int}


class LicenseInvalid(Exception):
    """A license key that cannot be used; the message says why."""


@dataclass(frozen=True)
class License:
    licensee: str
    serial: str
    expires: datetime.date
    bandwidth_limit_kbps: int  # 0: no limit
    max_cluster_size: int

    def limits(self) -> dict:
        return {"edition": "licensed", "licensee": self.licensee, "serial": self.serial,
                "expires": self.expires.isoformat(), "bandwidth_limit_kbps": self.bandwidth_limit_kbps,
                "max_cluster_size": self.max_cluster_size}


def _public_key() -> Ed25519PublicKey:
    path = Path(os.environ.get("VTM_LICENSE_PUBLIC_KEY", PUBLIC_KEY_FILE))
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(path.read_text().strip()))


def _canonical(fields: dict) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def license_sign(*, fields: dict, private_key: Ed25519PrivateKey) -> str:
    """A signed license key file's text (used by tests and by whoever issues keys)."""
    signature = base64.b64encode(private_key.sign(_canonical(fields))).decode()
    return json.dumps({"license": fields, "signature": signature}, indent=1, sort_keys=True) + "\n"


def license_parse(text: str, *, today: datetime.date | None = None) -> License:
    """The license a key grants, or LicenseInvalid saying why it grants nothing."""
    try:
        data = json.loads(text)
        fields, signature = data["license"], base64.b64decode(data["signature"], validate=True)
    except (ValueError, KeyError, TypeError) as e:
        raise LicenseInvalid(f"This is not a license key file ({type(e).__name__})") from None
    if not isinstance(fields, dict) or set(fields) != set(FIELDS):
        raise LicenseInvalid("The license key does not hold the expected fields")
    for name, kind in FIELDS.items():
        if not isinstance(fields[name], kind) or isinstance(fields[name], bool):
            raise LicenseInvalid(f"The license key's field '{name}' is damaged")
    try:
        _public_key().verify(signature, _canonical(fields))
    except InvalidSignature:
        raise LicenseInvalid("The license key's signature is not valid: it was not issued for this software "
                             "or has been changed") from None
    try:
        expires = datetime.date.fromisoformat(fields["expires"])
    except ValueError:
        raise LicenseInvalid("The license key's expiry date is damaged") from None
    if expires < (today or datetime.date.today()):
        raise LicenseInvalid(f"The license key expired on {expires.isoformat()}")
    return License(fields["licensee"], fields["serial"], expires, fields["bandwidth_limit_kbps"],
                   fields["max_cluster_size"])


def license_in_force() -> tuple[dict, list[str]]:
    """The limits in force and, for each stored key that is not used, why."""
    from vtmadmin.models import LicenseKey

    best, problems = None, []
    for key in LicenseKey.objects.order_by("name"):
        try:
            found = license_parse(key.text)
        except LicenseInvalid as e:
            problems.append(f"license key '{key.name}': {e}")
            continue
        if best is None or found.expires > best.expires:
            best = found
    limits = best.limits() if best else dict(COMMUNITY_EDITION)
    return limits, problems


def license_limits() -> dict:
    """The limits in force. VTM_BANDWIDTH_LIMIT_KBPS (0: none) overrides the cap for tests and benchmarks."""
    limits, _ = license_in_force()
    if "VTM_BANDWIDTH_LIMIT_KBPS" in os.environ:
        limits["bandwidth_limit_kbps"] = int(os.environ["VTM_BANDWIDTH_LIMIT_KBPS"])
    return limits
