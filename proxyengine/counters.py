"""A virtual server's counters: plain integer fields the protocols add to on every connection and request, read
and aggregated only when statistics are asked for (stats.py)."""

from __future__ import annotations

VS_COUNTERS = (
    "current_conn", "max_conn", "total_conn", "total_requests", "bytes_in", "bytes_out", "discard", "direct_replies",
    "connection_errors", "connection_failures", "connect_timed_out", "keepalive_timed_out", "data_timed_out",
    "total_dgram", "udp_timed_out",
)  # fmt: skip


class VsStats:
    """Counters of one virtual server (vTM statistics/virtual_servers/<name>). Compiled, a C struct of integers
    (counters.pxd): the protocols count into it without a dictionary lookup."""

    def __init__(self):
        self.current_conn = 0
        self.max_conn = 0
        self.total_conn = 0
        self.total_requests = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.discard = 0
        self.direct_replies = 0
        self.connection_errors = 0
        self.connection_failures = 0
        self.connect_timed_out = 0
        self.keepalive_timed_out = 0
        self.data_timed_out = 0
        self.total_dgram = 0
        self.udp_timed_out = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in VS_COUNTERS}
