"""Headless Chromium drives the Admin UI of a real traffic manager: gunicorn over HTTPS, Celery, the engine.

Logs in, runs Manage a New Service against a back-end web server started here, fetches the new
service's port and sees the back-end's answer, finds that request on Activity > Connections,
watches the Current Activity graph draw, and drains the node from the pool's page. Screenshots of
the home page, the wizard's summary and the graph are kept in $VTM_TEST_ARTIFACTS/ui.
"""

import http.server
import os
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.integration.nodes import Node, free_port, wait_until

PASSWORD = "browser-test-pass"
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
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--ignore-certificate-errors",
                "--window-size=1280,900", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.read().decode()
    except OSError:
        return ""


def shot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


@pytest.mark.timeout(300)
def test_wizard_in_a_real_browser_serves_the_new_service(node, backend, browser):
    ui = f"https://127.0.0.1:{node.admin_port}"
    wait = WebDriverWait(browser, 20)
    browser.get(f"{ui}/")
    assert "/login/" in browser.current_url
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD + "\n")
    wait.until(lambda d: d.find_elements(By.ID, "empty-state"))
    assert "not yet created any pools or virtual servers" in browser.page_source
    shot(browser, "home")

    # Wizards > Manage a New Service, from the tool bar
    browser.find_element(By.CSS_SELECTOR, "#wizards-menu summary").click()
    browser.find_element(By.LINK_TEXT, "Manage a New Service").click()
    service_port = free_port()
    assert browser.switch_to.active_element.get_attribute("name") == "name"  # keyboard-ready: focus is in Name
    browser.switch_to.active_element.send_keys("web")
    assert Select(browser.find_element(By.NAME, "protocol")).first_selected_option.text == "HTTP"
    port = browser.find_element(By.NAME, "port")
    assert port.get_attribute("value") == "80"
    Select(browser.find_element(By.NAME, "protocol")).select_by_value("https")  # the port follows the protocol
    assert port.get_attribute("value") == "443"
    Select(browser.find_element(By.NAME, "protocol")).select_by_value("http")
    port.clear()
    port.send_keys(f"{service_port}\n")  # Enter in a field means Next, not Cancel
    wait.until(lambda d: "/wizards/new-service/nodes/" in d.current_url)
    browser.find_element(By.NAME, "nodes").send_keys(f"127.0.0.1:{backend}")
    browser.find_element(By.ID, "next").click()
    summary = wait.until(lambda d: d.find_element(By.ID, "summary"))
    assert f"127.0.0.1:{backend}" in summary.text and str(service_port) in summary.text
    assert not browser.find_elements(By.ID, "probe-warnings")  # the back-end answers the probe
    shot(browser, "wizard-summary")
    browser.find_element(By.ID, "back").click()  # Back keeps what was typed
    assert browser.find_element(By.NAME, "nodes").get_attribute("value") == f"127.0.0.1:{backend}"
    browser.find_element(By.ID, "next").click()
    browser.find_element(By.ID, "finish").click()
    wait.until(lambda d: "/config/virtual-servers/web/" in d.current_url)
    assert "Created virtual server" in browser.page_source

    # the new service answers on its port with the back-end's page
    url = f"http://127.0.0.1:{service_port}/from-the-browser-test"
    assert wait_until(lambda: "hello from the back-end" in fetch(url), timeout=40), (
        (node.home / "log" / "engine.log").read_text()[-3000:])
    for _ in range(20):
        fetch(url)

    # Activity > Connections lists that request (the table refreshes itself)
    browser.find_element(By.LINK_TEXT, "Connections").click()
    wait.until(lambda d: "/from-the-browser-test" in d.find_element(By.ID, "connections").text)
    row = browser.find_element(By.ID, "connections").text
    search = browser.find_element(By.NAME, "text")
    search.send_keys("no-such-url")  # the filter applies as one types (htmx)
    wait.until(lambda d: d.find_elements(By.ID, "no-connections"))
    search.clear()
    search.send_keys("browser-test")
    wait.until(lambda d: "/from-the-browser-test" in d.find_element(By.ID, "connections").text)
    assert " web web " in row and "GET /from-the-browser-test 200" in row

    # Current Activity draws live
    browser.find_element(By.LINK_TEXT, "Current Activity").click()
    for _ in range(3):
        for _ in range(20):
            fetch(url)
        wait_until(lambda: False, timeout=1.5)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chart-conns canvas")) == 1)
    for chart in ("chart-vs-conns", "chart-bandwidth"):  # a line for the new virtual server
        wait.until(lambda d, c=chart: "web" in d.find_element(By.CSS_SELECTOR, f"#{c} .u-legend").text.lower())
    browser.set_window_size(1280, 1250)
    assert browser.find_element(By.ID, "engine-state").get_attribute("hidden") is not None
    shot(browser, "current-activity")

    # drain the node from the pool's edit page and see it on the pool's page
    browser.get(f"{ui}/config/pools/web/edit/")
    Select(browser.find_element(By.NAME, "nodes-0-state")).select_by_value("draining")
    for _ in range(4):  # more rows than the blank ones the page starts with
        browser.find_element(By.ID, "add-node-row").click()
    browser.switch_to.active_element.send_keys("10.9.9.9:8080")  # the new row has the focus
    browser.find_element(By.CSS_SELECTOR, "form.form button.primary").click()
    wait.until(lambda d: "/config/pools/web/" in d.current_url and "Saved pool" in d.page_source)
    nodes = browser.find_element(By.ID, "nodes").text
    assert "draining" in nodes and "10.9.9.9:8080" in nodes
    # nothing on these pages broke the Content-Security-Policy
    problems = [e for e in browser.get_log("browser") if "Content Security Policy" in e.get("message", "")]
    assert not problems, problems
