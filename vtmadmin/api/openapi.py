"""The REST API's OpenAPI 3 description, generated from the vTM 8.3 schema itself,
so every key, type, enum, range and default a client sees documented is the one the API enforces."""

from functools import cache

from vtmadmin import schema
from vtmadmin.registry import TYPES
from vtmadmin.version import VERSION

ERROR = {"$ref": "#/components/schemas/Error"}


def _key_schema(spec: dict) -> dict:
    kind = spec["type"]
    if kind == "table":
        columns = schema.schema()["tables"][spec["table"]]
        row = {"type": "object", "additionalProperties": False,
               "properties": {c: _key_schema(s) for c, s in columns.items()},
               "required": [c for c, s in columns.items() if s.get("required")]}
        return {"type": "array", "items": row, "default": []}
    out: dict = {"bool": {"type": "boolean"}, "int": {"type": "integer"}, "string": {"type": "string"},
                 "[]string": {"type": "array", "items": {"type": "string"}}}[kind].copy()
    if "enum" in spec:
        out["enum"] = spec["enum"]
    if "min" in spec:
        out["minimum"] = spec["min"]
    if "max" in spec:
        out["maximum"] = spec["max"]
    if spec.get("format") == "host_port":
        out["pattern"] = r"^.+:[0-9]{1,5}$"
    if spec.get("write_only"):
        out["writeOnly"] = True
    out["default"] = spec.get("default")
    return out


def _object_schema(schema_type: str) -> dict:
    sections = {
        name: {"type": "object", "additionalProperties": False,
               "properties": {k: _key_schema(s) for k, s in keys.items()}}
        for name, keys in schema.sections(schema_type).items()
    }
    return {"type": "object", "additionalProperties": False, "required": ["properties"],
            "properties": {"properties": {"type": "object", "additionalProperties": False, "properties": sections}}}


def _responses(ok: dict) -> dict:
    return {**ok, "400": {"description": "Invalid", "content": {"application/json": {"schema": ERROR}}},
            "401": {"description": "auth.invalid", "content": {"application/json": {"schema": ERROR}}},
            "404": {"description": "resource.not_found", "content": {"application/json": {"schema": ERROR}}}}


@cache
def openapi_document() -> dict:
    base = "/api/tm/8.3/config/active"
    paths: dict = {}
    components: dict = {
        "Error": {"type": "object", "required": ["error_id", "error_text"],
                  "properties": {"error_id": {"type": "string"}, "error_text": {"type": "string"},
                                 "error_info": {"type": "object"}}},
        "Children": {"type": "object", "properties": {"children": {"type": "array", "items": {
            "type": "object", "properties": {"name": {"type": "string"}, "href": {"type": "string"}}}}}},
    }
    for path, otype in TYPES.items():
        ref = f"#/components/schemas/{otype.schema}"
        if otype.raw:
            body = {"application/octet-stream": {"schema": {"type": "string"}}}
        else:
            components[otype.schema] = _object_schema(otype.schema)
            body = {"application/json": {"schema": {"$ref": ref}}}
        item = {
            "get": {"summary": f"Read {otype.schema}", "responses": _responses({"200": {"description": "OK",
                                                                                        "content": body}})},
            "put": {"summary": f"Create or update {otype.schema} (sections and keys merge)",
                    "requestBody": {"required": True, "content": body},
                    "responses": _responses({"200": {"description": "Updated", "content": body},
                                             "201": {"description": "Created", "content": body}})},
        }
        if otype.singleton:
            paths[f"{base}/{path}"] = item
            continue
        item["delete"] = {"summary": f"Delete {otype.schema}",
                          "responses": _responses({"204": {"description": "Deleted"},
                                                   "409": {"description": "resource.in_use",
                                                           "content": {"application/json": {"schema": ERROR}}}})}
        item["parameters"] = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
        paths[f"{base}/{path}/{{name}}"] = item
        paths[f"{base}/{path}/"] = {"get": {"summary": f"List {path}", "responses": _responses(
            {"200": {"description": "OK", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Children"}}}}})}}
    paths["/api/tm/8.3/config/document"] = {
        "get": {"summary": "Export the whole configuration as one document", "responses": _responses(
            {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}})},
        "put": {"summary": "Import a configuration document (all or nothing)", "responses": _responses(
            {"200": {"description": "Imported"}})},
    }
    for status_path in ("information", "state", "diagnose", "license", "backups/full/"):
        paths[f"/api/tm/8.3/status/local_tm/{status_path}"] = {"get": {"summary": status_path, "responses": _responses(
            {"200": {"description": "OK"}})}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Traffic Manager REST API", "version": "8.3",
                 "description": f"Compatible with the vTM REST API 8.3; software version {VERSION}."},
        "components": {"schemas": components, "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}},
        "security": [{"basic": []}],
        "paths": paths,
    }
