"""Admin UI pages of the cluster's objects: traffic IP groups."""

from clusters.forms import TrafficIPGroupForm
from vtmadmin.generic import Column, ObjectPage

TRAFFIC_IP_GROUPS = ObjectPage(
    "traffic_ip_groups", "traffic-ip-groups", "traffic IP group", "Traffic IP Groups", TrafficIPGroupForm,
    columns=(
        Column("IP addresses", lambda n, p: ", ".join(p["basic"]["ipaddresses"]) or "—"),
        Column("Traffic managers", lambda n, p: ", ".join(p["basic"]["machines"]) or "—"),
        Column("Enabled", lambda n, p: "Yes" if p["basic"]["enabled"] else "No"),
    ),
    description="Addresses the cluster keeps up: if the traffic manager holding one fails, another raises it.",
)
