"""Pools and what they use: health monitors, session persistence, bandwidth and rate classes."""

from vtmadmin.models import ConfigObject


class Pool(ConfigObject):
    """A pool of back-end nodes (`basic.nodes_table`) and how traffic is balanced across them."""


class Monitor(ConfigObject):
    """A health monitor that pools use to find failed nodes."""


class PersistenceClass(ConfigObject):
    """A session persistence class: how a client keeps going to the same node."""


class BandwidthClass(ConfigObject):
    """A bandwidth class: a cap on the bandwidth of the connections that use it."""


class RateClass(ConfigObject):
    """A rate class: requests per second or minute that rules may shape to."""


class ServiceLevelMonitor(ConfigObject):
    """A service level monitoring class: the response time a service should keep to."""
