"""Starting and stopping the processes of one traffic manager: broker, worker, admin server, engine.

Each process writes a pid file under $ZEUSHOME/run; starting what already runs
does nothing, so the start command is safe to run again.
"""

import grp
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

PYTHON = sys.executable


@dataclass(frozen=True)
class Process:
    """One of the node's processes."""

    name: str
    description: str


PROCESSES = (
    Process("broker", "private redis-server for the Celery worker"),
    Process("worker", "Celery worker"),
    Process("admin", "admin server (Admin UI and REST API)"),
    Process("engine", "traffic engine"),
)


def _pidfile(name: str) -> Path:
    return Path(settings.RUN_DIR) / f"{name}.pid"


def process_pid(name: str) -> int | None:
    """The pid of a running process of this node, or None."""
    try:
        pid = int(_pidfile(name).read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    except PermissionError:
        return pid
    try:  # a zombie left by the start command of this same Python process is not running
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return None
    except (OSError, IndexError):
        pass
    return pid


def _env() -> dict:
    env = dict(os.environ)
    env["ZEUSHOME"] = str(settings.ZEUSHOME)
    env["DJANGO_SETTINGS_MODULE"] = "vtmadmin.settings"
    env["PYTHONPATH"] = str(settings.BASE_DIR)
    env.pop("VTM_CELERY_EAGER", None)
    return env


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def run_identity() -> tuple[int, int] | None:
    """The uid and gid to run as (configure's user and group), when started as root."""
    user, group = getattr(settings, "RUN_USER", ""), getattr(settings, "RUN_GROUP", "")
    if os.geteuid() != 0 or not user:
        return None
    try:
        return pwd.getpwnam(user).pw_uid, grp.getgrnam(group or user).gr_gid
    except KeyError:
        raise RuntimeError(f"The configured user '{user}' or group '{group}' does not exist; run configure again") \
            from None


def _own_runtime_files(identity: tuple[int, int]) -> None:
    """The run user writes logs, pid files, the database and the engine's configuration; root keeps the rest."""
    uid, gid = identity
    home = Path(settings.ZEUSHOME)
    for path in (settings.RUN_DIR, settings.LOG_DIR, home / "admin" / "var", home / "zxtm" / "conf"):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for dirpath, _, filenames in os.walk(path):
            os.chown(dirpath, uid, gid)
            for f in filenames:
                os.chown(os.path.join(dirpath, f), uid, gid)
    etc = home / "admin" / "etc"
    for name in ("admin.private", "secret_key", "settings.json"):
        if (etc / name).exists():
            os.chown(etc / name, 0, gid)
            os.chmod(etc / name, 0o640 if name != "settings.json" else 0o644)


def _spawn(name: str, argv: list[str], log: Path, *, drop: bool = True) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    identity = run_identity() if drop else None

    def demote():
        if identity:
            os.setgroups([])
            os.setgid(identity[1])
            os.setuid(identity[0])

    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=_env(), cwd=settings.BASE_DIR, start_new_session=True, preexec_fn=demote)
    _pidfile(name).write_text(f"{proc.pid}\n")
    return proc.pid


def _start_broker() -> None:
    sock = Path(settings.RUN_DIR) / "redis.sock"
    argv = ["redis-server", "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--daemonize", "no", "--save", "", "--appendonly", "no", "--dir", str(Path(settings.RUN_DIR))]
    _spawn("broker", argv, Path(settings.LOG_DIR) / "broker.log")
    if not _wait_for(sock.exists, 10):
        raise RuntimeError(f"redis-server did not start; see {settings.LOG_DIR}/broker.log")


def _start_worker() -> None:
    argv = [PYTHON, "-m", "celery", "-A", "vtmadmin", "worker", "--beat", "--concurrency", "1", "--loglevel",
            "INFO", "--schedule", str(Path(settings.RUN_DIR) / "celerybeat-schedule"), "-n", f"worker@{settings.TM_NAME}"]
    _spawn("worker", argv, Path(settings.LOG_DIR) / "worker.log")


def _start_admin() -> None:
    from vtmadmin.services.certificates import admin_certificate_paths

    cert, key = admin_certificate_paths()
    argv = [PYTHON, "-m", "gunicorn", "vtmadmin.wsgi:application", "--workers", "2", "--threads", "4",
            "--bind", f"{settings.BIND_ADDRESS}:{settings.ADMIN_PORT}",
            "--bind", f"{settings.BIND_ADDRESS}:{settings.REST_PORT}",
            "--certfile", str(cert), "--keyfile", str(key), "--access-logfile", str(Path(settings.LOG_DIR) / "admin-access.log"),
            "--timeout", "120"]
    if identity := run_identity():  # gunicorn binds as root, then runs its workers as the run user
        argv += ["--user", str(identity[0]), "--group", str(identity[1])]
    _spawn("admin", argv, Path(settings.LOG_DIR) / "admin.log", drop=False)


def _start_engine() -> None:
    # The engine's master binds the virtual servers' ports (often below 1024) as root; its workers,
    # which handle the traffic, run as the configured user.
    argv = [PYTHON, "-m", "proxyengine", "--config", str(settings.ENGINE_CONFIG)]
    if identity := run_identity():
        argv += ["--user", str(identity[0]), "--group", str(identity[1])]
    _spawn("engine", argv, Path(settings.LOG_DIR) / "engine.log", drop=False)


def _tcp_answers(host: str, port: int) -> bool:
    host = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _log_has(name: str, text: str) -> bool:
    try:
        return text in (Path(settings.LOG_DIR) / f"{name}.log").read_text(errors="replace")
    except FileNotFoundError:
        return False


# How to tell that a started process is ready to do its job.
READY = {
    "broker": lambda: (Path(settings.RUN_DIR) / "redis.sock").exists(),
    "worker": lambda: _log_has("worker", " ready."),
    "admin": lambda: _tcp_answers(settings.BIND_ADDRESS, settings.ADMIN_PORT)
    and _tcp_answers(settings.BIND_ADDRESS, settings.REST_PORT),
    "engine": lambda: Path(settings.ENGINE_CONTROL_SOCKET).exists(),
}


def _log_tail(name: str, lines: int = 5) -> str:
    try:
        text = (Path(settings.LOG_DIR) / f"{name}.log").read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return "(no log)"
    return " | ".join(text[-lines:])


STARTERS = {"broker": _start_broker, "worker": _start_worker, "admin": _start_admin, "engine": _start_engine}


def processes_start(*, names=None, timeout: float = 30) -> tuple[list[str], bool]:
    """Start the processes that are not running and wait until each answers.

    Returns a line per process saying what happened, and whether all are running."""
    Path(settings.RUN_DIR).mkdir(parents=True, exist_ok=True)
    Path(settings.LOG_DIR).mkdir(parents=True, exist_ok=True)
    if identity := run_identity():
        _own_runtime_files(identity)
    lines, ok = [], True
    for process in PROCESSES:
        if names and process.name not in names:
            continue
        pid = process_pid(process.name)
        if pid:
            lines.append(f"{process.description}: already running (pid {pid})")
            continue
        if process.name == "worker":
            (Path(settings.LOG_DIR) / "worker.log").unlink(missing_ok=True)  # "ready." must be this start's
        STARTERS[process.name]()
        ready = _wait_for(lambda p=process.name: process_pid(p) is not None and READY[p](), timeout)
        pid = process_pid(process.name)
        if ready and process.name == "engine" and identity:
            # the admin server and the worker (the run user) tell the engine to reload over this socket
            os.chown(settings.ENGINE_CONTROL_SOCKET, identity[0], identity[1])
        if ready:
            lines.append(f"{process.description}: started (pid {pid})")
        elif pid:
            ok = False
            lines.append(f"{process.description}: started (pid {pid}) but does not answer yet; "
                         f"log: {_log_tail(process.name)}")
        else:
            ok = False
            lines.append(f"{process.description}: FAILED to start: {_log_tail(process.name)}")
    return lines, ok


def processes_stop(*, timeout: float = 15) -> list[str]:
    """Stop every running process of this node, engine first, broker last."""
    lines = []
    for process in reversed(PROCESSES):
        pid = process_pid(process.name)
        if not pid:
            lines.append(f"{process.description}: not running")
            continue
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_for(lambda p=process.name: process_pid(p) is None, timeout):
            os.killpg(pid, signal.SIGKILL)
        _pidfile(process.name).unlink(missing_ok=True)
        lines.append(f"{process.description}: stopped")
    return lines


def processes_status() -> dict[str, int | None]:
    return {p.name: process_pid(p.name) for p in PROCESSES}
