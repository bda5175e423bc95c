"""Headless Chromium, driven by Playwright, uses the Admin UI of a real traffic manager: gunicorn over HTTPS, Celery,
the engine.

Logs in, runs Manage a New Service with the keyboard against a back-end web server started here, fetches the new
service's port and sees the back-end's answer, finds that request on Activity > Connections, watches the Current
Activity graph draw, and drains the node from the pool's page. Screenshots of the home page, the wizard's summary and
the graph are kept in $VTM_TEST_ARTIFACTS/ui.

The browser is Debian's Chromium (/usr/bin/chromium, installed by .ci/install); Playwright's own browser downloads are
never used.
"""

import http.server
import os
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

from tests.integration.nodes import Node, free_port, wait_until

PASSWORD = "browser-test-pass"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("VTM_TEST_ARTIFACTS", Path(tempfile.gettempdir()) / "vtm-test-artifacts")) / "ui"


class Backend(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from the back-end\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def backend():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture
def node(tmp_path):
    n = Node(tmp_path / "zeus")
    n.env["VTM_BANDWIDTH_LIMIT_KBPS"] = "0"
    out = n.manage("start_tm", "--admin-password", PASSWORD)
    assert wait_until(lambda: n.request("GET", "/api/tm/", password=PASSWORD)[0] == 200), out.stdout + out.stderr
    yield n
    n.manage("stop_tm", check=False)


@pytest.fixture
def browser():
    """A page in headless Debian Chromium that accepts the admin server's self-signed certificate.

    page.console holds every console message and page error, for the Content-Security-Policy check.
    """
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: .ci/install installs Debian's chromium package")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = chromium.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.console = []
        page.on("console", lambda m: page.console.append(m))
        page.on("pageerror", lambda e: page.console.append(e))
        yield page
        context.close()
        chromium.close()


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.read().decode()
    except OSError:
        return ""


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path)
    return path


def csp_violations(page: Page) -> list[str]:
    texts = [m.text if isinstance(m, ConsoleMessage) else str(m) for m in page.console]
    return [t for t in texts if "Content Security Policy" in t]


@pytest.mark.timeout(300)
def test_wizard_in_a_real_browser_serves_the_new_service(node, backend, browser: Page):
    page, keyboard = browser, browser.keyboard
    expect.set_options(timeout=20_000)
    ui = f"https://127.0.0.1:{node.admin_port}"
    page.goto(f"{ui}/")
    assert "/login/" in page.url
    page.locator("[name=username]").fill("admin")
    page.locator("[name=password]").fill(PASSWORD)
    keyboard.press("Enter")
    expect(page.locator("#empty-state")).to_be_visible()
    expect(page.locator("main, body").first).to_contain_text("not yet created any pools or virtual servers")
    shot(page, "home")

    # Wizards > Manage a New Service, from the tool bar
    page.locator("#wizards-menu summary").click()
    page.locator("#wizards-menu").get_by_role("link", name="Manage a New Service", exact=True).click()
    page.wait_for_url("**/wizards/new-service/")
    service_port = free_port()
    assert page.evaluate("document.activeElement.name") == "name"  # keyboard-ready: focus is in Name
    keyboard.type("web")
    protocol, port = page.locator("select[name=protocol]"), page.locator("[name=port]")
    expect(protocol.locator("option:checked")).to_have_text("HTTP")
    expect(port).to_have_value("80")
    protocol.select_option("https")  # the port follows the protocol
    expect(port).to_have_value("443")
    protocol.select_option("http")
    port.fill("")
    port.press_sequentially(str(service_port))
    keyboard.press("Enter")  # Enter in a field means Next, not Cancel
    page.wait_for_url("**/wizards/new-service/nodes/")
    page.locator("[name=nodes]").press_sequentially(f"127.0.0.1:{backend}")
    page.locator("#next").focus()
    keyboard.press("Enter")
    summary = page.locator("#summary")
    expect(summary).to_contain_text(f"127.0.0.1:{backend}")
    expect(summary).to_contain_text(str(service_port))
    expect(page.locator("#probe-warnings")).to_have_count(0)  # the back-end answers the probe
    shot(page, "wizard-summary")
    page.locator("#back").focus()
    keyboard.press("Enter")  # Back keeps what was typed
    expect(page.locator("[name=nodes]")).to_have_value(f"127.0.0.1:{backend}")
    page.locator("#next").focus()
    keyboard.press("Enter")
    page.locator("#finish").focus()
    keyboard.press("Enter")
    page.wait_for_url("**/config/virtual-servers/web/")
    assert "Created virtual server" in page.content()

    # the new service answers on its port with the back-end's page
    url = f"http://127.0.0.1:{service_port}/from-the-browser-test"
    assert wait_until(lambda: "hello from the back-end" in fetch(url), timeout=40), (
        (node.home / "log" / "engine.log").read_text()[-3000:])
    for _ in range(20):
        fetch(url)

    # Activity > Connections lists that request (the table refreshes itself)
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Connections", exact=True).click()
    connections = page.locator("#connections")
    expect(connections).to_contain_text("/from-the-browser-test")
    row = " ".join(connections.inner_text().split())  # cells are tab-separated in inner_text
    search = page.locator("[name=text]")
    search.press_sequentially("no-such-url")  # the filter applies as one types (htmx)
    expect(page.locator("#no-connections")).to_have_count(1)
    search.fill("")
    search.press_sequentially("browser-test")
    expect(connections).to_contain_text("/from-the-browser-test")
    assert " web web " in row and "GET /from-the-browser-test 200" in row

    # Current Activity draws live
    nav.get_by_role("link", name="Current Activity", exact=True).click()
    for _ in range(3):
        for _ in range(20):
            fetch(url)
        wait_until(lambda: False, timeout=1.5)
    expect(page.locator("#chart-conns canvas")).to_have_count(1)
    for chart in ("chart-vs-conns", "chart-bandwidth"):  # a line for the new virtual server
        expect(page.locator(f"#{chart} .u-legend")).to_contain_text("web", ignore_case=True)
    page.set_viewport_size({"width": 1280, "height": 1250})
    expect(page.locator("#engine-state")).to_have_attribute("hidden", "")
    shot(page, "current-activity")

    # drain the node from the pool's edit page and see it on the pool's page
    page.goto(f"{ui}/config/pools/web/edit/")
    page.locator("select[name=nodes-0-state]").select_option("draining")
    for _ in range(4):  # more rows than the blank ones the page starts with
        page.locator("#add-node-row").click()
    keyboard.type("10.9.9.9:8080")  # the new row has the focus
    page.locator("form.form button.primary").click()
    page.wait_for_url("**/config/pools/web/")
    expect(page.locator("body")).to_contain_text("Saved pool")
    nodes = page.locator("#nodes")
    expect(nodes).to_contain_text("draining")
    expect(nodes).to_contain_text("10.9.9.9:8080")
    # nothing on these pages broke the Content-Security-Policy (and a violation would have been seen)
    assert not csp_violations(page), csp_violations(page)
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text, timeout=5_000):
        page.evaluate("document.body.append(Object.assign(document.createElement('script'), {text: '1'}))")
