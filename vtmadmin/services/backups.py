"""Configuration backups (System > Backup, `/status/local_tm/backups/full`): stored documents in tar files.

A backup is `<name>.tar` under $ZEUSHOME/zxtm/conf/backups holding `backup.json`
(description, time stamp, version) and `config.json` (the configuration document).
"""

import io
import json
import tarfile
import time
from pathlib import Path

from django.conf import settings

from vtmadmin.schema import name_error
from vtmadmin.services.document import DocumentInvalid, document_export, document_import, document_validate
from vtmadmin.services.engine import write_atomically
from vtmadmin.version import VERSION

MAX_BACKUP_BYTES = 64 * 1024 * 1024


class BackupError(Exception):
    """A backup that cannot be made, read or restored; the message says why."""


class BackupNotFound(BackupError):
    pass


def _path(name: str) -> Path:
    if why := name_error(name):
        raise BackupError(why)
    return Path(settings.BACKUP_DIR) / f"{name}.tar"


def _tar(meta: dict, document: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for member, data in (("backup.json", json.dumps(meta, indent=1).encode()), ("config.json", document.encode())):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mtime = int(meta["time_stamp"])
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _read(data: bytes) -> tuple[dict, str]:
    """The metadata and document of a backup archive, or BackupError saying what is wrong."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            files = {}
            for member in tar.getmembers():
                if member.name in ("backup.json", "config.json") and member.isfile():
                    files[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as e:
        raise BackupError(f"The backup is not a readable tar archive: {e}") from None
    if "config.json" not in files:
        raise BackupError("The backup holds no config.json")
    try:
        meta = json.loads(files.get("backup.json", b"{}"))
        document = files["config.json"].decode()
    except (ValueError, UnicodeDecodeError) as e:
        raise BackupError(f"The backup's files are damaged: {e}") from None
    return meta if isinstance(meta, dict) else {}, document


def backup_list() -> list[str]:
    directory = Path(settings.BACKUP_DIR)
    return sorted(p.stem for p in directory.glob("*.tar")) if directory.is_dir() else []


def backup_create(*, name: str, description: str = "") -> dict:
    meta = {"description": description, "time_stamp": int(time.time()), "version": VERSION}
    write_atomically(_path(name), _tar(meta, document_export()))
    return meta


def backup_info(*, name: str) -> dict:
    meta, _ = _read(backup_archive(name=name))
    return {"description": meta.get("description", ""), "time_stamp": meta.get("time_stamp", 0),
            "version": meta.get("version", "")}


def backup_archive(*, name: str) -> bytes:
    try:
        return _path(name).read_bytes()
    except FileNotFoundError:
        raise BackupNotFound(f"There is no backup named '{name}'") from None


def backup_upload(*, name: str, data: bytes) -> dict:
    """Store an uploaded archive after checking that it restores cleanly."""
    if len(data) > MAX_BACKUP_BYTES:
        raise BackupError(f"The backup is larger than {MAX_BACKUP_BYTES} bytes")
    meta, document = _read(data)
    try:
        document_validate(document)
    except DocumentInvalid as e:
        raise BackupError(f"The backup's configuration is invalid: {e.errors[0].get('error_text')}") from None
    write_atomically(_path(name), data)
    return meta


def backup_restore(*, name: str) -> int:
    _, document = _read(backup_archive(name=name))
    return document_import(document, reason=f"restored backup '{name}'")


def backup_delete(*, name: str) -> None:
    try:
        _path(name).unlink()
    except FileNotFoundError:
        raise BackupNotFound(f"There is no backup named '{name}'") from None
