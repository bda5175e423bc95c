"""Starting and stopping the processes of one traffic manager: broker, worker, admin server, engine.

Each process writes a pid file under $ZEUSHOME/run; starting what already runs
does nothing, so the start command is safe to run again.
"""

import os
import signal
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


def _spawn(name: str, argv: list[str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=_env(), cwd=settings.BASE_DIR, start_new_session=True)
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
    _spawn("admin", argv, Path(settings.LOG_DIR) / "admin.log")


def _start_engine() -> None:
    argv = [PYTHON, "-m", "proxyengine", "--config", str(settings.ENGINE_CONFIG)]
    _spawn("engine", argv, Path(settings.LOG_DIR) / "engine.log")


STARTERS = {"broker": _start_broker, "worker": _start_worker, "admin": _start_admin, "engine": _start_engine}


def processes_start(*, names=None) -> list[str]:
    """Start the processes that are not running; return a line per process saying what happened."""
    Path(settings.RUN_DIR).mkdir(parents=True, exist_ok=True)
    Path(settings.LOG_DIR).mkdir(parents=True, exist_ok=True)
    lines = []
    for process in PROCESSES:
        if names and process.name not in names:
            continue
        pid = process_pid(process.name)
        if pid:
            lines.append(f"{process.description}: already running (pid {pid})")
            continue
        STARTERS[process.name]()
        time.sleep(0.3)
        pid = process_pid(process.name)
        if pid:
            lines.append(f"{process.description}: started (pid {pid})")
        else:
            lines.append(f"{process.description}: FAILED to start; see {settings.LOG_DIR}/{process.name}.log")
    return lines


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
