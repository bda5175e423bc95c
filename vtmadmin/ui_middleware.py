"""The Admin UI's gate: every UI page needs a login, and an idle session times out.

The REST API (/api) authenticates each request itself and is left alone, as are
the login page and the static files.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.utils.http import urlencode

OPEN_PREFIXES = ("/api", "/static/", "/login/")
# Scripts and styles only from our own static files: no inline script, no CDN, never framed.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
POLL_HEADER = "HTTP_X_POLL"  # background refreshes (htmx polling, the live chart) do not count as activity


def session_timeout_seconds(username: str) -> int:
    """The idle timeout of the user's group (vTM `user_groups.basic.timeout`, minutes; 0 means none)."""
    from vtmadmin.models import User, UserGroup

    user = User.objects.filter(name=username).first()
    group_name = (user.properties.get("basic", {}).get("group") if user else None) or "admin"
    group = UserGroup.objects.filter(name=group_name).first()
    minutes = (group.properties.get("basic", {}).get("timeout", 30) if group else 30) or 0
    return int(minutes) * 60


class AdminUILoginMiddleware:
    """Redirect to the login page unless logged in; log out a session idle for longer than its timeout."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.gate(request)
        if not request.path_info.startswith("/api"):
            response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response

    def gate(self, request):
        path = request.path_info
        if path.startswith(OPEN_PREFIXES):
            return self.get_response(request)
        if not request.user.is_authenticated:
            return redirect(f"{settings.LOGIN_URL}?{urlencode({'next': request.get_full_path()})}")
        now = time.time()
        last = request.session.get("last_activity", now)
        timeout = session_timeout_seconds(request.user.username)
        if timeout and now - last > timeout:
            logout(request)
            messages.info(request, "Your session timed out. Please log in again.")
            return redirect(f"{settings.LOGIN_URL}?{urlencode({'next': path, 'timeout': 1})}")
        if not request.META.get(POLL_HEADER):
            request.session["last_activity"] = now
        return self.get_response(request)
