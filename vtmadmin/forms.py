"""Admin UI forms of the home, login, wizard and System pages."""

from django import forms

from virtualservers.choices import PROTOCOL_CHOICES
from vtmadmin import schema
from vtmadmin.generic import user_words
from vtmadmin.services.ui_wizard import DEFAULT_PORTS, nodes_parse, service_name_taken


class LoginForm(forms.Form):
    label_suffix = ""
    username = forms.CharField(label="Username", max_length=255,
                               widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}))
    password = forms.CharField(label="Password", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class ServiceBasicsForm(forms.Form):
    """Step 1 of Manage a New Service: the name, protocol and port of the service."""

    label_suffix = ""
    name = forms.CharField(label="Service name", max_length=255,
                           help_text="Names the virtual server and its pool",
                           widget=forms.TextInput(attrs={"autofocus": True}))
    protocol = forms.ChoiceField(choices=PROTOCOL_CHOICES, initial="http")
    port = forms.IntegerField(initial=80, help_text="The port the service listens on")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if why := schema.name_error(name) or service_name_taken(name):
            raise forms.ValidationError(why)
        return name

    def clean(self):
        data = super().clean()
        if "port" in data and "protocol" in data:
            try:
                schema.validate_properties("virtual_server", {"basic": {"port": data["port"],
                                                                        "protocol": data["protocol"]}})
            except schema.SchemaErrors as e:
                for key, err in e.info.get("basic", {}).items():
                    self.add_error(key, user_words(err["error_text"]))
        return data


class ServiceNodesForm(forms.Form):
    """Step 2: the back-end nodes of the new pool, hostname:port, one per line."""

    label_suffix = ""
    nodes = forms.CharField(label="Back-end nodes", widget=forms.Textarea(attrs={"rows": 6, "autofocus": True,
                                                                                  "placeholder": "server1.example.com:80"}),
                            help_text="One hostname:port (or IP:port) per line, for example server1.mysite.com:80")
    probe = forms.BooleanField(label="Check that the nodes accept connections", required=False, initial=True,
                               help_text="A node that does not answer is only a warning")

    def clean_nodes(self):
        entries = nodes_parse(self.cleaned_data["nodes"])
        if not entries:
            raise forms.ValidationError("Give at least one node")
        errors = [f"Line {e.line}: {e.error}" for e in entries if e.error]
        if errors:
            raise forms.ValidationError(errors)
        names = [e.text for e in entries]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise forms.ValidationError(f"Listed more than once: {', '.join(duplicates)}")
        return self.cleaned_data["nodes"]


def wizard_default_ports() -> dict[str, int]:
    return DEFAULT_PORTS


class BackupCreateForm(forms.Form):
    label_suffix = ""
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=500)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if why := schema.name_error(name):
            raise forms.ValidationError(why)
        return name


class BackupUploadForm(forms.Form):
    label_suffix = ""
    name = forms.CharField(max_length=200, help_text="The name to store the backup under")
    archive = forms.FileField(label="Backup file (.tar)")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if why := schema.name_error(name):
            raise forms.ValidationError(why)
        return name


class LicenseUploadForm(forms.Form):
    label_suffix = ""
    name = forms.CharField(max_length=200, help_text="A name for the key, usually its file name")
    key_file = forms.FileField(label="License key file", required=False)
    key_text = forms.CharField(label="…or paste the key", required=False, widget=forms.Textarea(attrs={"rows": 5}))

    def clean(self):
        data = super().clean()
        upload = data.get("key_file")
        if upload:
            try:
                data["key_text"] = upload.read(1024 * 1024).decode()
            except UnicodeDecodeError:
                self.add_error("key_file", "A license key is a text file")
        if not data.get("key_text") and not self.errors:
            self.add_error(None, "Choose a license key file or paste the key")
        return data
