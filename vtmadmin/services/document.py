"""The configuration as one canonical JSON document: export, validation, import.

The document is the single interchange format: backups, replication, upgrades
and the engine's configuration are all made from it.
"""

import hashlib
import json

from django.db import transaction

from vtmadmin import schema
from vtmadmin.registry import GLOBAL_SETTINGS_NAME, TYPES
from vtmadmin.schema import SchemaErrors


class DocumentInvalid(Exception):
    """A document that cannot be imported; `errors` lists every problem found."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__(f"The configuration document has {len(errors)} error(s); nothing was changed")


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def config_digest(config: dict) -> str:
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()


def current_config() -> dict:
    """Every stored object, by type path and name, as stored (defaults not filled)."""
    config = {}
    for path, otype in TYPES.items():
        objects = {}
        for obj in otype.model.objects.order_by("name"):
            objects[obj.name] = obj.text if otype.raw else {"properties": obj.properties}
        if otype.singleton:
            config[path] = objects.get(GLOBAL_SETTINGS_NAME, {"properties": {}})
        else:
            config[path] = objects
    return config


def render_document(*, config: dict, revision: int) -> str:
    """The document as text: the same configuration always gives the same bytes."""
    document = {
        "schema_version": schema.SCHEMA_VERSION,
        "revision": revision,
        "digest": config_digest(config),
        "config": config,
    }
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def document_export() -> str:
    from vtmadmin.services.revisions import revision_latest

    latest = revision_latest()
    return latest.document if latest else render_document(config=current_config(), revision=0)


def _object_errors(path: str, name: str, value) -> list[dict]:
    from vtmadmin.services.config import validate_object

    otype = TYPES[path]
    try:
        body = value if otype.raw else (value.get("properties") if isinstance(value, dict) else None)
        if not otype.raw and (not isinstance(value, dict) or set(value) - {"properties"}):
            raise SchemaErrors({}, "An object must be of the form {\"properties\": {...}}")
        validate_object(otype=otype, name=name, value=body if body is not None else {})
    except SchemaErrors as e:
        return [{"type": path, "name": name, "error_text": e.text, "error_info": e.info}]
    return []


def document_validate(text_or_dict) -> dict:
    """The parsed document, or DocumentInvalid listing every error found in it."""
    if isinstance(text_or_dict, (str, bytes)):
        try:
            document = json.loads(text_or_dict)
        except (ValueError, UnicodeDecodeError) as e:
            raise DocumentInvalid([{"error_text": f"The document is not valid JSON: {e}"}]) from None
    else:
        document = text_or_dict
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise DocumentInvalid([{"error_text": "The document must be an object with a 'config' object"}])
    errors = []
    if document.get("schema_version") != schema.SCHEMA_VERSION:
        errors.append({"error_text": f"Unsupported schema_version {document.get('schema_version')!r}; "
                                     f"this traffic manager reads {schema.SCHEMA_VERSION}"})
    revision = document.get("revision", 0)
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
        errors.append({"error_text": "'revision' must be a whole number"})
    config = document["config"]
    if "digest" in document and document["digest"] != config_digest(config):
        errors.append({"error_text": "The digest does not match the configuration: the document was changed "
                                     "or damaged after it was exported"})
    for path, objects in config.items():
        otype = TYPES.get(path)
        if otype is None:
            errors.append({"type": path, "error_text": f"Unknown object type '{path}'"})
        elif otype.singleton:
            errors += _object_errors(path, GLOBAL_SETTINGS_NAME, objects)
        elif not isinstance(objects, dict):
            errors.append({"type": path, "error_text": f"'{path}' must be an object of named objects"})
        else:
            for name, value in objects.items():
                errors += _object_errors(path, name, value)
    tms = config.get("traffic_managers")
    if isinstance(tms, dict):
        from vtmadmin.services.config import cluster_size_check

        try:
            cluster_size_check(members=len(tms))
        except SchemaErrors as e:
            errors.append({"type": "traffic_managers", "error_text": e.text})
    if errors:
        raise DocumentInvalid(errors)
    return document


@transaction.atomic
def document_import(text_or_dict, *, reason: str = "imported configuration document") -> int:
    """Replace the whole configuration with the document's; all or nothing. Returns the revision."""
    from vtmadmin.services.bootstrap import config_bootstrap
    from vtmadmin.services.revisions import revision_latest, revision_record
    from vtmadmin.services.users import user_sync_all

    document = document_validate(text_or_dict)
    config = document["config"]
    latest = revision_latest()
    if latest and latest.digest == config_digest(config):
        return latest.number
    for path, otype in TYPES.items():
        otype.model.objects.all().delete()
        objects = config.get(path, {})
        if otype.singleton:
            objects = {GLOBAL_SETTINGS_NAME: objects}
        for name, value in objects.items():
            if otype.raw:
                otype.model.objects.create(name=name, text=value)
            else:
                otype.model.objects.create(name=name, properties=value.get("properties", {}))
    config_bootstrap(record=False)
    user_sync_all()
    return revision_record(reason=reason, at_least=document.get("revision", 0)).number
