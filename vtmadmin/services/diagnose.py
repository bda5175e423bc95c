"""Problems a stored configuration may have that do not stop it being stored, as on vTM:
references to objects that do not exist yet, rules that do not compile, certificates
that do not parse. The engine keeps only the affected virtual server down."""

from vtmadmin.registry import TYPES, ObjectType
from vtmadmin.services.config import referenced_names


def _check_rule(name: str, text: str, pools: set[str]) -> list[str]:
    try:
        from proxyengine.rules import check_rule
    except ImportError:
        return []
    return [
        f"rules '{name}' line {e.line} column {e.column}: {e.message}" for e in check_rule(name, text, pools=pools)
    ]


def _check_certificate(name: str, properties: dict) -> list[str]:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    basic = properties.get("basic", {})
    problems = []
    if basic.get("public"):
        try:
            x509.load_pem_x509_certificate(basic["public"].encode())
        except ValueError as e:
            problems.append(f"ssl/server_keys '{name}': the certificate (basic.public) does not parse: {e}")
    if basic.get("private"):
        try:
            load_pem_private_key(basic["private"].encode(), password=None)
        except (ValueError, TypeError) as e:
            problems.append(f"ssl/server_keys '{name}': the private key (basic.private) does not parse: {e}")
    return problems


def object_warnings(*, otype: ObjectType, name: str, names: dict[str, set[str]] | None = None) -> list[str]:
    """The problems of one object."""
    obj = otype.model.objects.filter(name=name).first()
    if obj is None:
        return []
    if names is None:
        names = {path: set(t.model.objects.values_list("name", flat=True)) for path, t in TYPES.items()}
    problems = []
    if otype.raw:
        if otype.path == "license_keys":
            from vtmadmin.services.licensing import LicenseInvalid, license_parse

            try:
                license_parse(obj.text)
            except LicenseInvalid as e:
                problems.append(f"license_keys '{name}': {e}; it is not used")
        if otype.path == "rules":
            problems += _check_rule(name, obj.text, names["pools"])
        return problems
    for ref in otype.references:
        for target in referenced_names(obj.properties, ref):
            if target not in names[ref.target]:
                problems.append(
                    f"{otype.path} '{name}': {ref.section}.{ref.key} names {ref.target} '{target}', which does not exist"
                )
    if otype.path == "ssl/server_keys":
        problems += _check_certificate(name, obj.properties)
    if otype.path == "virtual_servers":
        basic, ssl = obj.properties.get("basic", {}), obj.properties.get("ssl", {})
        if basic.get("ssl_decrypt") and not ssl.get("server_cert_default"):
            problems.append(f"virtual_servers '{name}': ssl_decrypt is on but ssl.server_cert_default names no certificate")
    return problems


def port_conflicts() -> dict[str, str]:
    """Enabled virtual servers that want an address and port another (earlier by name) already has."""
    from vtmadmin import schema

    taken: dict[tuple, str] = {}
    conflicts = {}
    for vs in TYPES["virtual_servers"].model.objects.order_by("name"):
        basic = schema.with_defaults("virtual_server", vs.properties)["basic"]
        if not basic["enabled"]:
            continue
        kind = "udp" if basic["protocol"] in ("udp", "udpstreaming", "sipudp", "dns") else "tcp"
        hosts = ["*"] if basic["listen_on_any"] else basic["listen_on_hosts"]
        for host in hosts:
            key = (kind, host, basic["port"])
            other = taken.get(key) or (taken.get((kind, "*", basic["port"])) if host != "*" else None)
            if other is None and host == "*":
                other = next((n for (k, _, p), n in taken.items() if k == kind and p == basic["port"]), None)
            if other:
                conflicts[vs.name] = (f"virtual_servers '{vs.name}': port {basic['port']} is already used by "
                                      f"virtual server '{other}'; this one stays down")
                break
            taken[key] = vs.name
    return conflicts


def config_diagnose() -> list[dict]:
    """Every problem of the stored configuration, one entry per object that has any."""
    names = {path: set(t.model.objects.values_list("name", flat=True)) for path, t in TYPES.items()}
    conflicts = port_conflicts()
    report = []
    for path, otype in TYPES.items():
        for name in sorted(names[path]):
            problems = object_warnings(otype=otype, name=name, names=names)
            if path == "virtual_servers" and name in conflicts:
                problems.append(conflicts[name])
            if problems:
                report.append({"type": path, "name": name, "problems": problems})
    return report
