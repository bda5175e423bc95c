"""Enumerations of the cluster's objects (values are the vTM schema's)."""

TIP_MODE_CHOICES = [
    ("singlehosted", "Single-hosted: each address is raised on one traffic manager"),
    ("multihosted", "Multi-hosted: each address is raised on every traffic manager"),
    ("rhi", "Route health injection"),
]
