"""Node selection is pure: distributions of the seven algorithms, priorities, limits, draining, persistence."""

import random
from collections import Counter

import pytest

from proxyengine.config import NodeEntry, PersistenceConfig, PoolConfig
from proxyengine.persistence import Persistence, parse_cookies
from proxyengine.pools import Pool, priority_filter


def make_pool(weights=(1, 1), algorithm="round_robin", priorities=None, **kw):
    nodes = tuple(NodeEntry(f"10.0.0.{i}:80", f"10.0.0.{i}", 80, "active", w, (priorities or [1] * len(weights))[i])
                  for i, w in enumerate(weights))
    return Pool(PoolConfig(name="web", nodes=nodes, algorithm=algorithm, **kw), rng=random.Random(7))


def shares(pool, n=4000):
    c = Counter(pool.select(0.0)[0].address for _ in range(n))
    return [c[node.address] / n for node in pool.nodes]


@pytest.mark.parametrize("algorithm", ["weighted_round_robin", "weighted_least_connections"])
def test_weights_one_to_three_give_a_quarter(algorithm):
    s = shares(make_pool((1, 3), algorithm))
    assert abs(s[0] - 0.25) <= 0.03 and abs(s[1] - 0.75) <= 0.03


@pytest.mark.parametrize("algorithm", ["round_robin", "random", "least_connections", "perceptive",
                                       "fastest_response_time"])
def test_equal_nodes_share_evenly(algorithm):
    s = shares(make_pool((1, 1, 1, 1), algorithm))
    assert all(abs(x - 0.25) <= 0.03 for x in s), s


@pytest.mark.parametrize("algorithm", ["least_connections", "weighted_least_connections", "perceptive"])
def test_busy_node_holding_slow_requests_is_avoided(algorithm):
    pool = make_pool((1, 1, 1), algorithm)
    pool.nodes[0].current_conn = 20  # twenty slow requests in flight
    picks = Counter()
    for _ in range(300):
        node = pool.select(0.0)[0]
        picks[node.address] += 1  # these finish quickly; the slow ones stay
    assert picks["10.0.0.0:80"] == 0
    assert min(picks["10.0.0.1:80"], picks["10.0.0.2:80"]) > 100


def test_fastest_response_time_prefers_the_fast_node():
    pool = make_pool((1, 1), "fastest_response_time")
    pool.nodes[0].record_response_time(0.200)
    pool.nodes[1].record_response_time(0.010)
    assert shares(pool, 200)[1] == 1.0


def test_perceptive_weighs_speed_and_load():
    pool = make_pool((1, 1), "perceptive")
    pool.nodes[0].record_response_time(0.100)
    pool.nodes[1].record_response_time(0.010)
    pool.nodes[1].current_conn = 3
    assert pool.select(0.0)[0].address == "10.0.0.1:80"  # 4 x 10 ms beats 1 x 100 ms


def test_failed_draining_and_disabled_nodes_get_no_new_sessions():
    pool = make_pool((1, 1, 1, 1))
    pool.nodes[0].monitor_failed.add("ping")
    pool.nodes[1].state = "draining"
    pool.nodes[2].state = "disabled"
    assert set(shares(pool, 100)) == {0.0, 1.0}
    assert pool.usable_persistent(pool.nodes[1], 0.0)  # draining keeps its sessions
    assert not pool.usable_persistent(pool.nodes[2], 0.0)


def test_priority_groups():
    pool = make_pool((1, 1, 1), priorities=[2, 2, 1], priority_enabled=True, priority_nodes=2)
    assert shares(pool, 100)[2] == 0.0
    pool.nodes[0].monitor_failed.add("ping")  # below priority_nodes: the lower group joins
    assert shares(pool, 100)[2] > 0.3
    assert [n.priority for n in priority_filter(pool.nodes, 1)] == [2, 2]


def test_connection_limit_says_full_and_queue_is_bounded():
    pool = make_pool((1,), max_connections_per_node=1, max_queue_size=1)
    node, why = pool.select(0.0)
    node.current_conn += 1
    assert pool.select(0.0) == (None, "full")

    class Loop:
        def call_later(self, *a):
            return None

    got = []
    assert pool.enqueue(Loop(), got.append, set())
    assert not pool.enqueue(Loop(), got.append, set())  # max_queue_size
    pool.release(node)
    assert got == [node]


def test_passive_monitoring_marks_failed_after_node_connection_attempts():
    pool = make_pool((1, 1), node_connection_attempts=2, retry_fail_time=5)
    n = pool.nodes[0]
    assert not pool.connect_failed(n, 100.0)
    assert pool.connect_failed(n, 100.0)
    assert not n.alive(101.0) and n.alive(106.0)
    assert pool.connect_ok(n) and n.alive(101.0)


@pytest.mark.parametrize("close_on_death", [True, False])
def test_a_passive_failure_closes_the_nodes_connections_with_close_on_death(close_on_death):
    pool = make_pool((1, 1), node_connection_attempts=1, close_on_death=close_on_death)
    n = pool.nodes[0]
    closed = []

    class Conn:
        def close(self):
            closed.append(self)

    n.active.update({Conn(), Conn()})
    assert pool.connect_failed(n, 100.0)
    assert len(closed) == (2 if close_on_death else 0)


def test_all_failed_means_failure_pool():
    pool = make_pool((1,))
    assert not pool.all_failed(0.0)
    pool.nodes[0].monitor_failed.add("m")
    assert pool.all_failed(0.0) and pool.select(0.0) == (None, "none")


def test_persistence_ip_subnet_and_cookies():
    p = Persistence(PersistenceConfig("p", "ip", subnet_prefix_length_v4=24))
    assert p.ip_key("192.0.2.77") == "192.0.2.0"
    pool = make_pool((1, 1))
    t = Persistence(PersistenceConfig("t", "transparent"))
    cookie = t.response_cookie("web", "10.0.0.1:80", True)
    name, value = cookie.split(";")[0].split("=")
    assert name.startswith("X-Mapping-")
    assert t.find(pool, "1.1.1.1", {name: value}, None) == (value, "10.0.0.1:80")
    j = Persistence(PersistenceConfig("j", "j2ee"))
    j.learn_from_response("web", ["JSESSIONID=abc; Path=/"], "10.0.0.0:80")
    assert j.find(pool, "1.1.1.1", parse_cookies(["a=b; JSESSIONID=abc"]), None) == ("abc", "10.0.0.0:80")
    u = Persistence(PersistenceConfig("u", "universal"))
    assert u.find(pool, "1.1.1.1", None, None) == (None, None)
    u.record("web", "user42", "10.0.0.1:80")
    assert u.find(pool, "1.1.1.1", None, "user42") == ("user42", "10.0.0.1:80")
    x = Persistence(PersistenceConfig("x", "x_zeus"))
    assert x.find(pool, "1.1.1.1", {"X-Zeus-Backend": "10.0.0.1:80"}, None) == ("10.0.0.1:80", "10.0.0.1:80")


def test_named_node_persistence_goes_where_the_rule_says():
    """Named Node persistence: connection.setPersistenceNode("host:port") names the node; no session table, and no
    name lets the pool balance as usual (a key alone, as universal persistence uses, names nothing)."""
    pool = make_pool((1, 1))
    n = Persistence(PersistenceConfig("n", "named"))
    assert n.find(pool, "1.1.1.1", None, None, "10.0.0.1:80") == (None, "10.0.0.1:80")
    assert n.find(pool, "1.1.1.1", None, "user42", None) == (None, None)
    assert n.find(pool, "1.1.1.1", None, None) == (None, None)
    assert not n.table
