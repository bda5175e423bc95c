"""A virtual server's settings that the protocols read on every connection or request, copied once from its
configuration, with the run-time wiring the engine gives it (its pool, its rules, its access log, its counters). Compiled, a C
struct (settings.pxd): a read is a field, not two attribute lookups (vs.cfg.x)."""

from __future__ import annotations


class VsSettings:
    """What the HTTP protocols read of a virtual server per request: its configuration (config.VirtualServerConfig)
    and what engine.VirtualServer keeps here (its pool, rules, access log and whether it is retired)."""

    def __init__(self, cfg):
        self.name = cfg.name
        self.keepalive = cfg.keepalive
        self.keepalive_timeout = cfg.keepalive_timeout
        self.timeout = cfg.timeout
        self.connect_timeout = cfg.connect_timeout
        self.max_client_buffer = cfg.max_client_buffer
        self.max_server_buffer = cfg.max_server_buffer
        self.max_body_length = cfg.max_body_length
        self.add_x_forwarded_for = cfg.add_x_forwarded_for
        self.add_x_forwarded_proto = cfg.add_x_forwarded_proto
        self.add_cluster_ip = cfg.add_cluster_ip
        self.strip_x_forwarded_proto = cfg.strip_x_forwarded_proto
        self.recent_connections = cfg.recent_connections_enabled
        # engine.VirtualServer's (its attributes of these names are kept here)
        self.pool = None
        self.request_rules = []
        self.response_rules = []
        self.request_rules_read_body = False
        self.access_log = None
        self.log_response_headers = False
        self.retired = False
        self.stats = None  # counters.VsStats
        # the route memo (rulehooks.configure_route_memo): what pure request rules chose, by what they read
        self.route_inputs = 0  # rules.purity's bits; 0: no memo
        self.route_memo = None  # dict, or None
        self.route_memo_fills = 0
