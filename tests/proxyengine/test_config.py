"""engine.json validation: good files parse into dataclasses, bad ones are refused with the field named."""

import json

import pytest
from helpers import engine_json, pool, vserver

from proxyengine.config import ConfigError, load_config, parse_config


def _doc(tmp_path, **kw):
    return engine_json(tmp_path, pools={"web": pool(["127.0.0.1:8080", "[::1]:81"])},
                       virtual_servers={"web": vserver(8000)}, **kw)


def test_valid_file_parses_with_vendor_defaults(tmp_path):
    cfg = parse_config(json.dumps(_doc(tmp_path)))
    web = cfg.pools["web"]
    assert [n.address for n in web.nodes] == ["127.0.0.1:8080", "[::1]:81"]
    assert web.nodes[1].host == "::1" and web.max_idle_connections_pernode == 50
    assert cfg.virtual_servers["web"].kind == "http" and cfg.virtual_servers["web"].keepalive_timeout == 10


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(format=2), "format"),
        (lambda d: d["config"]["pools"]["web"]["properties"]["basic"]["nodes_table"].append({"node": "nohost"}),
         "pools.web.basic.nodes_table[2].node"),
        (lambda d: d["config"]["pools"]["web"]["properties"]["load_balancing"].update(algorithm="fastest"),
         "pools.web.load_balancing.algorithm"),
        (lambda d: d["config"]["virtual_servers"]["web"]["properties"]["basic"].update(port=70000),
         "virtual_servers.web.basic.port"),
        (lambda d: d["config"]["virtual_servers"]["web"]["properties"]["basic"].update(enabled="yes"),
         "virtual_servers.web.basic.enabled"),
        (lambda d: d["config"].update(monitors={"m": {"properties": {"http": {"status_regex": "(("}}}}),
         "monitors.m.http.status_regex"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(tmp_path, mutate, message):
    doc = _doc(tmp_path)
    mutate(doc)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(json.dumps(doc))


def test_not_json_is_refused(tmp_path):
    p = tmp_path / "engine.json"
    p.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(str(p))


def test_unknown_top_level_keys_and_missing_references_are_accepted(tmp_path):
    doc = _doc(tmp_path)
    doc["future"] = {"x": 1}
    doc["config"]["virtual_servers"]["web"]["properties"]["basic"]["pool"] = "nope"
    cfg = parse_config(json.dumps(doc))
    assert cfg.virtual_servers["web"].pool == "nope"


def test_a_port_conflict_keeps_only_the_later_virtual_server_down(tmp_path):
    doc = _doc(tmp_path)
    doc["config"]["virtual_servers"]["zzz"] = vserver(8000)
    cfg = parse_config(json.dumps(doc))
    assert cfg.virtual_servers["web"].conflict == ""
    assert "already used by virtual server web" in cfg.virtual_servers["zzz"].conflict
    assert [names for names in cfg.listener_keys().values()] == [["web"]]


def test_rate_classes_are_part_of_the_configuration(tmp_path):
    """Every worker sees the rate classes from the configuration it was given (not by re-reading a file)."""
    doc = _doc(tmp_path)
    doc["config"]["rate"] = {"api": {"properties": {"basic": {"max_rate_per_second": 5, "max_rate_per_minute": 0}}}}
    cfg = parse_config(json.dumps(doc))
    assert cfg.rate_classes == {"api": (5, 0)}
    doc["config"]["rate"]["api"]["properties"]["basic"]["max_rate_per_second"] = -1
    with pytest.raises(ConfigError, match="rate.api.basic.max_rate_per_second"):
        parse_config(json.dumps(doc))
