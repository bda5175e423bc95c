"""The REST API's tree, as vTM clients walk it."""

import pytest

from .conftest import BASE, basic


def test_api_root_lists_tm(api):
    assert api.get("/api").json() == {"children": [{"name": "tm", "href": "/api/tm/"}]}


@pytest.mark.parametrize("path", ["/api/tm", "/api/tm/", "/api//tm//", "/api/tm//"])
def test_versions_list_includes_8_3_with_or_without_slash(api, path):
    names = [c["name"] for c in api.get(path).json()["children"]]
    assert "8.3" in names


def test_active_config_lists_types_and_ssl_groups_server_keys(api):
    names = [c["name"] for c in api.get(f"{BASE}/").json()["children"]]
    for t in ("pools", "virtual_servers", "rules", "monitors", "persistence", "bandwidth", "ssl",
              "traffic_ip_groups", "traffic_managers", "global_settings", "user_groups", "users"):
        assert t in names
    assert [c["name"] for c in api.get(f"{BASE}/ssl/").json()["children"]] == ["server_keys"]


def test_builtin_objects_exist(api):
    assert [c["name"] for c in api.get(f"{BASE}/pools/").json()["children"]] == ["discard"]
    monitors = {c["name"] for c in api.get(f"{BASE}/monitors").json()["children"]}
    assert monitors == {"Ping", "Connect", "Simple HTTP", "Full HTTP", "Simple HTTPS", "Full HTTPS",
                        "Client First", "Server First"}
    assert api.get(f"{BASE}/monitors/Simple%20HTTP").json()["properties"]["basic"]["type"] == "http"


def test_global_settings_and_local_traffic_manager_exist(api, settings):
    assert api.get(f"{BASE}/global_settings").status_code == 200
    tms = [c["name"] for c in api.get(f"{BASE}/traffic_managers").json()["children"]]
    assert settings.TM_NAME in tms


def test_unknown_url_is_json_404(api):
    for path in ("/api/tm/8.3/nothing", f"{BASE}/nothing/x", "/api/nothing"):
        r = api.get(path)
        assert r.status_code == 404
        assert r.json()["error_id"] == "resource.not_found"


def test_missing_object_is_resource_not_found(api):
    r = api.get(f"{BASE}/pools/nope")
    assert r.status_code == 404 and r.json()["error_id"] == "resource.not_found"


def test_nothing_readable_without_credentials(anon):
    for path in ("/api", "/api/tm/", f"{BASE}/pools/discard", "/api/tm/8.3/status/local_tm/information"):
        r = anon.get(path)
        assert r.status_code == 401
        assert r.json()["error_id"] == "auth.invalid"
        assert r["WWW-Authenticate"].startswith("Basic")


def test_wrong_password_is_auth_invalid(anon):
    anon.credentials(HTTP_AUTHORIZATION=basic("admin", "wrong"))
    r = anon.get("/api/tm/")
    assert r.status_code == 401 and r.json()["error_id"] == "auth.invalid"
    anon.credentials(HTTP_AUTHORIZATION=basic("nobody", "x"))
    assert anon.get("/api/tm/").status_code == 401


def test_read_only_user_can_read_but_not_change(api, anon):
    assert api.put(f"{BASE}/users/viewer", {"properties": {"basic": {"password": "pw-viewer", "group": "Guest"}}},
                   format="json").status_code == 201
    anon.credentials(HTTP_AUTHORIZATION=basic("viewer", "pw-viewer"))
    assert anon.get(f"{BASE}/pools/discard").status_code == 200
    r = anon.put(f"{BASE}/pools/x", {"properties": {}}, format="json")
    assert r.status_code == 403 and r.json()["error_id"] == "auth.no_access"
    assert api.get(f"{BASE}/pools/x").status_code == 404


def test_user_password_is_never_returned(api):
    api.put(f"{BASE}/users/bob", {"properties": {"basic": {"password": "hunter2-long"}}}, format="json")
    body = api.get(f"{BASE}/users/bob").json()
    assert body["properties"]["basic"]["password"] == ""
    assert "hunter2" not in str(body)


def test_metadata_returns_the_type_schema(api):
    meta = api.get(f"{BASE}/pools?metadata").json()
    assert meta["properties"]["load_balancing"]["algorithm"]["default"] == "round_robin"


def test_information(api):
    info = api.get("/api/tm/8.3/status/local_tm/information").json()["information"]
    assert info["tm_version"] and info["uuid"]


def test_openapi_schema_is_served_as_json(api):
    r = api.get("/api/schema/")
    assert r.status_code == 200
    assert b"openapi" in r.content


def test_openapi_describes_every_type_with_the_schema_ranges(api):
    doc = api.get("/api/schema/").json()
    assert doc["openapi"].startswith("3.")
    pool = doc["components"]["schemas"]["pool"]["properties"]["properties"]["properties"]
    algorithm = pool["load_balancing"]["properties"]["algorithm"]
    assert "weighted_round_robin" in algorithm["enum"] and algorithm["default"] == "round_robin"
    weight = pool["basic"]["properties"]["nodes_table"]["items"]["properties"]["weight"]
    assert (weight["minimum"], weight["maximum"]) == (1, 100)
    assert "/api/tm/8.3/config/active/virtual_servers/{name}" in doc["paths"]
    assert "/api/tm/8.3/config/active/global_settings" in doc["paths"]


def test_rest_api_and_admin_ui_answer_on_their_own_ports(api, settings):
    r = api.get("/api/tm/", SERVER_PORT=str(settings.ADMIN_PORT))
    assert r.status_code == 404 and "9070" in r.json()["error_text"].replace(str(settings.REST_PORT), "9070")
    assert api.get("/api/tm/", SERVER_PORT=str(settings.REST_PORT)).status_code == 200
    assert api.get("/login/", SERVER_PORT=str(settings.REST_PORT)).status_code == 404
