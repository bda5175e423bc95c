"""Admin UI pages of virtual servers, rules and SSL server certificates."""

from cryptography import x509

from virtualservers.forms import RuleForm, SSLServerKeyForm, VirtualServerForm
from vtmadmin.generic import Column, ObjectPage
from vtmadmin.registry import TYPES
from vtmadmin.services.certificates import certificate_fingerprints


def certificate_details(name: str) -> dict:
    """Subject, issuer, validity and fingerprints of a stored certificate (empty when it does not parse)."""
    pem = TYPES["ssl/server_keys"].model.objects.get(name=name).properties.get("basic", {}).get("public", "")
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return {"certificate": None}
    return {"certificate": {
        "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
        "not_before": cert.not_valid_before_utc, "not_after": cert.not_valid_after_utc,
        "self_signed": cert.subject == cert.issuer, **certificate_fingerprints(pem.encode()),
    }}


def virtual_server_state(name: str) -> dict:
    """Whether the engine runs the virtual server, and why not."""
    from vtmadmin.services.ui_status import engine_query

    health = engine_query({"cmd": "health"})
    if health is None:
        return {"service_state": {"state": "unknown", "reason": "The traffic engine is not running."}}
    vs = health.get("virtual_servers", {}).get(name)
    if vs is None:
        return {"service_state": {"state": "stopped", "reason": "The engine has not loaded it yet, or it is disabled."}}
    state = {"state": "running" if vs.get("running") else "stopped", "reason": vs.get("reason", "")}
    if vs.get("route_memo"):
        state["note"] = ("Its request rules only route by the request line and Host: the engine runs them once for "
                         "each distinct request and remembers the pool they chose (their statistics count every one).")
    return {"service_state": state}


def rule_context(name: str) -> dict:
    from virtualservers.forms import rule_problems

    text = TYPES["rules"].model.objects.get(name=name).text
    problems = rule_problems(name, text)
    return {"problems": problems, "error_lines": {p["line"] for p in problems}, "warnings": [],
            "lines": list(enumerate(text.split("\n"), 1))}


VIRTUAL_SERVERS = ObjectPage(
    "virtual_servers", "virtual-servers", "virtual server", "Virtual Servers", VirtualServerForm,
    columns=(
        Column("Protocol", lambda n, p: p["basic"]["protocol"].upper()),
        Column("Port", lambda n, p: p["basic"]["port"]),
        Column("Pool", lambda n, p: p["basic"]["pool"]),
        Column("Enabled", lambda n, p: "Yes" if p["basic"]["enabled"] else "No"),
    ),
    description="A virtual server listens for traffic on a port, runs its rules and sends the traffic to a pool.",
    extra_context=virtual_server_state,
)
RULES = ObjectPage(
    "rules", "rules", "rule", "Rules", RuleForm,
    columns=(Column("Lines", lambda n, text: len(text.splitlines())),),
    description="TrafficScript rules inspect and change requests and responses, and choose pools.",
    view_template="virtualservers/rule.html", edit_template="virtualservers/rule_edit.html",
    extra_context=rule_context,
)
SSL_SERVER_KEYS = ObjectPage(
    "ssl/server_keys", "ssl-server-keys", "SSL server certificate", "SSL Server Certificates", SSLServerKeyForm,
    columns=(Column("Note", lambda n, p: p["basic"]["note"]),),
    description="Certificates and private keys that virtual servers use to decrypt SSL traffic.",
    view_template="virtualservers/certificate.html", extra_context=certificate_details,
)
