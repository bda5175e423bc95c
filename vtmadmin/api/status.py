"""`/api/tm/8.3/status/local_tm/...`: information, state, diagnose, backups, statistics."""


from django.conf import settings
from django.http import HttpResponse
from rest_framework.response import Response

from vtmadmin.api.errors import APIError
from vtmadmin.api.views import VTMView, children, read_body, read_json
from vtmadmin.services import backups
from vtmadmin.services.diagnose import config_diagnose
from vtmadmin.services.document import DocumentInvalid
from vtmadmin.services.engine import EngineUnavailable, engine_control
from vtmadmin.services.licensing import license_in_force
from vtmadmin.services.nodesettings import node_uuid
from vtmadmin.services.revisions import revision_latest
from vtmadmin.version import VERSION


class StatusRoot(VTMView):
    def get(self, request, version):
        return Response(children(f"/api/tm/{version}/status/", ["local_tm"]))


class LocalTM(VTMView):
    def get(self, request, version):
        return Response(children(f"/api/tm/{version}/status/local_tm/",
                                 ["backups", "diagnose", "information", "license", "state", "statistics"]))


class Information(VTMView):
    def get(self, request, version):
        return Response({"information": {"tm_version": VERSION, "uuid": node_uuid()}})


class State(VTMView):
    def get(self, request, version):
        latest = revision_latest()
        problems = config_diagnose()
        return Response({"state": {
            "tm_name": settings.TM_NAME,
            "config_revision": latest.number if latest else 0,
            "config_digest": latest.digest if latest else "",
            "errors": [p for entry in problems for p in entry["problems"]],
        }})


class Diagnose(VTMView):
    def get(self, request, version):
        return Response({"diagnose": config_diagnose()})


class Statistics(VTMView):
    """`.../statistics/<family>/<name>` in vTM's shapes, read from the engine's control socket.

    `?format=prometheus` and `?format=csv` (HAProxy `show stat` columns) answer text for monitoring tools."""

    def get(self, request, version, rest=""):
        fmt = request.query_params.get("format")
        try:
            if fmt in ("prometheus", "csv"):
                reply = engine_control({"cmd": "stats", "format": fmt})
                return HttpResponse(reply.get("text", ""), content_type="text/plain; charset=utf-8")
            reply = engine_control({"cmd": "stats"})
        except EngineUnavailable as e:
            raise APIError(503, "statistics.unavailable", str(e)) from None
        if not reply.get("ok"):
            raise APIError(503, "statistics.unavailable", reply.get("error", "the engine gave no statistics"))
        node = reply["statistics"]
        base = f"/api/tm/{version}/status/local_tm/statistics/"
        parts = [p for p in (rest or "").split("/") if p]
        for i, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                raise APIError(404, "resource.not_found", f"No statistics for {'/'.join(parts[: i + 1])}")
            node = node[part]
        if isinstance(node, dict) and node and all(isinstance(v, dict) for v in node.values()):
            prefix = base + "".join(p + "/" for p in parts)
            return Response({"children": [{"name": k, "href": prefix + k} for k in sorted(node)]})
        return Response({"statistics": node})


class Backups(VTMView):
    def get(self, request, version, name=""):
        base = f"/api/tm/{version}/status/local_tm/backups/full/"
        if not name:
            return Response({"children": [{"name": n, "href": base + n} for n in backups.backup_list()]})
        try:
            if "application/x-tar" in request.headers.get("Accept", ""):
                response = HttpResponse(backups.backup_archive(name=name), content_type="application/x-tar")
                response["Content-Disposition"] = f'attachment; filename="{name}.tar"'
                return response
            return Response({"properties": {"backup": backups.backup_info(name=name)}})
        except backups.BackupNotFound as e:
            raise APIError(404, "resource.not_found", str(e)) from None
        except backups.BackupError as e:
            raise APIError(400, "backup.invalid", str(e)) from None

    def put(self, request, version, name=""):
        if not name:
            raise APIError(405, "request.method_not_allowed", "Name the backup: .../backups/full/<name>")
        try:
            if "restore" in request.query_params:
                revision = backups.backup_restore(name=name)
                return Response({"properties": {"backup": backups.backup_info(name=name)}, "revision": revision})
            if request.content_type.startswith("application/x-tar"):
                existed = name in backups.backup_list()
                backups.backup_upload(name=name, data=read_body(request))
                return Response({"properties": {"backup": backups.backup_info(name=name)}},
                                status=200 if existed else 201)
            body = read_json(request)
            description = ""
            if isinstance(body, dict):
                description = body.get("properties", {}).get("backup", {}).get("description", "")
            if not isinstance(body, dict) or not isinstance(description, str):
                raise APIError(400, "resource.validation_error",
                               'The body must be {"properties": {"backup": {"description": "..."}}}')
            existed = name in backups.backup_list()
            meta = backups.backup_create(name=name, description=description)
            return Response({"properties": {"backup": meta}}, status=200 if existed else 201)
        except backups.BackupNotFound as e:
            raise APIError(404, "resource.not_found", str(e)) from None
        except DocumentInvalid as e:
            raise APIError(400, "document.invalid", str(e), {"errors": e.errors}) from None
        except backups.BackupError as e:
            raise APIError(400, "backup.invalid", str(e)) from None

    def delete(self, request, version, name=""):
        try:
            backups.backup_delete(name=name)
        except backups.BackupError as e:
            raise APIError(404, "resource.not_found", str(e)) from None
        return Response(status=204)




class BackupsRoot(VTMView):
    def get(self, request, version):
        return Response(children(f"/api/tm/{version}/status/local_tm/backups/", ["full"]))


class LicenseInForce(VTMView):
    """The license in force: a valid key's terms, or the Community Edition's."""

    def get(self, request, version):
        limits, problems = license_in_force()
        return Response({"license": {**limits, "problems": problems}})
