"""The configuration object types: their REST path, schema type, model, and references."""

from dataclasses import dataclass, field

from django.apps import apps


@dataclass(frozen=True)
class Reference:
    """A key of one type that names objects of another type."""

    section: str
    key: str
    target: str  # REST path of the referenced type
    column: str | None = None  # for tables: the column that holds the name


@dataclass(frozen=True)
class ObjectType:
    """A configuration object type, as the REST API and the document name it."""

    path: str  # REST path and document key: "pools", "ssl/server_keys"
    schema: str  # schema type: "pool"
    model_label: str  # "pools.Pool"
    raw: bool = False  # the body is raw text (rules, license keys)
    singleton: bool = False  # one object, addressed without a name (global_settings)
    engine: bool = True  # rendered into engine.json
    references: tuple[Reference, ...] = field(default=())

    @property
    def model(self):
        return apps.get_model(self.model_label)

    @property
    def engine_key(self) -> str:
        return self.path.replace("/", "_")


TYPES: dict[str, ObjectType] = {
    t.path: t
    for t in (
        ObjectType(
            "pools",
            "pool",
            "pools.Pool",
            references=(
                Reference("basic", "monitors", "monitors"),
                Reference("basic", "persistence_class", "persistence"),
                Reference("basic", "failure_pool", "pools"),
                Reference("basic", "bandwidth_class", "bandwidth"),
            ),
        ),
        ObjectType(
            "virtual_servers",
            "virtual_server",
            "virtualservers.VirtualServer",
            references=(
                Reference("basic", "pool", "pools"),
                Reference("basic", "request_rules", "rules"),
                Reference("basic", "response_rules", "rules"),
                Reference("basic", "completion_rules", "rules"),
                Reference("basic", "bandwidth_class", "bandwidth"),
                Reference("basic", "protection_class", "protection"),
                Reference("basic", "slm_class", "service_level_monitors"),
                Reference("basic", "listen_on_traffic_ips", "traffic_ip_groups"),
                Reference("ssl", "server_cert_default", "ssl/server_keys"),
                Reference("ssl", "server_cert_host_mapping", "ssl/server_keys", column="certificate"),
            ),
        ),
        ObjectType("rules", "rule", "virtualservers.Rule", raw=True),
        ObjectType("monitors", "monitor", "pools.Monitor"),
        ObjectType("persistence", "persistence", "pools.PersistenceClass"),
        ObjectType("bandwidth", "bandwidth", "pools.BandwidthClass"),
        ObjectType("rate", "rate", "pools.RateClass"),
        ObjectType("service_level_monitors", "service_level_monitor", "pools.ServiceLevelMonitor"),
        ObjectType("protection", "protection", "virtualservers.ProtectionClass"),
        ObjectType("ssl/server_keys", "ssl_server_key", "virtualservers.SSLServerKey"),
        ObjectType(
            "traffic_ip_groups",
            "traffic_ip_group",
            "clusters.TrafficIPGroup",
            references=(
                Reference("basic", "machines", "traffic_managers"),
                Reference("basic", "slaves", "traffic_managers"),
            ),
        ),
        ObjectType("traffic_managers", "traffic_manager", "clusters.TrafficManager"),
        ObjectType("global_settings", "global_settings", "vtmadmin.GlobalSettings", singleton=True),
        ObjectType("license_keys", "license_key", "vtmadmin.LicenseKey", raw=True, engine=False),
        ObjectType("user_groups", "user_group", "vtmadmin.UserGroup", engine=False),
        ObjectType(
            "users",
            "user",
            "vtmadmin.User",
            engine=False,
            references=(Reference("basic", "group", "user_groups"),),
        ),
    )
}

GLOBAL_SETTINGS_NAME = "global_settings"


def object_type(path: str) -> ObjectType | None:
    return TYPES.get(path.strip("/"))


def split_type_path(rest: str) -> tuple[ObjectType, str] | None:
    """`ssl/server_keys/cert1` -> (the ssl/server_keys type, "cert1"); the name may be empty."""
    rest = rest.strip("/")
    for path in sorted(TYPES, key=len, reverse=True):
        if rest == path:
            return TYPES[path], ""
        if rest.startswith(path + "/"):
            return TYPES[path], rest[len(path) + 1 :]
    return None
