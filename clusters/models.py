"""The cluster: its traffic managers and the traffic IP groups they keep up."""

from vtmadmin.models import ConfigObject


class TrafficManager(ConfigObject):
    """A traffic manager, a member of the cluster; one of them is this node."""


class TrafficIPGroup(ConfigObject):
    """A traffic IP group: addresses that the cluster keeps raised on one of its members."""
