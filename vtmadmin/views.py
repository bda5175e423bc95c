"""Admin UI pages of the admin side: login, home, the Manage a New Service wizard, Activity and System."""

import json
import mimetypes
import time
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from vtmadmin.api.errors import json_404, json_500
from vtmadmin.forms import (
    BackupCreateForm,
    BackupUploadForm,
    LicenseUploadForm,
    LoginForm,
    ServiceBasicsForm,
    ServiceNodesForm,
    wizard_default_ports,
)
from vtmadmin.generic import reason
from vtmadmin.models import ConfigRevision, EnginePush
from vtmadmin.registry import TYPES
from vtmadmin.schema import SchemaErrors
from vtmadmin.services import backups
from vtmadmin.services.certificates import admin_certificate_paths, certificate_fingerprints
from vtmadmin.services.config import (
    ObjectInUse,
    ObjectNotFound,
    ObjectProtected,
    config_object_delete,
    config_object_put,
)
from vtmadmin.services.diagnose import config_diagnose
from vtmadmin.services.licensing import license_limits
from vtmadmin.services.processes import PROCESSES, processes_status
from vtmadmin.services.ui_login import login_failed, login_locked_for, login_succeeded
from vtmadmin.services.ui_status import (
    connections_filter,
    engine_query,
    engine_recent_connections,
    engine_statistics,
    recently_active,
    services_overview,
)
from vtmadmin.services.ui_wizard import nodes_parse, nodes_probe, service_create
from vtmadmin.ui_permissions import require_change
from vtmadmin.version import VERSION

# ---------------------------------------------------------------- static files, errors


@require_GET
def static_file(request, path):
    """Our own static files (htmx, uPlot, CSS), served by the admin server itself: no CDN, no collectstatic."""
    if ".." in Path(path).parts or not (found := finders.find(path)):
        raise Http404("No such file")
    response = FileResponse(open(found, "rb"), content_type=mimetypes.guess_type(found)[0] or "application/octet-stream")
    response["Cache-Control"] = "max-age=3600"
    return response


def handler404(request, exception=None):
    if request.path.startswith("/api"):
        return json_404(request, exception)
    return render(request, "errors/404.html", {"path": request.path}, status=404)


def handler500(request):
    if request.path.startswith("/api"):
        return json_500(request)
    return render(request, "errors/500.html", status=500)


def handler403(request, exception=None):
    if request.path.startswith("/api"):
        return JsonResponse({"error_id": "auth.no_access", "error_text": "You do not have permission to do that"},
                            status=403)
    return render(request, "errors/403.html", {"reason": str(exception or "")}, status=403)


# ---------------------------------------------------------------- login


def login_view(request):
    if request.method == "GET" and request.user.is_authenticated and not request.GET.get("timeout"):
        return redirect("home")
    form = LoginForm(request.POST or None)
    error = ""
    status = 200
    if request.method == "POST" and form.is_valid():
        username, client_ip = form.cleaned_data["username"], request.META.get("REMOTE_ADDR", "")
        wait = login_locked_for(username=username, client_ip=client_ip)
        if wait:
            error, status = f"Too many failed logins. Try again in {wait} seconds.", 429
        else:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            if user is None:
                login_failed(username=username, client_ip=client_ip)
                error, status = "The username or password is incorrect.", 401
            else:
                login_succeeded(username=username)
                login(request, user)
                request.session["last_activity"] = time.time()
                target = request.POST.get("next") or request.GET.get("next") or "/"
                if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=True):
                    target = "/"
                return redirect(target)
    return render(request, "login.html", {
        "form": form, "error": error, "next": request.GET.get("next", ""),
        "timed_out": bool(request.GET.get("timeout")),
    }, status=status)


@require_POST
def logout_view(request):
    logout(request)
    messages.info(request, "You have logged out.")
    return redirect(settings.LOGIN_URL)


# ---------------------------------------------------------------- home


def traffic_managers() -> list[dict]:
    """The cluster's traffic managers; this node with its version and processes."""
    status = processes_status()
    rows = []
    for tm in TYPES["traffic_managers"].model.objects.order_by("name"):
        local = tm.name == settings.TM_NAME
        rows.append({
            "name": tm.name, "local": local, "version": VERSION if local else "",
            "state": ("running" if status.get("engine") else "engine stopped") if local else "unknown",
            "processes": [{"name": p.name, "description": p.description, "pid": status.get(p.name)}
                          for p in PROCESSES] if local else [],
        })
    return rows


def home(request):
    stats = engine_statistics()
    if stats is None:
        services = services_overview(None)
    else:
        recent = recently_active(engine_recent_connections(limit=500))
        services = services_overview(stats, engine_query({"cmd": "health"}), recent)
    user_pools = TYPES["pools"].model.objects.exclude(name="discard").exists()
    latest = ConfigRevision.objects.order_by("-number").first()
    return render(request, "home.html", {
        "tms": traffic_managers(), "services": services, "engine_running": stats is not None,
        "empty": not services and not user_pools, "revision": latest,
        "last_push": EnginePush.objects.order_by("-id").first(),
    })


# ---------------------------------------------------------------- the Manage a New Service wizard

WIZARD = "wizard_new_service"


def _wizard_state(request) -> dict:
    return request.session.get(WIZARD, {})


def _wizard_save(request, **values) -> None:
    state = _wizard_state(request)
    state.update(values)
    request.session[WIZARD] = state


def _wizard_cancel(request):
    request.session.pop(WIZARD, None)
    messages.info(request, "The wizard was cancelled; nothing was created.")
    return redirect("home")


def wizard_basics(request):
    """Step 1 of 3: name, protocol and port."""
    if request.method == "POST" and "cancel" in request.POST:
        return _wizard_cancel(request)
    require_change(request, "virtual_servers")
    state = _wizard_state(request)
    if request.method == "POST":
        form = ServiceBasicsForm(request.POST)
        if form.is_valid():
            _wizard_save(request, **form.cleaned_data)
            return redirect("wizard_nodes")
    else:
        form = ServiceBasicsForm(initial={k: state[k] for k in ("name", "protocol", "port") if k in state})
    return render(request, "wizard/basics.html", {"form": form, "step": 1,
                                                  "default_ports": json.dumps(wizard_default_ports())},
                  status=400 if form.errors else 200)


def wizard_nodes(request):
    """Step 2 of 3: the back-end nodes; Back keeps what was typed here too."""
    if request.method == "POST" and "cancel" in request.POST:
        return _wizard_cancel(request)
    require_change(request, "pools")
    state = _wizard_state(request)
    if "name" not in state:
        return redirect("wizard_basics")
    if request.method == "POST" and "back" in request.POST:
        _wizard_save(request, nodes=request.POST.get("nodes", ""), probe=bool(request.POST.get("probe")))
        return redirect("wizard_basics")
    if request.method == "POST":
        form = ServiceNodesForm(request.POST)
        if form.is_valid():
            _wizard_save(request, **form.cleaned_data)
            return redirect("wizard_summary")
    else:
        form = ServiceNodesForm(initial={"nodes": state.get("nodes", ""), "probe": state.get("probe", True)})
    return render(request, "wizard/nodes.html", {"form": form, "step": 2, "state": state},
                  status=400 if form.errors else 200)


def wizard_summary(request):
    """Step 3 of 3: the summary; Finish creates the pool and the virtual server."""
    if request.method == "POST" and "cancel" in request.POST:
        return _wizard_cancel(request)
    require_change(request, "virtual_servers")
    state = _wizard_state(request)
    if "nodes" not in state or "name" not in state:
        return redirect("wizard_basics")
    if request.method == "POST" and "back" in request.POST:
        return redirect("wizard_nodes")
    nodes = [e.text for e in nodes_parse(state["nodes"])]
    error = ""
    if request.method == "POST" and "finish" in request.POST:
        try:
            service_create(name=state["name"], protocol=state["protocol"], port=state["port"], nodes=nodes,
                           user=request.user.username)
        except SchemaErrors as e:
            error = e.text
        else:
            request.session.pop(WIZARD, None)
            messages.success(request, f"Created virtual server '{state['name']}' and its pool '{state['name']}'. "
                                      f"The service answers on port {state['port']}.")
            return redirect("virtual-servers_view", name=state["name"])
    warnings = nodes_probe(nodes) if state.get("probe") else []
    return render(request, "wizard/summary.html", {"state": state, "nodes": nodes, "warnings": warnings,
                                                   "error": error, "step": 3}, status=400 if error else 200)


# ---------------------------------------------------------------- Activity


def _connection_filters(request) -> dict:
    return {k: request.GET.get(k, "") for k in ("text", "virtual_server", "pool", "status")}


def activity_connections(request):
    filters = _connection_filters(request)
    return render(request, "activity/connections.html", {
        "filters": filters, **_connections_context(filters),
        "virtual_servers": TYPES["virtual_servers"].model.objects.values_list("name", flat=True),
        "pools": TYPES["pools"].model.objects.values_list("name", flat=True),
    })


def _connections_context(filters: dict) -> dict:
    connections = engine_recent_connections(limit=500)
    rows = connections_filter(connections or [], **filters)[:200]
    for row in rows:
        stamp = row.get("time") or 0
        row["time_text"] = time.strftime("%H:%M:%S", time.localtime(stamp)) + f".{int(stamp * 1000) % 1000:03d}"
    return {"engine_running": connections is not None, "connections": rows, "total": len(connections or [])}


def activity_connections_rows(request):
    """The table body alone, for htmx's periodic refresh."""
    return render(request, "activity/connection_rows.html", _connections_context(_connection_filters(request)))


def activity_current(request):
    return render(request, "activity/current.html", {})


def activity_current_data(request):
    """What the live chart polls: the engine's per-second totals and each virtual server's counters."""
    stats = engine_statistics()
    if stats is None:
        return JsonResponse({"engine_running": False, "time": time.time()})
    vss = stats.get("statistics", {}).get("virtual_servers", {})
    return JsonResponse({
        "engine_running": True, "time": time.time(), "per_second": stats.get("per_second", []),
        "virtual_servers": {n: {k: d.get(k, 0) for k in ("bytes_in", "bytes_out", "total_conn", "current_conn")}
                            for n, d in vss.items()},
    })


# ---------------------------------------------------------------- Diagnose

# The UI page of each configuration type, for links from the problems list.
TYPE_SLUGS = {"virtual_servers": "virtual-servers", "pools": "pools", "rules": "rules", "monitors": "monitors",
              "persistence": "persistence", "bandwidth": "bandwidth", "ssl/server_keys": "ssl-server-keys",
              "traffic_ip_groups": "traffic-ip-groups"}


def diagnose(request):
    """Problems stored with the configuration (diagnose service) and the engine's recent events."""
    problems = []
    for entry in config_diagnose():
        slug = TYPE_SLUGS.get(entry["type"])
        url = reverse(f"{slug}_view", kwargs={"name": entry["name"]}) if slug else ""
        problems.append({**entry, "url": url})
    reply = engine_query({"cmd": "events", "limit": 100})
    events = None if reply is None else sorted(reply.get("events", []), key=lambda e: e.get("time") or 0, reverse=True)
    for event in events or []:
        stamp = event.get("time") or 0
        event["time_text"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else ""
    return render(request, "diagnose.html", {"problems": problems, "events": events})


# ---------------------------------------------------------------- System


def system_traffic_managers(request):
    return render(request, "system/traffic_managers.html", {
        "tms": traffic_managers(), "management_ip": settings.BIND_ADDRESS, "admin_port": settings.ADMIN_PORT,
        "rest_port": settings.REST_PORT, "zeushome": settings.ZEUSHOME,
    })


def system_security(request):
    cert, _ = admin_certificate_paths()
    return render(request, "system/security.html", {"fingerprints": certificate_fingerprints(cert.read_bytes()),
                                                    "cert_path": cert})


def system_licenses(request):
    form = LicenseUploadForm()
    if request.method == "POST":
        require_change(request, "license_keys")
        form = LicenseUploadForm(request.POST, request.FILES)
        if form.is_valid():
            name = form.cleaned_data["name"]
            try:
                config_object_put(otype=TYPES["license_keys"], name=name, value=form.cleaned_data["key_text"],
                                  reason=reason(request, "installed", TYPES["license_keys"], name))
            except SchemaErrors as e:
                form.add_error(None, e.text)
            else:
                messages.success(request, f"Stored license key '{name}'.")
                return redirect("system_licenses")
    keys = TYPES["license_keys"].model.objects.order_by("name")
    return render(request, "system/licenses.html", {"form": form, "keys": keys, "limits": license_limits()},
                  status=400 if form.errors else 200)


@require_POST
def system_license_delete(request, name):
    require_change(request, "license_keys")
    try:
        config_object_delete(otype=TYPES["license_keys"], name=name,
                             reason=reason(request, "deleted", TYPES["license_keys"], name))
        messages.success(request, f"Deleted license key '{name}'.")
    except (ObjectNotFound, ObjectInUse, ObjectProtected) as e:
        messages.error(request, str(e))
    return redirect("system_licenses")


def system_backups(request):
    create, upload = BackupCreateForm(prefix="create"), BackupUploadForm(prefix="upload")
    if request.method == "POST":
        require_change(request, "all")
        if "create" in request.POST:
            create = BackupCreateForm(request.POST, prefix="create")
            if create.is_valid():
                try:
                    backups.backup_create(**create.cleaned_data)
                    messages.success(request, f"Created backup '{create.cleaned_data['name']}'.")
                    return redirect("system_backups")
                except backups.BackupError as e:
                    create.add_error("name", str(e))
        else:
            upload = BackupUploadForm(request.POST, request.FILES, prefix="upload")
            if upload.is_valid():
                try:
                    backups.backup_upload(name=upload.cleaned_data["name"], data=upload.cleaned_data["archive"].read())
                    messages.success(request, f"Uploaded backup '{upload.cleaned_data['name']}'.")
                    return redirect("system_backups")
                except backups.BackupError as e:
                    upload.add_error("archive", str(e))
    rows = []
    for name in backups.backup_list():
        try:
            rows.append({"name": name, **backups.backup_info(name=name)})
        except backups.BackupError as e:
            rows.append({"name": name, "description": f"(unreadable: {e})", "time_stamp": 0, "version": ""})
    for row in rows:
        row["time"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(row["time_stamp"])) if row["time_stamp"] else ""
    return render(request, "system/backups.html", {"create": create, "upload": upload, "backups": rows},
                  status=400 if create.errors or upload.errors else 200)


def system_backup_download(request, name):
    require_change(request, "all")  # a backup holds private keys and password hashes: not for read-only users
    try:
        data = backups.backup_archive(name=name)
    except backups.BackupError as e:
        raise Http404(str(e)) from None
    response = HttpResponse(data, content_type="application/x-tar")
    response["Content-Disposition"] = f'attachment; filename="{name}.tar"'
    return response


@require_POST
def system_backup_restore(request, name):
    require_change(request, "all")
    try:
        backups.backup_restore(name=name)
        messages.success(request, f"Restored backup '{name}': the configuration is now the one it holds.")
    except backups.BackupError as e:
        messages.error(request, str(e))
    except Exception as e:  # a document the current schema refuses: say why, change nothing
        messages.error(request, f"The backup '{name}' could not be restored: {e}")
    return redirect("system_backups")


@require_POST
def system_backup_delete(request, name):
    require_change(request, "all")
    try:
        backups.backup_delete(name=name)
        messages.success(request, f"Deleted backup '{name}'.")
    except backups.BackupError as e:
        messages.error(request, str(e))
    return redirect(reverse("system_backups"))


def system_audit_log(request):
    revisions = (ConfigRevision.objects.order_by("-number").only("number", "reason", "created", "digest")
                 .prefetch_related("pushes")[:200])
    return render(request, "system/audit_log.html", {"revisions": revisions})
