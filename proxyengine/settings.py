"""A virtual server's settings that the protocols read on every connection or request, copied once from its
configuration. Compiled, a C struct (settings.pxd): a read is a field, not two attribute lookups (vs.cfg.x)."""

from __future__ import annotations


class VsSettings:
    """What the HTTP protocols read of a virtual server's configuration (config.VirtualServerConfig) per request."""

    def __init__(self, cfg):
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
