"""Admin UI pages of pools, monitors, session persistence classes and bandwidth classes."""

from pools.forms import BandwidthForm, MonitorForm, PersistenceForm, PoolForm
from vtmadmin import schema
from vtmadmin.generic import Column, ObjectPage
from vtmadmin.registry import TYPES
from vtmadmin.services.ui_status import engine_query


def pool_health(name: str) -> dict:
    """The pool's nodes with their configured state and, when the engine answers, whether each is alive."""
    pool = TYPES["pools"].model.objects.get(name=name)
    full = schema.with_defaults("pool", pool.properties)
    health = engine_query({"cmd": "health"})
    live = (health or {}).get("pools", {}).get(name, {}).get("nodes", {})
    nodes = [{**row, "health": live.get(row["node"], {}).get("state", "")} for row in full["basic"]["nodes_table"]]
    return {"nodes": nodes, "engine_running": health is not None}


def _basic(key):
    return lambda name, props: props["basic"][key]


POOLS = ObjectPage(
    "pools", "pools", "pool", "Pools", PoolForm,
    columns=(
        Column("Nodes", lambda n, p: ", ".join(r["node"] for r in p["basic"]["nodes_table"]) or "—"),
        Column("Algorithm", lambda n, p: p["load_balancing"]["algorithm"].replace("_", " ")),
        Column("Monitors", lambda n, p: ", ".join(p["basic"]["monitors"]) or "—"),
    ),
    description="A pool is a collection of nodes: back-end servers, each a host and port.",
    view_template="pools/pool.html", edit_template="pools/pool_edit.html", extra_context=pool_health,
)
MONITORS = ObjectPage(
    "monitors", "monitors", "monitor", "Monitors", MonitorForm,
    columns=(Column("Type", _basic("type")), Column("Delay", _basic("delay")), Column("Note", _basic("note"))),
    description="Health monitors check the nodes of the pools that use them.",
)
PERSISTENCE = ObjectPage(
    "persistence", "persistence", "session persistence class", "Session Persistence", PersistenceForm,
    columns=(Column("Type", _basic("type")), Column("Note", _basic("note"))),
    description="Session persistence sends a client's requests to the same node.",
)
BANDWIDTH = ObjectPage(
    "bandwidth", "bandwidth", "bandwidth class", "Bandwidth Classes", BandwidthForm,
    columns=(Column("Maximum (kbit/s)", _basic("maximum")), Column("Shared by", _basic("sharing"))),
    description="Bandwidth classes cap the bandwidth of the connections that use them.",
)
