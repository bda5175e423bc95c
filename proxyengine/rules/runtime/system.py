"""log.*, rule.*, event.*, recentconns.*, requestlog.*, stats.*, slm.*, net.dns.*, sys.*."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from .core import RuleRuntimeError, RunContext, StopRule, builtin, to_num, to_str

# log.*


def _log(c: RunContext, level: str, message: Any) -> int:
    c.tx.add_log(level, c.rule, to_str(message))
    return 1


@builtin("log.info", ctx=True)
def log_info(c: RunContext, message) -> int:
    return _log(c, "info", message)


@builtin("log.warn", ctx=True)
def log_warn(c: RunContext, message) -> int:
    return _log(c, "warn", message)


@builtin("log.error", ctx=True)
def log_error(c: RunContext, message) -> int:
    return _log(c, "error", message)


# rule.*, event.*


@builtin("rule.getName", ctx=True)
def rule_getName(c: RunContext) -> str:
    return c.rule


@builtin("rule.getState", ctx=True)
def rule_getState(c: RunContext) -> str:
    return c.phase.upper()


@builtin("rule.return")
def rule_return() -> int:
    # Not in vTM's catalogue, but rules written for it use "rule.return" to end the rule: accept it.
    raise StopRule


@builtin("event.emit", ctx=True)
def event_emit(c: RunContext, name, message) -> int:
    event = to_str(name)
    if not event:
        raise RuleRuntimeError("event.emit needs an event name")
    c.state.events.append((event, to_str(message)))
    c.tx.effects = True  # the engine logs the events after the rules
    return 1


# recentconns.*, requestlog.*: whether this request is shown in Recent Connections / the request log


@builtin("recentconns.include", ctx=True)
def recentconns_include(c: RunContext) -> int:
    c.tx.recentconns = True
    return 1


@builtin("recentconns.exclude", ctx=True)
def recentconns_exclude(c: RunContext) -> int:
    c.tx.recentconns = False
    return 1


@builtin("recentconns.markedForInclusion", ctx=True)
def recentconns_markedForInclusion(c: RunContext) -> int:
    return 1 if c.tx.recentconns else 0


@builtin("requestlog.include", ctx=True)
def requestlog_include(c: RunContext) -> int:
    c.tx.log_enabled = True
    return 1


@builtin("requestlog.exclude", ctx=True)
def requestlog_exclude(c: RunContext) -> int:
    c.tx.log_enabled = False
    return 1


@builtin("requestlog.markedForInclusion", ctx=True)
def requestlog_markedForInclusion(c: RunContext) -> int:
    return 1 if c.tx.log_enabled else 0


# stats.* (seconds, as doubles)


@builtin("stats.getQueueTime", ctx=True)
def stats_getQueueTime(c: RunContext) -> float:
    return float(c.tx.queue_time)


@builtin("stats.getServerResponseTime", ctx=True)
def stats_getServerResponseTime(c: RunContext) -> float:
    return float(c.tx.server_response_time)


@builtin("stats.getTransactionDuration", ctx=True)
def stats_getTransactionDuration(c: RunContext) -> float:
    return max(c.state.now() - c.tx.start_time, 0.0)


# slm.*


def _slm(c: RunContext, name: Any):
    cls = to_str(name) or (c.tx.service_level_class or "")
    if not cls:
        raise RuleRuntimeError("no service level class: name one or call connection.setServiceLevelClass")
    info = c.state.service_levels.get(cls)
    if info is None:
        raise RuleRuntimeError(f"service level monitor '{cls}' does not exist")
    return info


@builtin("slm.conforming", ctx=True)
def slm_conforming(c: RunContext, class_name="") -> float:
    return float(_slm(c, class_name).conforming)


@builtin("slm.isOK", ctx=True)
def slm_isOK(c: RunContext, class_name="") -> int:
    return 1 if _slm(c, class_name).is_ok else 0


@builtin("slm.threshold", ctx=True)
def slm_threshold(c: RunContext, class_name="") -> int:
    return _slm(c, class_name).threshold_ms


# net.dns.* (on the engine's resolver when it provides one)


def _resolve(c: RunContext, name: str, family: str) -> list[str]:
    if c.state.resolver is not None:
        return list(c.state.resolver(name, family))
    try:
        if family == "PTR":
            return [socket.gethostbyaddr(name)[0]]
        fam = socket.AF_INET6 if family == "AAAA" else socket.AF_INET
        infos = socket.getaddrinfo(name, None, fam, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(info[4][0] for info in infos))


@builtin("net.dns.resolveHost", ctx=True)
def net_dns_resolveHost(c: RunContext, hostname) -> str:
    answers = _resolve(c, to_str(hostname), "A")
    return answers[0] if answers else ""


@builtin("net.dns.resolveHost6", ctx=True)
def net_dns_resolveHost6(c: RunContext, hostname) -> str:
    answers = _resolve(c, to_str(hostname), "AAAA")
    return answers[0] if answers else ""


@builtin("net.dns.resolveIP", ctx=True)
def net_dns_resolveIP(c: RunContext, ip_address) -> str:
    answers = _resolve(c, to_str(ip_address), "PTR")
    return answers[0] if answers else ""


# sys.*


@builtin("sys.hostname", ctx=True)
def sys_hostname(c: RunContext) -> str:
    return c.state.hostname or socket.gethostname()


@builtin("sys.domainname", ctx=True)
def sys_domainname(c: RunContext) -> str:
    fqdn = c.state.hostname or socket.getfqdn()
    return fqdn.split(".", 1)[1] if "." in fqdn else ""


@builtin("sys.getRestApiPort", ctx=True)
def sys_getRestApiPort(c: RunContext) -> int:
    return c.state.rest_api_port


@builtin("sys.getenv")
def sys_getenv(variable) -> str:
    return os.environ.get(to_str(variable), "")


@builtin("sys.getnetworkinterfaces")
def sys_getnetworkinterfaces(hash_of_options=None) -> Any:
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        names = []
    return {name: {"name": name} for name in names}


@builtin("sys.getpid")
def sys_getpid() -> int:
    return os.getpid()


@builtin("sys.isFIPS")
def sys_isFIPS() -> int:
    return 0


@builtin("sys.time", ctx=True)
def sys_time(c: RunContext) -> int:
    return int(c.state.now())


@builtin("sys.time.highres", ctx=True)
def sys_time_highres(c: RunContext) -> float:
    return float(c.state.now())


@builtin("sys.timeToString")
def sys_timeToString(unixtime) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S", time.localtime(to_num(unixtime)))


def _when(c: RunContext, unixtime: Any) -> time.struct_time:
    return time.localtime(c.state.now() if unixtime is None else to_num(unixtime))


@builtin("sys.gmtime.format", ctx=True)
def sys_gmtime_format(c: RunContext, format_, unixtime=None) -> str:
    try:
        return time.strftime(to_str(format_), time.gmtime(c.state.now() if unixtime is None else to_num(unixtime)))
    except (ValueError, OverflowError, OSError) as exc:
        raise RuleRuntimeError(f"sys.gmtime.format: {exc}") from None


@builtin("sys.localtime.format", ctx=True)
def sys_localtime_format(c: RunContext, format_, unixtime=None) -> str:
    try:
        return time.strftime(to_str(format_), _when(c, unixtime))
    except (ValueError, OverflowError, OSError) as exc:
        raise RuleRuntimeError(f"sys.localtime.format: {exc}") from None


@builtin("sys.time.hour", ctx=True)
def sys_time_hour(c: RunContext, unixtime=None) -> int:
    return _when(c, unixtime).tm_hour


@builtin("sys.time.minutes", ctx=True)
def sys_time_minutes(c: RunContext, unixtime=None) -> int:
    return _when(c, unixtime).tm_min


@builtin("sys.time.seconds", ctx=True)
def sys_time_seconds(c: RunContext, unixtime=None) -> int:
    return _when(c, unixtime).tm_sec


@builtin("sys.time.month", ctx=True)
def sys_time_month(c: RunContext, unixtime=None) -> int:
    return _when(c, unixtime).tm_mon


@builtin("sys.time.monthday", ctx=True)
def sys_time_monthday(c: RunContext, unixtime=None) -> int:
    return _when(c, unixtime).tm_mday


@builtin("sys.time.weekday", ctx=True)
def sys_time_weekday(c: RunContext, unixtime=None) -> int:
    return (_when(c, unixtime).tm_wday + 1) % 7 + 1  # 1 = Sunday ... 7 = Saturday


@builtin("sys.time.year", ctx=True)
def sys_time_year(c: RunContext, unixtime=None) -> int:
    return _when(c, unixtime).tm_year


@builtin("sys.time.yearday", ctx=True)
def sys_time_yearday(c: RunContext, unixtime=None) -> int:
    return _when(c, unixtime).tm_yday
