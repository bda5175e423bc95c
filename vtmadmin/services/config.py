"""Reading and changing configuration objects: one path for the REST API, the Admin UI and the CLI.

Every change is validated against the schema, saved in one transaction, recorded
as a new revision of the configuration document, and pushed to the engine.
"""

from dataclasses import dataclass, field

from django.contrib.auth.hashers import identify_hasher, make_password
from django.db import transaction

from vtmadmin import schema
from vtmadmin.registry import GLOBAL_SETTINGS_NAME, TYPES, ObjectType
from vtmadmin.schema import SchemaErrors

# Objects that exist on every traffic manager and cannot be deleted.
PROTECTED = {("pools", "discard"), ("user_groups", "admin"), ("users", "admin")}


class ObjectNotFound(Exception):
    """No object of that type has that name."""


class ObjectInUse(Exception):
    """The object cannot be deleted: other objects name it."""

    def __init__(self, otype: ObjectType, name: str, users: list[str]):
        self.users = users
        super().__init__(f"{otype.path} '{name}' cannot be deleted: it is used by {', '.join(users)}")


class ObjectProtected(Exception):
    """A built-in object that must exist."""


@dataclass
class PutResult:
    """What a create or update did."""

    created: bool
    value: dict | str
    warnings: list[str] = field(default_factory=list)


def object_names(*, otype: ObjectType) -> list[str]:
    return list(otype.model.objects.order_by("name").values_list("name", flat=True))


def _load(otype: ObjectType, name: str):
    try:
        return otype.model.objects.get(name=name)
    except otype.model.DoesNotExist:
        raise ObjectNotFound(f"{otype.path} '{name}' does not exist") from None


def _public(otype: ObjectType, properties: dict) -> dict:
    """The properties a client may read: defaults filled, write-only keys blanked."""
    full = schema.with_defaults(otype.schema, properties)
    for section, keys in schema.sections(otype.schema).items():
        for key, spec in keys.items():
            if spec.get("write_only"):
                full[section][key] = ""
    return {"properties": full}


def config_object_get(*, otype: ObjectType, name: str) -> dict | str:
    """The object as the REST API returns it: raw text, or every section with defaults."""
    obj = _load(otype, GLOBAL_SETTINGS_NAME if otype.singleton else name)
    return obj.text if otype.raw else _public(otype, obj.properties)


def parse_properties_body(body) -> dict:
    """The `properties` object of a REST body, or SchemaErrors naming what is wrong."""
    if not isinstance(body, dict):
        raise SchemaErrors({}, "The body must be a JSON object of the form {\"properties\": {...}}")
    unknown = [k for k in body if k != "properties"]
    if unknown:
        raise SchemaErrors({}, f"Unknown top-level key '{unknown[0]}': the body must be {{\"properties\": {{...}}}}")
    props = body.get("properties", {})
    if not isinstance(props, dict):
        raise SchemaErrors({}, "'properties' must be an object of sections")
    return props


def _prepare_user(properties: dict) -> dict:
    basic = properties.get("basic", {})
    password = basic.get("password")
    if password:
        try:
            identify_hasher(password)
        except ValueError:
            basic["password"] = make_password(password)
    return properties


def validate_object(*, otype: ObjectType, name: str, value, stored: dict | None = None) -> dict | str:
    """Check a new value for an object; return what would be stored. Raises SchemaErrors."""
    if not otype.singleton and (why := schema.name_error(name)):
        raise SchemaErrors({}, why)
    if otype.raw:
        if not isinstance(value, str):
            raise SchemaErrors({}, f"A {otype.schema} is raw text")
        if "\x00" in value:
            raise SchemaErrors({}, f"The {otype.schema} text must not contain NUL characters")
        return value
    schema.validate_properties(otype.schema, value, creating=stored is None, stored=stored)
    properties = schema.merged(stored or {}, value)
    if otype.path == "users":
        properties = _prepare_user(properties)
    return properties


@transaction.atomic
def config_object_put(*, otype: ObjectType, name: str, value, reason: str = "", record: bool = True) -> PutResult:
    """Create or update an object; updates merge sections and keys into what is stored.

    With record=False no configuration revision is recorded (nor pushed): the caller, which changes several
    objects in one transaction, records one revision for all of them with revision_record.
    """
    from vtmadmin.services.revisions import revision_record

    if otype.singleton:
        name = GLOBAL_SETTINGS_NAME
    obj = otype.model.objects.select_for_update().filter(name=name).first()
    created = obj is None
    if created and otype.path == "traffic_managers":
        cluster_size_check(members=otype.model.objects.count() + 1)
    if otype.raw:
        new = validate_object(otype=otype, name=name, value=value, stored=None if created else {})
        obj = obj or otype.model(name=name)
        obj.text = new
    else:
        new = validate_object(otype=otype, name=name, value=value, stored=None if created else obj.properties)
        obj = obj or otype.model(name=name)
        obj.properties = new
    obj.save()
    if otype.path == "users":
        from vtmadmin.services.users import user_sync_login

        user_sync_login(name=name, properties=obj.properties)
    if record:
        revision_record(reason=reason or f"{'created' if created else 'changed'} {otype.path} '{name}'")
    from vtmadmin.services.diagnose import object_warnings

    return PutResult(
        created=created,
        value=obj.text if otype.raw else _public(otype, obj.properties),
        warnings=object_warnings(otype=otype, name=name),
    )


def cluster_size_check(*, members: int) -> None:
    """The license caps the cluster's size (Community Edition: 4 traffic managers)."""
    from vtmadmin.services.licensing import license_limits

    limit = license_limits()["max_cluster_size"]
    if members > limit:
        raise SchemaErrors({}, f"The license in force allows a cluster of at most {limit} traffic managers; "
                               f"this would make {members}")


def references_to(*, otype: ObjectType, name: str) -> list[str]:
    """The objects that name this one, as "virtual_servers 'web'"."""
    users = []
    for other in TYPES.values():
        for ref in other.references:
            if ref.target != otype.path:
                continue
            for obj in other.model.objects.all():
                if other.path == otype.path and obj.name == name:
                    continue
                if name in referenced_names(obj.properties, ref):
                    users.append(f"{other.path} '{obj.name}'")
    return sorted(set(users))


def referenced_names(properties: dict, ref) -> list[str]:
    value = properties.get(ref.section, {}).get(ref.key)
    if value is None or value == "":
        return []
    if ref.column:
        return [row.get(ref.column, "") for row in value if isinstance(row, dict) and row.get(ref.column)]
    return value if isinstance(value, list) else [value]


@transaction.atomic
def config_object_delete(*, otype: ObjectType, name: str, reason: str = "") -> None:
    """Delete an object unless it is built in or still used by another object."""
    from django.conf import settings

    from vtmadmin.services.revisions import revision_record

    if otype.singleton or (otype.path, name) in PROTECTED or (otype.path, name) == ("traffic_managers", settings.TM_NAME):
        raise ObjectProtected(f"{otype.path} '{name}' is built in and cannot be deleted")
    obj = _load(otype, name)
    if users := references_to(otype=otype, name=name):
        raise ObjectInUse(otype, name, users)
    obj.delete()
    if otype.path == "users":
        from vtmadmin.services.users import user_remove_login

        user_remove_login(name=name)
    revision_record(reason=reason or f"deleted {otype.path} '{name}'")
