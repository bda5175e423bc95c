"""Admin UI forms for pools and what pools use: monitors, persistence classes, bandwidth classes."""

import re

from django import forms

from pools.choices import (
    ALGORITHM_CHOICES,
    BANDWIDTH_SHARING_CHOICES,
    MONITOR_TYPE_CHOICES,
    NODE_STATE_CHOICES,
    PERSISTENCE_FAILURE_CHOICES,
    PERSISTENCE_TYPE_CHOICES,
)
from vtmadmin.generic import ConfigObjectForm, name_choices, user_words

_ROW = re.compile(r" row (\d+) ([a-z_]+): ")


class NodeRowForm(forms.Form):
    """One row of a pool's nodes table."""

    node = forms.CharField(required=False, label="Node",
                           widget=forms.TextInput(attrs={"placeholder": "host:port", "aria-label": "Node (host:port)"}))
    state = forms.ChoiceField(choices=NODE_STATE_CHOICES, initial="active", required=False,
                              widget=forms.Select(attrs={"aria-label": "State"}))
    weight = forms.IntegerField(initial=1, required=False, widget=forms.NumberInput(attrs={"aria-label": "Weight"}))
    priority = forms.IntegerField(initial=1, required=False,
                                  widget=forms.NumberInput(attrs={"aria-label": "Priority"}))


NodeFormSet = forms.formset_factory(NodeRowForm, extra=3, can_delete=True)


class PoolForm(ConfigObjectForm):
    otype_path = "pools"
    keys = {
        "algorithm": ("load_balancing", "algorithm"),
        "monitors": ("basic", "monitors"),
        "persistence_class": ("basic", "persistence_class"),
        "bandwidth_class": ("basic", "bandwidth_class"),
        "failure_pool": ("basic", "failure_pool"),
        "note": ("basic", "note"),
    }

    algorithm = forms.ChoiceField(label="Load balancing algorithm", choices=ALGORITHM_CHOICES)
    monitors = forms.MultipleChoiceField(label="Health monitors", required=False,
                                         widget=forms.CheckboxSelectMultiple)
    persistence_class = forms.ChoiceField(label="Session persistence", required=False)
    bandwidth_class = forms.ChoiceField(label="Bandwidth class", required=False)
    failure_pool = forms.ChoiceField(label="Failure pool", required=False,
                                     help_text="Where traffic goes when every node of this pool has failed")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def setup(self):
        basic = self.full["basic"]
        self.fields["monitors"].choices = name_choices("monitors", keep=basic["monitors"])
        self.fields["persistence_class"].choices = name_choices("persistence", blank="(none)",
                                                                keep=[basic["persistence_class"]])
        self.fields["bandwidth_class"].choices = name_choices("bandwidth", blank="(none)",
                                                              keep=[basic["bandwidth_class"]])
        self.fields["failure_pool"].choices = name_choices("pools", blank="(none)", keep=[basic["failure_pool"]])
        rows = [{k: row.get(k) for k in ("node", "state", "weight", "priority")} for row in basic["nodes_table"]]
        self.nodes = NodeFormSet(self.data if self.is_bound else None, initial=rows, prefix="nodes")

    def node_rows(self) -> list[tuple[int, dict]]:
        """(form index, row) of every row the user kept: a node given, delete not ticked."""
        rows = []
        for i, form in enumerate(self.nodes.forms):
            data = form.cleaned_data
            if not data.get("node") or data.get("DELETE"):
                continue
            row = {"node": data["node"].strip(), "state": data.get("state") or "active"}
            row["weight"] = data["weight"] if data.get("weight") is not None else 1
            row["priority"] = data["priority"] if data.get("priority") is not None else 1
            rows.append((i, row))
        return rows

    def extra_properties(self) -> dict:
        rows = [row for _, row in self.node_rows()]
        stored = [{k: r.get(k) for k in ("node", "state", "weight", "priority")} for r in self.full["basic"]["nodes_table"]]
        if rows != stored or self.creating:
            return {"basic": {"nodes_table": rows}}
        return {}

    def clean(self):
        if not self.nodes.is_valid():
            self.add_error(None, "Correct the nodes table below.")
            return self.cleaned_data
        return super().clean()

    def add_table_error(self, section, key, text):
        if (section, key) != ("basic", "nodes_table"):
            return False
        match = _ROW.search(text)
        kept = self.node_rows()
        if match and 0 < int(match.group(1)) <= len(kept):
            index, _ = kept[int(match.group(1)) - 1]
            column = match.group(2) if match.group(2) in ("node", "state", "weight", "priority") else None
            self.nodes.forms[index].add_error(column, text[match.end():])
        self.add_error(None, f"Nodes: {user_words(text)}")
        return True


class MonitorForm(ConfigObjectForm):
    otype_path = "monitors"
    keys = {
        "type": ("basic", "type"),
        "delay": ("basic", "delay"),
        "timeout": ("basic", "timeout"),
        "failures": ("basic", "failures"),
        "use_ssl": ("basic", "use_ssl"),
        "http_path": ("http", "path"),
        "http_host_header": ("http", "host_header"),
        "http_status_regex": ("http", "status_regex"),
        "http_body_regex": ("http", "body_regex"),
        "tcp_write_string": ("tcp", "write_string"),
        "tcp_response_regex": ("tcp", "response_regex"),
        "note": ("basic", "note"),
    }

    type = forms.ChoiceField(choices=MONITOR_TYPE_CHOICES)
    delay = forms.IntegerField(label="Delay (seconds)", help_text="Minimum time between two checks")
    timeout = forms.IntegerField(label="Timeout (seconds)")
    failures = forms.IntegerField(help_text="Failed checks in a row before a node is marked as failed")
    use_ssl = forms.BooleanField(label="Use SSL", required=False)
    http_path = forms.CharField(label="HTTP path", required=False)
    http_host_header = forms.CharField(label="HTTP Host header", required=False)
    http_status_regex = forms.CharField(label="HTTP status regex", required=False)
    http_body_regex = forms.CharField(label="HTTP body regex", required=False)
    tcp_write_string = forms.CharField(label="TCP write string", required=False)
    tcp_response_regex = forms.CharField(label="TCP response regex", required=False)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PersistenceForm(ConfigObjectForm):
    otype_path = "persistence"
    keys = {
        "type": ("basic", "type"),
        "cookie": ("basic", "cookie"),
        "failure_mode": ("basic", "failure_mode"),
        "url": ("basic", "url"),
        "note": ("basic", "note"),
    }

    type = forms.ChoiceField(label="Persistence type", choices=PERSISTENCE_TYPE_CHOICES)
    cookie = forms.CharField(label="Cookie name", required=False, help_text="For cookie persistence")
    failure_mode = forms.ChoiceField(label="If the node fails", choices=PERSISTENCE_FAILURE_CHOICES)
    url = forms.CharField(label="Redirect URL", required=False, help_text="When the failure mode is 'redirect'")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class BandwidthForm(ConfigObjectForm):
    otype_path = "bandwidth"
    keys = {"maximum": ("basic", "maximum"), "sharing": ("basic", "sharing"), "note": ("basic", "note")}

    maximum = forms.IntegerField(label="Maximum bandwidth (kbit/s)")
    sharing = forms.ChoiceField(label="Shared by", choices=BANDWIDTH_SHARING_CHOICES)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
