"""The configuration document: export, all-or-nothing import, byte-identical round trip."""

import hashlib
import io
import json
import tarfile

import pytest
from django.core.management import call_command

from vtmadmin.services.document import DocumentInvalid, canonical_json, document_export, document_import

from .conftest import BASE, put


def _sample(api):
    put(api, "pools/web", {"properties": {"basic": {"nodes_table": [{"node": "10.0.0.1:80", "weight": 2}],
                                                    "monitors": ["Ping", "Ping"]}}})
    put(api, "virtual_servers/site", {"properties": {"basic": {"port": 80, "pool": "web", "request_rules": ["r"]}}})
    api.put(f"{BASE}/rules/r", 'pool.use("web");\n', content_type="application/octet-stream")


def test_document_has_schema_version_revision_and_digest(api):
    _sample(api)
    doc = json.loads(document_export())
    assert doc["schema_version"] == "8.3"
    assert doc["revision"] >= 1
    assert doc["digest"] == hashlib.sha256(canonical_json(doc["config"]).encode()).hexdigest()
    assert doc["config"]["rules"]["r"] == 'pool.use("web");\n'
    assert doc["config"]["pools"]["web"]["properties"]["basic"]["monitors"] == ["Ping", "Ping"]


def test_export_import_export_is_byte_identical(api):
    _sample(api)
    first = document_export()
    document_import(first)
    assert document_export() == first


def test_import_replaces_the_configuration_on_another_node(api):
    _sample(api)
    exported = document_export()
    api.delete(f"{BASE}/virtual_servers/site")
    put(api, "pools/extra", {"properties": {}})
    revision = document_import(exported)
    assert revision >= json.loads(exported)["revision"]
    assert api.get(f"{BASE}/virtual_servers/site").status_code == 200
    assert api.get(f"{BASE}/pools/extra").status_code == 404
    # users and their logins come along: the admin can still log in
    assert api.get("/api/tm/").status_code == 200


def test_import_with_errors_changes_nothing_and_lists_every_error(api):
    _sample(api)
    before = document_export()
    doc = json.loads(before)
    doc["config"]["pools"]["web"]["properties"]["basic"]["max_connection_attempts"] = -1
    doc["config"]["pools"]["new"] = {"properties": {"load_balancing": {"algorithm": "nope"}}}
    doc["config"]["virtual_servers"]["site"]["properties"]["basic"]["port"] = "eighty"
    doc["config"]["gizmos"] = {}
    del doc["digest"]
    with pytest.raises(DocumentInvalid) as e:
        document_import(json.dumps(doc))
    names = {(err.get("type"), err.get("name")) for err in e.value.errors}
    assert {("pools", "web"), ("pools", "new"), ("virtual_servers", "site"), ("gizmos", None)} <= names
    assert document_export() == before


def test_tampered_document_is_refused(api):
    _sample(api)
    doc = json.loads(document_export())
    doc["config"]["pools"]["web"]["properties"]["basic"]["monitors"] = []
    with pytest.raises(DocumentInvalid) as e:
        document_import(json.dumps(doc))
    assert "digest" in e.value.errors[0]["error_text"]


@pytest.mark.parametrize("text", ["", "{", "[]", '{"config": 1}', '{"schema_version": "1.0", "config": {}}'])
def test_unreadable_documents_are_refused(api, text):
    before = document_export()
    with pytest.raises(DocumentInvalid):
        document_import(text)
    assert document_export() == before


def test_manage_py_export_and_import(api, tmp_path, capsys):
    _sample(api)
    out = tmp_path / "config.json"
    call_command("export_config", "-o", str(out))
    assert json.loads(out.read_text())["config"]["pools"]["web"]
    api.delete(f"{BASE}/virtual_servers/site")
    call_command("import_config", str(out))
    assert api.get(f"{BASE}/virtual_servers/site").status_code == 200
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    from django.core.management.base import CommandError
    with pytest.raises(CommandError):
        call_command("import_config", str(bad))


def test_rest_document_export_and_import(api):
    _sample(api)
    exported = api.get("/api/tm/8.3/config/document").content
    api.delete(f"{BASE}/virtual_servers/site")
    r = api.put("/api/tm/8.3/config/document", exported, content_type="application/json")
    assert r.status_code == 200
    assert api.get(f"{BASE}/virtual_servers/site").status_code == 200
    r = api.put("/api/tm/8.3/config/document", b'{"schema_version": "8.3", "config": {"pools": {"x": 1}}}',
                content_type="application/json")
    assert r.status_code == 400 and r.json()["error_id"] == "document.invalid"
    assert r.json()["error_info"]["errors"][0]["name"] == "x"


BACKUPS = "/api/tm/8.3/status/local_tm/backups/full"


def test_backup_create_list_download_restore_delete(api):
    _sample(api)
    r = api.put(f"{BACKUPS}/before-change", {"properties": {"backup": {"description": "known good"}}}, format="json")
    assert r.status_code == 201
    assert [c["name"] for c in api.get(BACKUPS).json()["children"]] == ["before-change"]
    info = api.get(f"{BACKUPS}/before-change").json()["properties"]["backup"]
    assert info["description"] == "known good" and info["time_stamp"] > 0 and info["version"]
    archive = api.get(f"{BACKUPS}/before-change", HTTP_ACCEPT="application/x-tar")
    assert archive["Content-Type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
        assert {"backup.json", "config.json"} <= set(tar.getnames())
    api.delete(f"{BASE}/virtual_servers/site")
    assert api.put(f"{BACKUPS}/before-change?restore", format="json").status_code == 200
    assert api.get(f"{BASE}/virtual_servers/site").status_code == 200
    assert api.delete(f"{BACKUPS}/before-change").status_code == 204
    assert api.get(f"{BACKUPS}/before-change").status_code == 404


def test_backup_upload_checks_the_archive(api):
    _sample(api)
    api.put(f"{BACKUPS}/b1", {"properties": {"backup": {"description": "x"}}}, format="json")
    data = api.get(f"{BACKUPS}/b1", HTTP_ACCEPT="application/x-tar").content
    r = api.put(f"{BACKUPS}/copy", data, content_type="application/x-tar")
    assert r.status_code == 201
    r = api.put(f"{BACKUPS}/broken", data[:300], content_type="application/x-tar")
    assert r.status_code == 400 and "tar" in r.json()["error_text"]
    r = api.put(f"{BACKUPS}/junk", b"not a tar at all", content_type="application/x-tar")
    assert r.status_code == 400
    assert "broken" not in str(api.get(BACKUPS).json())


def test_import_from_the_command_line_reports_rules_that_do_not_compile(api, tmp_path, capsys):
    doc = json.loads(document_export())
    doc["config"]["rules"]["bad"] = 'http.setHeader("X");\n'
    del doc["digest"]
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc))
    call_command("import_config", str(path))
    err = capsys.readouterr().err
    assert "warning: rules 'bad' line 1 column" in err and "expects 2 arguments" in err
