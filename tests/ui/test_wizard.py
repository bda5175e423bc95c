"""The Manage a New Service wizard, as the guide walks it: name/protocol/port, nodes, summary, Finish."""

import socket

from vtmadmin.models import ConfigRevision
from vtmadmin.registry import TYPES

POOLS, VSS = TYPES["pools"].model, TYPES["virtual_servers"].model


def _listening_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server


def test_end_to_end_creates_pool_and_virtual_server(ui):
    page = ui.get("/wizards/new-service/").content.decode()
    assert 'value="80"' in page and '<option value="http" selected>' in page  # HTTP on port 80 by default
    response = ui.post("/wizards/new-service/", {"name": "web", "protocol": "http", "port": 8080, "next": "1"})
    assert response["Location"] == "/wizards/new-service/nodes/"
    backend = _listening_port()
    with backend:
        node = f"127.0.0.1:{backend.getsockname()[1]}"
        response = ui.post("/wizards/new-service/nodes/", {"nodes": f"{node}\nserver2.example.com:80", "probe": "on",
                                                            "next": "1"})
        assert response["Location"] == "/wizards/new-service/summary/"
        summary = ui.get("/wizards/new-service/summary/").content.decode()
    assert "web" in summary and "8080" in summary and node in summary and "server2.example.com:80" in summary
    assert 'id="finish"' in summary and 'id="back"' in summary
    assert "server2.example.com:80 did not accept a connection" in summary  # a warning, not a block
    assert f"{node} did not accept" not in summary
    assert not VSS.objects.exists()  # nothing is created before Finish
    before = ConfigRevision.objects.order_by("-number").first()

    response = ui.post("/wizards/new-service/summary/", {"finish": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == "/config/virtual-servers/web/"
    assert b"Created virtual server" in response.content
    pool = POOLS.objects.get(name="web").properties["basic"]["nodes_table"]
    assert pool == [{"node": node}, {"node": "server2.example.com:80"}]
    vs = VSS.objects.get(name="web").properties["basic"]
    assert vs == {"pool": "web", "protocol": "http", "port": 8080, "enabled": True}
    # exactly one new revision (so one push) holding both the pool and the virtual server
    new = list(ConfigRevision.objects.filter(number__gt=before.number))
    assert len(new) == 1, [r.reason for r in new]
    assert new[0].reason == "Manage a New Service wizard by admin: created pools 'web' and virtual_servers 'web'"
    assert "web" in new[0].document and "8080" in new[0].document and node in new[0].document
    assert "wizard_new_service" not in ui.session
    assert b'id="empty-state"' not in ui.get("/").content


def test_back_keeps_what_was_typed(ui):
    ui.post("/wizards/new-service/", {"name": "shop", "protocol": "https", "port": 8443, "next": "1"})
    ui.post("/wizards/new-service/nodes/", {"nodes": "10.1.1.1:443\n10.1.1.2:443", "back": "1"})
    step1 = ui.get("/wizards/new-service/").content.decode()
    assert 'value="shop"' in step1 and 'value="8443"' in step1 and '<option value="https" selected>' in step1
    ui.post("/wizards/new-service/", {"name": "shop", "protocol": "https", "port": 8443, "next": "1"})
    assert "10.1.1.1:443\n10.1.1.2:443" in ui.get("/wizards/new-service/nodes/").content.decode()
    ui.post("/wizards/new-service/nodes/", {"nodes": "10.1.1.1:443\n10.1.1.2:443", "next": "1"})
    response = ui.post("/wizards/new-service/summary/", {"back": "1"})
    assert response["Location"] == "/wizards/new-service/nodes/"
    assert "10.1.1.2:443" in ui.get("/wizards/new-service/nodes/").content.decode()


def test_cancel_creates_nothing(ui):
    revisions = ConfigRevision.objects.count()
    ui.post("/wizards/new-service/", {"name": "temp", "protocol": "http", "port": 80, "next": "1"})
    ui.post("/wizards/new-service/nodes/", {"nodes": "10.0.0.9:80", "next": "1"})
    response = ui.post("/wizards/new-service/summary/", {"cancel": "1"}, follow=True)
    assert b"nothing was created" in response.content
    assert not VSS.objects.filter(name="temp").exists() and not POOLS.objects.filter(name="temp").exists()
    assert ConfigRevision.objects.count() == revisions
    assert 'value="temp"' not in ui.get("/wizards/new-service/").content.decode()  # a fresh start
    assert ui.get("/wizards/new-service/summary/")["Location"] == "/wizards/new-service/"


def test_step_one_errors_next_to_fields(ui):
    response = ui.post("/wizards/new-service/", {"name": "a/b", "protocol": "http", "port": 70000, "next": "1"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "must not contain &#x27;/&#x27;" in page
    assert "70000 is out of range, it must be from 1 to 65535" in page
    assert "wizard_new_service" not in ui.session


def test_name_already_used(ui):
    from vtmadmin.services.config import config_object_put

    config_object_put(otype=TYPES["pools"], name="taken", value={})
    response = ui.post("/wizards/new-service/", {"name": "taken", "protocol": "http", "port": 80, "next": "1"})
    assert response.status_code == 400 and b"A pool named &#x27;taken&#x27; already exists" in response.content


def test_nodes_are_checked_for_syntax(ui):
    ui.post("/wizards/new-service/", {"name": "api", "protocol": "http", "port": 80, "next": "1"})
    response = ui.post("/wizards/new-service/nodes/", {"nodes": "good.example.com:80\nbad host\n10.0.0.1:99999",
                                                        "next": "1"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Line 2: &#x27;bad&#x27; is not of the form &lt;host&gt;:&lt;port&gt;" in page
    assert "Line 3: &#x27;10.0.0.1:99999&#x27; has an invalid port" in page
    assert ui.post("/wizards/new-service/nodes/", {"nodes": "", "next": "1"}).status_code == 400
    assert ui.get("/wizards/new-service/summary/")["Location"] == "/wizards/new-service/"  # step 2 not done


def test_finish_refuses_a_name_taken_meanwhile_and_saves_nothing(ui):
    from vtmadmin.services.config import config_object_put

    ui.post("/wizards/new-service/", {"name": "race", "protocol": "http", "port": 80, "next": "1"})
    ui.post("/wizards/new-service/nodes/", {"nodes": "10.0.0.1:80", "next": "1"})
    config_object_put(otype=TYPES["virtual_servers"], name="race", value={"basic": {"pool": "x", "port": 81}})
    response = ui.post("/wizards/new-service/summary/", {"finish": "1"})
    assert response.status_code == 400 and b"already exists" in response.content
    assert not POOLS.objects.filter(name="race").exists()
