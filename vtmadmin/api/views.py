"""REST API views, compatible with the vTM REST API 8.3: thin translations to the services."""

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from rest_framework.response import Response
from rest_framework.views import APIView

from vtmadmin import schema
from vtmadmin.api.errors import APIError
from vtmadmin.registry import TYPES, ObjectType, split_type_path
from vtmadmin.schema import SchemaErrors
from vtmadmin.services import config as config_service
from vtmadmin.services.document import DocumentInvalid, document_export, document_import
from vtmadmin.services.users import ACCESS_ORDER, user_access

API_VERSIONS = ["8.3"]


def children(base: str, names) -> dict:
    return {"children": [{"name": n, "href": f"{base}{n}/"} for n in names]}


class VTMView(APIView):
    """Base: checks the user's access to an area before every request."""

    area = "all"

    def check_access(self, request, area: str):
        need = "ro" if request.method in ("GET", "HEAD", "OPTIONS") else "full"
        if ACCESS_ORDER[user_access(name=request.user.username, area=area)] < ACCESS_ORDER[need]:
            raise APIError(403, "auth.no_access", f"User '{request.user.username}' may not change {area}"
                           if need == "full" else f"User '{request.user.username}' may not read {area}")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.check_access(request, self.area)


class ApiRoot(VTMView):
    def get(self, request):
        return Response({"children": [{"name": "tm", "href": "/api/tm/"}]})


class Versions(VTMView):
    def get(self, request):
        return Response(children("/api/tm/", API_VERSIONS))


class VersionRoot(VTMView):
    def get(self, request, version):
        return Response(children(f"/api/tm/{version}/", ["config", "status"]))


class ConfigRoot(VTMView):
    def get(self, request, version):
        return Response(children(f"/api/tm/{version}/config/", ["active"]))


def _type_children(version: str, prefix: str) -> dict:
    """The types under `prefix` ("" or "ssl/"), grouping `ssl/server_keys` under `ssl`."""
    names = []
    for path in TYPES:
        if not path.startswith(prefix):
            continue
        first = path[len(prefix):].split("/")[0]
        if first not in names:
            names.append(first)
    return children(f"/api/tm/{version}/config/active/{prefix}", sorted(names))


def read_body(request) -> bytes:
    try:
        body = request.body
    except RequestDataTooBig:
        body = None
    if body is None or len(body) > settings.REST_MAX_BODY_BYTES:
        raise APIError(400, "request.too_large",
                       f"The request body is larger than the limit of {settings.REST_MAX_BODY_BYTES} bytes")
    return body


def read_json(request):
    body = read_body(request)
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise APIError(400, "json.parse_error", f"The request body is not valid JSON: {e}") from None


def validation_error(e: SchemaErrors) -> APIError:
    return APIError(400, "resource.validation_error", e.text, e.info)


class ConfigObjects(VTMView):
    """`/api/tm/8.3/config/active/<type>[/<name>]`: lists, objects, create/update, delete."""

    def initial(self, request, *args, **kwargs):
        APIView.initial(self, request, *args, **kwargs)
        resolved = split_type_path(kwargs["rest"])
        if resolved is None:
            if kwargs["rest"].strip("/") == "ssl":
                self.group = "ssl/"
                return
            raise APIError(404, "resource.not_found", f"There is no configuration type '{kwargs['rest'].strip('/')}'")
        self.group = None
        self.otype, self.name = resolved
        self.check_access(request, self.otype.path)

    def _base(self, version: str) -> str:
        return f"/api/tm/{version}/config/active/{self.otype.path}/"

    def get(self, request, version, rest):
        if self.group:
            return Response(_type_children(version, self.group))
        otype: ObjectType = self.otype
        if "metadata" in request.query_params:
            return Response({"properties": schema.sections(otype.schema)})
        if not self.name and not otype.singleton:
            names = config_service.object_names(otype=otype)
            return Response({"children": [{"name": n, "href": self._base(version) + n} for n in names]})
        try:
            value = config_service.config_object_get(otype=otype, name=self.name)
        except config_service.ObjectNotFound as e:
            raise APIError(404, "resource.not_found", str(e)) from None
        if otype.raw:
            return HttpResponse(value, content_type="application/octet-stream")
        return Response(value)

    def put(self, request, version, rest):
        otype = self._object_type_for_write()
        if otype.raw:
            try:
                value = read_body(request).decode("utf-8")
            except UnicodeDecodeError:
                raise APIError(400, "resource.validation_error", f"The {otype.schema} must be UTF-8 text") from None
        else:
            try:
                value = config_service.parse_properties_body(read_json(request))
            except SchemaErrors as e:
                raise validation_error(e) from None
        try:
            result = config_service.config_object_put(otype=otype, name=self.name, value=value,
                                                      reason=f"REST API: {request.user.username}")
        except SchemaErrors as e:
            raise validation_error(e) from None
        code = 201 if result.created else 200
        if otype.raw:
            response = HttpResponse(result.value, status=code, content_type="application/octet-stream")
        else:
            body = dict(result.value)
            if result.warnings:
                body["warnings"] = result.warnings
            response = Response(body, status=code)
        if result.warnings:
            response["X-Config-Warnings"] = json.dumps(result.warnings)[:8000]
        return response

    def delete(self, request, version, rest):
        otype = self._object_type_for_write()
        try:
            config_service.config_object_delete(otype=otype, name=self.name,
                                                reason=f"REST API: {request.user.username}")
        except config_service.ObjectNotFound as e:
            raise APIError(404, "resource.not_found", str(e)) from None
        except config_service.ObjectInUse as e:
            raise APIError(409, "resource.in_use", str(e), {"used_by": e.users}) from None
        except config_service.ObjectProtected as e:
            raise APIError(403, "resource.protected", str(e)) from None
        return Response(status=204)

    def _object_type_for_write(self) -> ObjectType:
        if self.group or (not self.name and not self.otype.singleton):
            raise APIError(405, "request.method_not_allowed", "Name an object: .../config/active/<type>/<name>")
        return self.otype


class ConfigDocument(VTMView):
    """`/api/tm/8.3/config/document`: the whole configuration as one document (GET), or replace it (PUT)."""

    def get(self, request, version):
        return HttpResponse(document_export(), content_type="application/json")

    def put(self, request, version):
        try:
            revision = document_import(read_body(request), reason=f"REST API import: {request.user.username}")
        except DocumentInvalid as e:
            raise APIError(400, "document.invalid", str(e), {"errors": e.errors}) from None
        return Response({"revision": revision})

    post = put


class ActiveTypes(VTMView):
    def get(self, request, version):
        return Response(_type_children(version, ""))


class OpenAPISchema(VTMView):
    """`/api/schema/`: the OpenAPI 3 description of this API, generated from the schema."""

    def get(self, request):
        from vtmadmin.api.openapi import openapi_document

        return Response(openapi_document())
