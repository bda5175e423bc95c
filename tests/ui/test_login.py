"""Logging in and out of the Admin UI, session timeout, throttled failures, and the security headers."""

import time

import pytest

from tests.ui.conftest import ADMIN_PASSWORD, https_client


def test_every_ui_page_needs_a_login(anon):
    for url in ("/", "/config/pools/", "/wizards/new-service/", "/activity/", "/system/backups/"):
        response = anon.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next="), url


def test_login_then_home_then_logout(anon):
    response = anon.post("/login/?next=/config/pools/", {"username": "admin", "password": ADMIN_PASSWORD,
                                                          "next": "/config/pools/"})
    assert response.status_code == 302 and response["Location"] == "/config/pools/"
    assert anon.get("/").status_code == 200
    assert anon.get("/login/")["Location"] == "/"  # already logged in
    assert anon.get("/logout/").status_code == 405  # logging out is a POST (CSRF-protected)
    response = anon.post("/logout/", follow=True)
    assert b"You have logged out" in response.content
    assert anon.get("/").status_code == 302


def test_login_refuses_an_outside_next(anon):
    response = anon.post("/login/", {"username": "admin", "password": ADMIN_PASSWORD, "next": "https://evil.example/"})
    assert response["Location"] == "/"


@pytest.mark.parametrize("username,password", [("admin", "wrong"), ("nobody", ADMIN_PASSWORD)])
def test_failed_login_does_not_say_which_half_was_wrong(anon, username, password):
    response = anon.post("/login/", {"username": username, "password": password})
    assert response.status_code == 401
    assert b"The username or password is incorrect." in response.content


def test_repeated_failures_are_throttled(anon, settings):
    settings.UI_LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        assert anon.post("/login/", {"username": "admin", "password": "guess"}).status_code == 401
    response = anon.post("/login/", {"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in anon.session  # even the right password is refused while locked


def test_session_times_out_after_the_groups_timeout(ui):
    session = ui.session
    session["last_activity"] = time.time() - 31 * 60  # the admin group's default timeout is 30 minutes
    session.save()
    response = ui.get("/config/pools/")
    assert response.status_code == 302 and "timeout=1" in response["Location"]
    page = ui.get(response["Location"])
    assert b"Your session timed out" in page.content
    assert ui.get("/").status_code == 302


def test_polling_does_not_keep_a_session_alive(ui):
    session = ui.session
    session["last_activity"] = before = time.time() - 60
    session.save()
    ui.get("/activity/connections/rows/", HTTP_X_POLL="1")
    assert ui.session["last_activity"] == before
    ui.get("/")
    assert ui.session["last_activity"] > before


def test_security_headers_and_cookies(anon):
    response = anon.post("/login/", {"username": "admin", "password": ADMIN_PASSWORD})
    cookie = response.cookies["sessionid"]
    assert cookie["secure"] and cookie["httponly"]
    page = anon.get("/")
    assert page["X-Frame-Options"] == "DENY"
    assert "max-age=31536000" in page["Strict-Transport-Security"]
    assert page["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self';" in page["Content-Security-Policy"] and "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert "<script>" not in page.content.decode()  # so no inline script is needed
    assert "Content-Security-Policy" not in anon.get("/api/tm/8.3/config/active/pools/")


def test_forms_need_the_csrf_token(tm):
    client = https_client()
    client.defaults["HTTP_ORIGIN"] = "https://tm1.test"
    client.handler.enforce_csrf_checks = True
    assert client.post("/login/", {"username": "admin", "password": ADMIN_PASSWORD}).status_code == 403
    page = client.get("/login/")
    token = page.cookies["csrftoken"].value
    response = client.post("/login/", {"username": "admin", "password": ADMIN_PASSWORD,
                                       "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    home = client.get("/")
    assert b'name="csrfmiddlewaretoken"' in home.content  # the logout form carries it
    assert client.post("/config/bandwidth/add/", {"name": "x", "maximum": 5, "sharing": "cluster"}).status_code == 403


def test_read_only_group_can_look_but_not_change(tm):
    from vtmadmin.services.users import user_set_password

    user_set_password(name="viewer", password="look-only", group="Guest")
    client = https_client()
    assert client.post("/login/", {"username": "viewer", "password": "look-only"}).status_code == 302
    assert client.get("/config/pools/").status_code == 200
    assert b"Create a new pool" not in client.get("/config/pools/").content
    assert b"(read only)" in client.get("/").content and b"wizards-menu" not in client.get("/").content
    assert client.get("/config/pools/add/").status_code == 403
    response = client.post("/config/pools/add/", {"name": "p"})
    assert response.status_code == 403 and b"may not change" in response.content
    assert client.post("/wizards/new-service/", {"name": "s", "protocol": "http", "port": 80}).status_code == 403
    from vtmadmin.services.backups import backup_create

    backup_create(name="b1")
    assert client.get("/system/backups/").status_code == 200
    assert client.get("/system/backups/b1/download/").status_code == 403  # it holds keys and password hashes
