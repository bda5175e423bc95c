"""System pages: Traffic Managers, Security, Licenses, Backup, Audit Log."""

import io
import tarfile

from vtmadmin.registry import TYPES
from vtmadmin.services.certificates import admin_certificate_paths, certificate_fingerprints
from vtmadmin.services.config import config_object_put


def test_traffic_managers_page(ui):
    page = ui.get("/system/").content.decode()
    assert "tm1.test" in page and "21.4" in page
    for process in ("broker", "worker", "admin", "engine"):
        assert f"<td>{process}</td>" in page
    assert "stopped" in page  # no process of this test node runs


def test_security_page_shows_the_admin_certificate_fingerprints(ui):
    cert, _ = admin_certificate_paths()
    fingerprints = certificate_fingerprints(cert.read_bytes())
    page = ui.get("/system/security/").content.decode()
    assert fingerprints["sha1"] in page and fingerprints["sha256"] in page


def test_licenses_community_edition_and_upload(ui):
    page = ui.get("/system/licenses/").content.decode()
    assert "Community Edition" in page and "10000 kbit/s" in page and "at most 4 traffic managers" in page
    assert "No license key is installed" in page
    assert ui.post("/system/licenses/", {"name": "key1"}).status_code == 400
    key = io.BytesIO(b"LICENSE KEY v1\nserial: 1234\n")
    key.name = "key1.txt"
    response = ui.post("/system/licenses/", {"name": "key1", "key_file": key}, follow=True)
    assert b"Stored license key" in response.content and b"serial: 1234" in response.content
    assert TYPES["license_keys"].model.objects.get(name="key1").text.startswith("LICENSE KEY v1")
    ui.post("/system/licenses/key1/delete/")
    assert not TYPES["license_keys"].model.objects.exists()


def test_backup_create_list_download_restore(ui):
    config_object_put(otype=TYPES["pools"], name="web", value={"basic": {"nodes_table": [{"node": "10.0.0.1:80"}]}})
    response = ui.post("/system/backups/", {"create": "1", "create-name": "before", "create-description": "safe"},
                       follow=True)
    page = response.content.decode()
    assert "Created backup" in page and "before" in page and "safe" in page and "21.4" in page
    archive = ui.get("/system/backups/before/download/")
    assert archive["Content-Disposition"] == 'attachment; filename="before.tar"'
    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
        assert {"backup.json", "config.json"} <= set(tar.getnames())
    # change the configuration, then restore the backup
    config_object_put(otype=TYPES["pools"], name="later", value={})
    response = ui.post("/system/backups/before/restore/", follow=True)
    assert b"Restored backup" in response.content
    assert not TYPES["pools"].model.objects.filter(name="later").exists()
    assert TYPES["pools"].model.objects.filter(name="web").exists()
    # upload it under another name, then delete both
    upload = io.BytesIO(archive.content)
    upload.name = "before.tar"
    response = ui.post("/system/backups/", {"upload": "1", "upload-name": "copy", "upload-archive": upload}, follow=True)
    assert b"Uploaded backup" in response.content
    ui.post("/system/backups/copy/delete/")
    ui.post("/system/backups/before/delete/")
    assert b"There are no backups yet" in ui.get("/system/backups/").content


def test_backup_errors_are_shown_at_the_field(ui):
    bad = io.BytesIO(b"this is not a tar file")
    bad.name = "bad.tar"
    response = ui.post("/system/backups/", {"upload": "1", "upload-name": "bad", "upload-archive": bad})
    assert response.status_code == 400 and b"not a readable tar archive" in response.content
    response = ui.post("/system/backups/", {"create": "1", "create-name": ".hidden"})
    assert response.status_code == 400 and b"must not contain" in response.content
    assert ui.get("/system/backups/nothing/download/").status_code == 404


def test_audit_log_shows_who_changed_what(ui, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ui.post("/config/bandwidth/add/", {"name": "slow", "maximum": 100, "sharing": "cluster"})
    page = ui.get("/system/audit-log/").content.decode()
    assert "admin created bandwidth &#x27;slow&#x27; (Admin UI)" in page
    assert "local: done" in page  # the revision's push to the engine (no engine runs: it reads it at start)
