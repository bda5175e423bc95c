"""The admin server's own SSL certificate: self-signed, made at first start, and its fingerprints."""

import datetime
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

from vtmadmin.services.engine import write_atomically


def admin_certificate_paths() -> tuple[Path, Path]:
    """The certificate and key files, made now if they do not exist yet."""
    etc = Path(settings.ZEUSHOME) / "admin" / "etc"
    cert, key = etc / "admin.public", etc / "admin.private"
    if not (cert.exists() and key.exists()):
        cert_pem, key_pem = self_signed_certificate(common_name=socket.getfqdn() or settings.TM_NAME)
        write_atomically(key, key_pem, mode=0o600)
        write_atomically(cert, cert_pem, mode=0o644)
    return cert, key


def self_signed_certificate(*, common_name: str, days: int = 3650) -> tuple[bytes, bytes]:
    """A new RSA 2048 key and a self-signed certificate for it, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name[:64])]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def certificate_fingerprints(pem: bytes) -> dict[str, str]:
    """SHA-1 and SHA-256 fingerprints, as colon-separated upper-case hex."""
    cert = x509.load_pem_x509_certificate(pem)
    return {
        algo.name: ":".join(f"{b:02X}" for b in cert.fingerprint(algo))
        for algo in (hashes.SHA1(), hashes.SHA256())  # noqa: S303 - SHA-1 is what the guide shows users
    }
