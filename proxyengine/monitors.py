"""Health monitors: ping, connect, http(s), tcp_transaction and program, per node or pool-wide.

A node fails after ``failures`` consecutive failed checks and recovers on the first success; with
``back_off`` the delay doubles while it is failed (capped), so a dead node costs little.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import re
import socket
import ssl
import struct
import time

from .config import MonitorConfig, parse_address

BACK_OFF_CAP = 8  # times the configured delay


def next_delay(cfg: MonitorConfig, consecutive_failures: int) -> float:
    """Seconds until the next check: ``delay``, doubling per failure beyond ``failures`` when backing off."""
    if not cfg.back_off or consecutive_failures < cfg.failures:
        return float(cfg.delay)
    return float(cfg.delay * min(BACK_OFF_CAP, 2 ** (consecutive_failures - cfg.failures + 1)))


class CheckFailed(Exception):
    """A check failed; the message says why, for the event log."""


_icmp_mode: str | None = None
_icmp_why = ""


def _icmp_socket() -> socket.socket | None:
    """An ICMP socket: unprivileged datagram ICMP, else raw; None (and _icmp_why) when neither is permitted."""
    global _icmp_mode, _icmp_why
    for mode, stype in (("dgram", socket.SOCK_DGRAM), ("raw", socket.SOCK_RAW)):
        if _icmp_mode not in (None, mode):
            continue
        try:
            s = socket.socket(socket.AF_INET, stype, socket.IPPROTO_ICMP)
            _icmp_mode = mode
            return s
        except OSError as e:
            _icmp_why = f"ICMP sockets are not permitted here ({e.strerror}); checking with a TCP connect instead"
    _icmp_mode = "none"
    return None


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


async def check_ping(host: str, port: int, cfg: MonitorConfig) -> str:
    loop = asyncio.get_running_loop()
    sock = _icmp_socket() if ":" not in host else None
    if sock is None:
        await check_connect(host, port, cfg)
        return _icmp_why or "ICMP unavailable; TCP connect succeeded"
    try:
        sock.setblocking(False)
        ident = random.randint(0, 0xFFFF)
        header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
        payload = b"vtm-monitor"
        packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, 1) + payload
        addr = (await loop.getaddrinfo(host, None, family=socket.AF_INET))[0][4][0]
        await loop.sock_sendto(sock, packet, (addr, 0))
        async with asyncio.timeout(cfg.timeout):
            while True:
                data = await loop.sock_recv(sock, 2048)
                if _icmp_mode == "raw":
                    # a raw socket sees every ICMP packet of the host (other monitors' replies, our own
                    # request on loopback): only the reply to this echo request counts
                    data = data[(data[0] & 0x0F) * 4:]
                    if len(data) < 8 or data[0] != 0 or struct.unpack("!H", data[4:6])[0] != ident:
                        continue
                if data and data[0] == 0:  # echo reply (dgram sockets rewrite the id to the socket's)
                    return "echo reply"
    except TimeoutError:
        raise CheckFailed("no echo reply") from None
    except OSError as e:
        raise CheckFailed(f"ping failed: {e.strerror or e}") from None
    finally:
        sock.close()


async def check_connect(host: str, port: int, cfg: MonitorConfig) -> str:
    try:
        async with asyncio.timeout(cfg.timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        raise CheckFailed("connect timed out") from None
    except OSError as e:
        raise CheckFailed(f"connect failed: {e.strerror or e}") from None
    writer.close()
    return "connected"


def _client_ssl() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def _exchange(host: str, port: int, cfg: MonitorConfig, send: bytes, until_close: bool,
                    done=None) -> bytes:
    limit = cfg.tcp_max_response_len or 1 << 24
    try:
        async with asyncio.timeout(cfg.timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=_client_ssl() if cfg.use_ssl else None)
            try:
                if send:
                    writer.write(send)
                    await writer.drain()
                buf = b""
                while len(buf) < limit:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    buf += chunk
                    if done is not None and done(buf):
                        break
                if cfg.tcp_close_string:
                    writer.write(cfg.tcp_close_string.encode("latin-1"))
                return buf[:limit] if cfg.tcp_max_response_len else buf
            finally:
                writer.close()
    except TimeoutError:
        raise CheckFailed("timed out") from None
    except (OSError, ssl.SSLError) as e:
        raise CheckFailed(f"connection failed: {getattr(e, 'strerror', None) or e}") from None


async def check_http(host: str, port: int, cfg: MonitorConfig) -> str:
    hostname = cfg.http_host_header or (f"[{host}]" if ":" in host else host)
    lines = [f"GET {cfg.http_path} HTTP/1.0", f"Host: {hostname}", "User-Agent: vTM-monitor", "Connection: close"]
    if cfg.http_authentication:
        lines.append("Authorization: Basic " + base64.b64encode(cfg.http_authentication.encode()).decode())
    data = await _exchange(host, port, cfg, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), True)
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/\d\.\d (\d{3})", head)
    if not m:
        raise CheckFailed("no HTTP response")
    status = m.group(1).decode()
    if not re.search(cfg.http_status_regex, status):
        raise CheckFailed(f"status {status} does not match {cfg.http_status_regex}")
    if cfg.http_body_regex and not re.search(cfg.http_body_regex, body.decode("latin-1")):
        raise CheckFailed(f"body does not match {cfg.http_body_regex}")
    return f"status {status}"


async def check_tcp_transaction(host: str, port: int, cfg: MonitorConfig) -> str:
    rx = re.compile(cfg.tcp_response_regex)
    data = await _exchange(host, port, cfg, cfg.tcp_write_string.encode("latin-1"), False,
                           done=lambda b: rx.search(b.decode("latin-1")) is not None)
    if not rx.search(data.decode("latin-1")):
        raise CheckFailed(f"response does not match {cfg.tcp_response_regex}")
    return "response matched"


async def check_program(host: str, port: int, cfg: MonitorConfig, zeushome: str = "") -> str:
    prog = cfg.script_program
    if prog and not os.path.isabs(prog):
        prog = os.path.join(zeushome, "zxtm", "conf", "scripts", prog)
    args = [prog, f"--ipaddr={host}", f"--port={port}", f"--node={host}:{port}"]
    args += [f"--{name}={value}" for name, value in cfg.script_arguments]
    try:
        proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
    except OSError as e:
        raise CheckFailed(f"cannot run {prog}: {e.strerror}") from None
    try:
        async with asyncio.timeout(cfg.timeout):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise CheckFailed(f"{prog} timed out") from None
    if proc.returncode != 0:
        raise CheckFailed(f"{prog} exited {proc.returncode}: {out.decode(errors='replace').strip()[:200]}")
    return "program succeeded"


CHECKS = {
    "ping": check_ping,
    "connect": check_connect,
    "http": check_http,
    "tcp_transaction": check_tcp_transaction,
}


async def run_check(cfg: MonitorConfig, host: str, port: int, zeushome: str = "") -> str:
    """One check; returns a note on success, raises CheckFailed with the reason."""
    if cfg.type == "program":
        return await check_program(host, port, cfg, zeushome)
    check = CHECKS.get(cfg.type)
    if check is None:  # rtsp, sip: not implemented, a TCP connect stands in
        return await check_connect(host, port, cfg)
    return await check(host, port, cfg)


class MonitorState:
    __slots__ = ("failures", "failed", "task")

    def __init__(self):
        self.failures = 0
        self.failed = False
        self.task: asyncio.Task | None = None


class MonitorManager:
    """Runs every (pool, monitor, node) check and reports transitions to the engine."""

    def __init__(self, engine):
        self.engine = engine
        self.states: dict[tuple[str, str, str | None], MonitorState] = {}

    def configure(self, cfg, pools) -> None:
        wanted: dict[tuple[str, str, str | None], tuple[MonitorConfig, str, int]] = {}
        for pname, pool in pools.items():
            for mname in pool.cfg.monitors:
                mcfg = cfg.monitors.get(mname)
                if mcfg is None:
                    continue
                if mcfg.scope == "poolwide":
                    if mcfg.machine:
                        host, port = (parse_address(mcfg.machine) if ":" in mcfg.machine
                                      else (mcfg.machine, 0))
                    elif pool.nodes:
                        host, port = pool.nodes[0].host, pool.nodes[0].port
                    else:
                        continue
                    wanted[(pname, mname, None)] = (mcfg, host, port)
                else:
                    for node in pool.nodes:
                        wanted[(pname, mname, node.address)] = (mcfg, node.host, node.port)
        for key, st in list(self.states.items()):
            if st.task is not None:
                st.task.cancel()
            if key not in wanted:
                del self.states[key]
        zeushome = cfg.node.zeushome
        for key, (mcfg, host, port) in wanted.items():
            st = self.states.get(key)
            if st is None:
                st = self.states[key] = MonitorState()
            elif st.failed:  # keep the node failed in the new configuration until the monitor says otherwise
                self.engine.set_monitor_health(key[0], key[2], key[1], False, "still failing", log=False)
            st.task = self.engine.loop.create_task(self._run(key, st, mcfg, host, port, zeushome))

    async def _run(self, key, st: MonitorState, cfg: MonitorConfig, host: str, port: int, zeushome: str) -> None:
        pool, monitor, node = key
        await asyncio.sleep(random.uniform(0, 0.05))
        while True:
            started = time.monotonic()
            try:
                note = await run_check(cfg, host, port, zeushome)
                ok = True
            except CheckFailed as e:
                note, ok = str(e), False
            except Exception as e:  # a bug in a check must not stop monitoring
                note, ok = f"monitor error: {e!r}", False
            if ok:
                st.failures = 0
                if st.failed:
                    st.failed = False
                    self.engine.set_monitor_health(pool, node, monitor, True, note)
            else:
                st.failures += 1
                if not st.failed and st.failures >= cfg.failures:
                    st.failed = True
                    self.engine.set_monitor_health(pool, node, monitor, False, note)
            delay = next_delay(cfg, st.failures) - (time.monotonic() - started)
            await asyncio.sleep(max(0.05, delay))

    def stop(self) -> None:
        for st in self.states.values():
            if st.task is not None:
                st.task.cancel()
