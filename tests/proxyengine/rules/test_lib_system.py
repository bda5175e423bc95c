"""log.*, rule.*, event.*, recentconns.*, requestlog.*, stats.*, slm.*, net.dns.*, sys.*."""

import calendar
import time

from ts_helpers import logs, make_tx, run

from proxyengine.rules import EngineState, ServiceLevelInfo, compile_rule


def test_logging_levels_carry_the_rule_name():
    tx, _ = run('log.info("i"); log.warn("w"); log.error("e");')
    assert tx.logs == [("info", "test", "i"), ("warn", "test", "w"), ("error", "test", "e")]


def test_rule_name_and_state():
    assert logs("log.info(rule.getName()); log.info(rule.getState());") == ["test", "REQUEST"]


def test_event_emit_reaches_the_engine():
    _, state = run('event.emit("custom", "hello");')
    assert list(state.events) == [("custom", "hello")]


def test_recentconns_and_requestlog_flags():
    tx, _ = run(
        "recentconns.exclude(); requestlog.exclude(); "
        "log.info(recentconns.markedForInclusion() . requestlog.markedForInclusion());"
    )
    assert tx.recentconns is False and tx.log_enabled is False and tx.logs[0][2] == "00"
    tx, _ = run("recentconns.include(); requestlog.include();")
    assert tx.recentconns is True and tx.log_enabled is True


def test_stats_timings():
    tx = make_tx()
    tx.queue_time, tx.server_response_time, tx.start_time = 0.5, 0.25, 100.0
    state = EngineState()
    state.now = lambda: 101.5
    assert logs(
        "log.info(stats.getQueueTime()); log.info(stats.getServerResponseTime()); "
        "log.info(stats.getTransactionDuration());",
        tx,
        state=state,
    ) == ["0.5", "0.25", "1.5"]


def test_service_level_monitoring():
    state = EngineState()
    state.service_levels["gold"] = ServiceLevelInfo(conforming=87.5, threshold_ms=200, is_ok=False)
    assert logs(
        'log.info(slm.conforming("gold")); log.info(slm.isOK("gold")); log.info(slm.threshold("gold"));', state=state
    ) == ["87.5", "0", "200"]
    assert logs('connection.setServiceLevelClass("gold"); log.info(slm.threshold());', state=state) == ["200"]
    tx = make_tx()
    compile_rule("r", "slm.isOK();").run(tx, state)
    assert tx.errors


def test_dns_uses_the_engine_resolver():
    state = EngineState()
    answers = {("db.local", "A"): ["10.0.0.5"], ("db.local", "AAAA"): ["fd00::5"], ("10.0.0.5", "PTR"): ["db.local"]}
    state.resolver = lambda name, family: answers.get((name, family), [])
    src = (
        'log.info(net.dns.resolveHost("db.local")); log.info(net.dns.resolveHost6("db.local")); '
        'log.info(net.dns.resolveIP("10.0.0.5")); log.info(net.dns.resolveHost("nx") . "|");'
    )
    assert logs(src, state=state) == ["10.0.0.5", "fd00::5", "db.local", "|"]


def test_dns_system_resolver_for_literals():
    assert logs('log.info(net.dns.resolveHost("127.0.0.1"));') == ["127.0.0.1"]


def test_sys_time_functions():
    state = EngineState()
    t = calendar.timegm((2024, 3, 5, 14, 7, 9, 0, 0, 0))  # a Tuesday
    state.now = lambda: t
    local = time.localtime(t)
    src = """
    log.info(sys.time()); log.info(sys.time.highres() > 0);
    log.info(sys.time.year() . "-" . sys.time.month() . "-" . sys.time.monthday());
    log.info(sys.time.hour() . ":" . sys.time.minutes() . ":" . sys.time.seconds());
    log.info(sys.time.weekday() . " " . sys.time.yearday());
    log.info(sys.gmtime.format("%Y-%m-%d %H:%M:%S"));
    log.info(sys.gmtime.format("%H", 0));
    log.info(sys.localtime.format("%Y", sys.time()));
    log.info(string.length(sys.timeToString(sys.time())) > 10);
    """
    weekday = (local.tm_wday + 1) % 7 + 1
    assert logs(src, state=state) == [
        str(t),
        "1",
        f"{local.tm_year}-{local.tm_mon}-{local.tm_mday}",
        f"{local.tm_hour}:{local.tm_min}:{local.tm_sec}",
        f"{weekday} {local.tm_yday}",
        "2024-03-05 14:07:09",
        "00",
        str(local.tm_year),
        "1",
    ]
    assert logs("log.info(sys.time.weekday(0));") == [str((time.localtime(0).tm_wday + 1) % 7 + 1)]


def test_sys_host_information():
    state = EngineState()
    state.hostname, state.rest_api_port = "tm1.example.com", 9070
    out = logs(
        "log.info(sys.hostname()); log.info(sys.domainname()); log.info(sys.getRestApiPort()); "
        'log.info(sys.getpid() > 0); log.info(sys.isFIPS()); log.info(sys.getenv("NO_SUCH_VAR_X") . "|"); '
        "log.info(lang.ishash(sys.getnetworkinterfaces()));",
        state=state,
    )
    assert out == ["tm1.example.com", "example.com", "9070", "1", "0", "|", "1"]
