"""The local engine: rendering engine.json from a revision, writing it, telling the engine to reload.

docs/engine-json.md is the contract; the engine never sees Django.
"""

import json
import os
import socket
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from vtmadmin import schema
from vtmadmin.models import ConfigRevision, EnginePush
from vtmadmin.registry import TYPES

ENGINE_FORMAT = 1


class EngineUnavailable(Exception):
    """The engine's control socket does not answer."""


def engine_render(*, document: dict) -> dict:
    """The engine's configuration: the document's objects with every default filled in."""
    from vtmadmin.services.licensing import license_limits

    config = {}
    for path, otype in TYPES.items():
        if not otype.engine:
            continue
        objects = document["config"].get(path, {})
        if otype.singleton:
            config[otype.engine_key] = {"properties": schema.with_defaults(otype.schema, objects.get("properties", {}))}
        elif otype.raw:
            config[otype.engine_key] = dict(objects)
        else:
            config[otype.engine_key] = {
                name: {"properties": schema.with_defaults(otype.schema, value.get("properties", {}))}
                for name, value in objects.items()
            }
    return {
        "format": ENGINE_FORMAT,
        "revision": document["revision"],
        "digest": document["digest"],
        "node": {
            "name": settings.TM_NAME,
            "zeushome": str(settings.ZEUSHOME),
            "control_socket": str(settings.ENGINE_CONTROL_SOCKET),
            "log_dir": str(settings.LOG_DIR),
            "workers": _engine_workers(document),
        },
        "license": license_limits(),
        "config": config,
    }


ENGINE_MAX_WORKERS = 256  # node.workers' range in docs/engine-json.md


def _engine_workers(document: dict) -> int:
    """The engine's worker processes: this traffic manager's ``num_children`` (0: one per CPU), unless the
    VTM_ENGINE_WORKERS environment variable says otherwise (tests, benchmarks); the engine runs at most 256. A change
    takes effect when the engine restarts, as in vTM."""
    if "VTM_ENGINE_WORKERS" in os.environ:
        return int(os.environ["VTM_ENGINE_WORKERS"])
    tm = document["config"].get("traffic_managers", {}).get(settings.TM_NAME, {})
    children = tm.get("properties", {}).get("basic", {}).get("num_children", 0)
    return min(children, ENGINE_MAX_WORKERS) if isinstance(children, int) and children > 0 else 0


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file so that readers see the old or the new content, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def engine_control(command: dict, *, timeout: float = 5.0) -> dict:
    """Send one JSON-lines command to the engine's control socket and return its reply."""
    path = str(settings.ENGINE_CONTROL_SOCKET)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(json.dumps(command).encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
    except OSError as e:
        raise EngineUnavailable(f"The engine does not answer on {path}: {e.strerror or e}") from None
    try:
        return json.loads(reply)
    except ValueError:
        raise EngineUnavailable(f"The engine gave an unreadable answer on {path}") from None


def engine_push(*, revision_id: int) -> EnginePush:
    """Write engine.json for a revision (unless a newer one is already there) and reload the engine."""
    revision = ConfigRevision.objects.get(id=revision_id)
    push = EnginePush.objects.create(revision=revision, target="local")
    log = []
    try:
        path = Path(settings.ENGINE_CONFIG)
        current = _written_revision(path)
        if current is not None and current > revision.number:
            log.append(f"engine.json already holds revision {current}; revision {revision.number} skipped")
        else:
            rendered = engine_render(document=json.loads(revision.document))
            write_atomically(path, json.dumps(rendered, indent=1, sort_keys=True).encode() + b"\n")
            log.append(f"wrote {path} (revision {revision.number})")
            try:
                reply = engine_control({"cmd": "reload"})
                log.append(f"engine reload: {json.dumps(reply)}")
            except EngineUnavailable as e:
                log.append(f"{e}; it will read the new configuration when it starts")
        push.status = EnginePush.Status.DONE
    except Exception as e:  # the push is a record: every failure is kept, with its reason
        push.status = EnginePush.Status.FAILED
        log.append(f"failed: {e}")
    push.log = "\n".join(log)
    push.finished = timezone.now()
    push.save()
    return push


def _written_revision(path: Path) -> int | None:
    try:
        return int(json.loads(path.read_text()).get("revision"))
    except (OSError, ValueError, TypeError, AttributeError):
        return None
