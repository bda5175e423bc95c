"""Admin UI forms of the cluster: traffic IP groups."""

from django import forms

from clusters.choices import TIP_MODE_CHOICES
from vtmadmin.generic import ConfigObjectForm, name_choices


class TrafficIPGroupForm(ConfigObjectForm):
    otype_path = "traffic_ip_groups"
    keys = {
        "enabled": ("basic", "enabled"),
        "ipaddresses": ("basic", "ipaddresses"),
        "machines": ("basic", "machines"),
        "mode": ("basic", "mode"),
        "note": ("basic", "note"),
    }
    list_fields = ("ipaddresses",)

    enabled = forms.BooleanField(required=False)
    ipaddresses = forms.CharField(label="IP addresses", widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="One address per line")
    machines = forms.MultipleChoiceField(label="Traffic managers", widget=forms.CheckboxSelectMultiple,
                                         help_text="The traffic managers that may raise these addresses")
    mode = forms.ChoiceField(choices=TIP_MODE_CHOICES)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def setup(self):
        self.fields["machines"].choices = name_choices("traffic_managers", keep=self.full["basic"]["machines"])
        if self.creating:
            self.initial["enabled"] = True
