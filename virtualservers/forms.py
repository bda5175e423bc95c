"""Admin UI forms for virtual servers, rules and SSL server certificates."""

from django import forms

from virtualservers.choices import PROTOCOL_CHOICES
from vtmadmin.generic import ConfigObjectForm, name_choices
from vtmadmin.registry import TYPES
from vtmadmin.services.certificates import self_signed_certificate
from vtmadmin.services.diagnose import _check_certificate


class VirtualServerForm(ConfigObjectForm):
    otype_path = "virtual_servers"
    keys = {
        "enabled": ("basic", "enabled"),
        "protocol": ("basic", "protocol"),
        "port": ("basic", "port"),
        "pool": ("basic", "pool"),
        "request_rules": ("basic", "request_rules"),
        "response_rules": ("basic", "response_rules"),
        "ssl_decrypt": ("basic", "ssl_decrypt"),
        "server_cert_default": ("ssl", "server_cert_default"),
        "listen_on_any": ("basic", "listen_on_any"),
        "listen_on_traffic_ips": ("basic", "listen_on_traffic_ips"),
        "bandwidth_class": ("basic", "bandwidth_class"),
        "note": ("basic", "note"),
    }

    enabled = forms.BooleanField(required=False)
    protocol = forms.ChoiceField(choices=PROTOCOL_CHOICES)
    port = forms.IntegerField(help_text="The port the virtual server listens on, 1 to 65535")
    pool = forms.ChoiceField(label="Default pool", required=False)
    request_rules = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    response_rules = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    ssl_decrypt = forms.BooleanField(label="SSL decryption", required=False,
                                     help_text="Decrypt SSL traffic with the certificate below")
    server_cert_default = forms.ChoiceField(label="SSL certificate", required=False)
    listen_on_any = forms.BooleanField(label="Listen on all addresses", required=False)
    listen_on_traffic_ips = forms.MultipleChoiceField(label="Listen on traffic IP groups", required=False,
                                                      widget=forms.CheckboxSelectMultiple)
    bandwidth_class = forms.ChoiceField(label="Bandwidth class", required=False)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def setup(self):
        basic, ssl = self.full["basic"], self.full["ssl"]
        self.fields["pool"].choices = name_choices("pools", blank="(choose a pool)", keep=[basic["pool"]])
        self.fields["request_rules"].choices = name_choices("rules", keep=basic["request_rules"])
        self.fields["response_rules"].choices = name_choices("rules", keep=basic["response_rules"])
        self.fields["server_cert_default"].choices = name_choices("ssl/server_keys", blank="(none)",
                                                                  keep=[ssl["server_cert_default"]])
        self.fields["listen_on_traffic_ips"].choices = name_choices("traffic_ip_groups",
                                                                    keep=basic["listen_on_traffic_ips"])
        self.fields["bandwidth_class"].choices = name_choices("bandwidth", blank="(none)",
                                                              keep=[basic["bandwidth_class"]])
        if self.creating:
            self.initial.update(enabled=True, port=80)

    def clean_pool(self):
        pool = self.cleaned_data.get("pool")
        if not pool:
            raise forms.ValidationError("Choose the pool this virtual server sends traffic to")
        return pool


def rule_problems(name: str, text: str) -> list[dict]:
    """The compile errors of a rule, each with line, column and message (none when the engine's compiler is absent)."""
    try:
        from proxyengine.rules import check_rule
    except ImportError:
        return []
    pools = set(TYPES["pools"].model.objects.values_list("name", flat=True))
    return [{"line": e.line, "column": e.column, "message": e.message} for e in check_rule(name, text, pools=pools)]


class RuleForm(ConfigObjectForm):
    otype_path = "rules"
    text = forms.CharField(label="TrafficScript", required=False, strip=False,
                           widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "code",
                                                        "autocapitalize": "off", "wrap": "off"}))
    save_with_errors = forms.BooleanField(required=False)  # drawn by the template only when the rule has errors

    def __init__(self, data=None, *, name=None, stored=None, **kwargs):
        super().__init__(data, name=name, stored=None, **kwargs)
        self.stored = None if name is None else ""
        if stored is not None:
            self.initial["text"] = stored
        self.problems: list[dict] = []

    def value(self):
        return self.cleaned_data.get("text", "").replace("\r\n", "\n")

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        self.problems = rule_problems(cleaned["name"], self.value())
        if self.problems and not cleaned.get("save_with_errors"):
            self.add_error("text", f"The rule has {len(self.problems)} error(s), shown at their lines. "
                                   "Correct them, or save it anyway: virtual servers that use it will not start.")
        return cleaned

    def error_lines(self) -> set[int]:
        return {p["line"] for p in self.problems}


class SSLServerKeyForm(ConfigObjectForm):
    otype_path = "ssl/server_keys"
    keys = {"note": ("basic", "note"), "public": ("basic", "public"), "private": ("basic", "private")}
    view_exclude = ("public", "private", "generate", "common_name")

    generate = forms.BooleanField(label="Generate a self-signed certificate", required=False,
                                  help_text="Instead of importing one: a new 2048-bit RSA key and certificate")
    common_name = forms.CharField(label="Common name (host name)", required=False)
    public = forms.CharField(label="Certificate (PEM)", required=False,
                             widget=forms.Textarea(attrs={"rows": 6, "class": "code", "spellcheck": "false"}))
    private = forms.CharField(label="Private key (PEM)", required=False,
                              widget=forms.Textarea(attrs={"rows": 6, "class": "code", "spellcheck": "false"}),
                              help_text="Leave empty when editing to keep the stored key")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def setup(self):
        self.initial["private"] = ""  # never sent back to the browser

    def clean(self):
        data = self.cleaned_data
        if data.get("generate"):
            cn = (data.get("common_name") or data.get("name") or "").strip()
            if not cn:
                self.add_error("common_name", "Give the host name the certificate is for")
                return data
            cert, key = self_signed_certificate(common_name=cn)
            data["public"], data["private"] = cert.decode(), key.decode()
        elif self.creating and not (data.get("public") and data.get("private")):
            self.add_error(None, "Paste the certificate and its private key, or generate a self-signed certificate")
        cleaned = super().clean()
        if not self.errors:
            props = {"basic": {k: data[k] for k in ("public", "private") if data.get(k)}}
            for problem in _check_certificate(data["name"], props):
                field = "private" if "private key" in problem else "public"
                self.add_error(field, problem.split(": ", 1)[1])
        return cleaned

    def not_posted(self, fname):
        return False if fname in ("public", "private") else super().not_posted(fname)

    def properties(self):
        out = super().properties()
        if not self.cleaned_data.get("private"):
            out.get("basic", {}).pop("private", None)  # an empty box keeps the stored key
        return out
