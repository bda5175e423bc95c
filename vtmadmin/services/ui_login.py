"""Throttling failed Admin UI logins: after too many failures for a user name or a client address,
logins from there are refused for a while (the cache is shared by the admin server's workers)."""

import time

from django.conf import settings
from django.core.cache import cache


def _keys(username: str, client_ip: str) -> list[str]:
    return [f"ui-login-fail:user:{username.lower()}", f"ui-login-fail:ip:{client_ip}"]


def login_locked_for(*, username: str, client_ip: str) -> int:
    """Seconds until a login may be tried again (0: now)."""
    now = time.time()
    wait = 0
    for key in _keys(username, client_ip):
        failures = [t for t in cache.get(key, []) if now - t < settings.UI_LOGIN_LOCKOUT_SECONDS]
        if len(failures) >= settings.UI_LOGIN_MAX_FAILURES:
            wait = max(wait, int(failures[-settings.UI_LOGIN_MAX_FAILURES] + settings.UI_LOGIN_LOCKOUT_SECONDS - now) + 1)
    return wait


def login_failed(*, username: str, client_ip: str) -> None:
    now = time.time()
    for key in _keys(username, client_ip):
        failures = [t for t in cache.get(key, []) if now - t < settings.UI_LOGIN_LOCKOUT_SECONDS]
        cache.set(key, [*failures, now][-50:], settings.UI_LOGIN_LOCKOUT_SECONDS)


def login_succeeded(*, username: str) -> None:
    cache.delete(_keys(username, "")[0])
