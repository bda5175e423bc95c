"""TLS contexts: SSL offload for virtual servers (SNI picks the certificate) and re-encryption to nodes."""

from __future__ import annotations

import os
import ssl
import tempfile

from .config import ConfigError, EngineConfig, PoolConfig, VirtualServerConfig


def _load_key(ctx: ssl.SSLContext, public: str, private: str, where: str) -> None:
    # ssl can only load certificates from files: write them to a private temporary directory, then remove them.
    with tempfile.TemporaryDirectory(prefix="vtm-cert-") as d:
        cert_path = os.path.join(d, "cert.pem")
        key_path = os.path.join(d, "key.pem")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(private)
        with open(cert_path, "w") as f:
            f.write(public)
        try:
            ctx.load_cert_chain(cert_path, key_path)
        except (ssl.SSLError, OSError) as e:
            raise ConfigError(f"{where}: the certificate or private key cannot be used: {e}") from None


def _versions(ctx: ssl.SSLContext, tls12: bool, tls13: bool, where: str) -> None:
    if not (tls12 or tls13):
        raise ConfigError(f"{where}: TLS 1.2 and TLS 1.3 are both disabled")
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2 if tls12 else ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2


def _flag(value: str, default: bool) -> bool:
    return default if value == "use_default" else value == "enabled"


def server_context(vs: VirtualServerConfig, cfg: EngineConfig) -> ssl.SSLContext:
    """The SSL context of an ssl_decrypt virtual server; SNI switches to a host-mapped certificate."""
    where = f"virtual_servers.{vs.name}.ssl"
    tls12 = _flag(vs.ssl_support_tls1_2, cfg.ssl_support_tls1_2)
    tls13 = _flag(vs.ssl_support_tls1_3, cfg.ssl_support_tls1_3)

    def make(cert_name: str) -> ssl.SSLContext:
        key = cfg.ssl_server_keys.get(cert_name)
        if key is None:
            raise ConfigError(f"{where}: certificate {cert_name!r} does not exist in ssl_server_keys")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        _versions(ctx, tls12, tls13, where)
        _load_key(ctx, key.public, key.private, f"ssl_server_keys.{cert_name}")
        if vs.kind == "http":
            ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    if not vs.ssl_server_cert_default:
        raise ConfigError(f"{where}.server_cert_default: an SSL-decrypting virtual server needs a certificate")
    default = make(vs.ssl_server_cert_default)
    by_host: dict[str, ssl.SSLContext] = {}
    for m in vs.ssl_server_cert_host_mapping:
        by_host[m.host.lower()] = make(m.certificate)
    if by_host:

        def pick(sslobj, server_name, _ctx):
            if not server_name:
                return None
            name = server_name.lower()
            ctx = by_host.get(name)
            if ctx is None and "." in name:
                ctx = by_host.get("*." + name.split(".", 1)[1])
            if ctx is not None:
                sslobj.context = ctx
            return None

        default.sni_callback = pick
    return default


def client_context(pool: PoolConfig, cfg: EngineConfig) -> ssl.SSLContext:
    """The context a pool uses to re-encrypt to its nodes (verifies certificates only with strict_verify)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _versions(ctx, _flag(pool.ssl_support_tls1_2, cfg.ssl_support_tls1_2),
              _flag(pool.ssl_support_tls1_3, cfg.ssl_support_tls1_3), f"pools.{pool.name}.ssl")
    if pool.ssl_strict_verify:
        ctx.load_default_certs()
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
