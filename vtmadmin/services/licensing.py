"""License keys and what they allow. Without a key the traffic manager runs as the Community Edition:
full function, 10 Mb/s of bandwidth, at most 4 traffic managers in a cluster (the guide's terms)."""

import os

COMMUNITY_EDITION = {"edition": "community", "bandwidth_limit_kbps": 10_000, "max_cluster_size": 4}


def license_limits() -> dict:
    """The limits in force. VTM_BANDWIDTH_LIMIT_KBPS (0: none) overrides the cap for tests and benchmarks."""
    limits = dict(COMMUNITY_EDITION)
    if "VTM_BANDWIDTH_LIMIT_KBPS" in os.environ:
        limits["bandwidth_limit_kbps"] = int(os.environ["VTM_BANDWIDTH_LIMIT_KBPS"])
    return limits
