"""Virtual servers and what they use: rules, SSL server certificates, protection classes."""

from vtmadmin.models import ConfigObject, RawConfigObject


class VirtualServer(ConfigObject):
    """A service that listens on a port, runs rules, and sends traffic to a pool."""


class Rule(RawConfigObject):
    """A TrafficScript rule, stored as the text the user gave."""


class SSLServerKey(ConfigObject):
    """An SSL server certificate and its private key (PEM), used to decrypt traffic."""


class ProtectionClass(ConfigObject):
    """A service protection class: access lists and limits for a virtual server."""
