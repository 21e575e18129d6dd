"""`locust` in the repo root, in a real browser (Debian's Chromium through Playwright): the lab's form comes
first, a test started from it runs against the local server, the header shows the server's URL, and the
finished run's report is linked, served by the UI and loads whole (every image, no console errors).

Screenshots of the page before, during and after the test go to $LOADLAB_SCREENSHOT_DIR (default: the test's
tmp dir)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.net import free_port, wait_http_ok

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]  # fmt: skip
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the Python package playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def web_ui(tmp_path: Path) -> Iterator[str]:
    """`locust` in the repo root (locust.conf: local cloud, web UI on 127.0.0.1) with the small model."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("LOADLAB_LAMBDA_URL", "LOADLAB_EC2_URL")}
    env["LOADLAB_AWS_ENDPOINTS"] = str(tmp_path / "no-aws-endpoints.json")  # no deployed stack either
    argv = [sys.executable, "-m", "locust", "--web-port", str(port), "--lab-model", "smallcnn",
            "--lab-runs-root", str(tmp_path / "runs")]  # fmt: skip
    with (tmp_path / "locust.log").open("w") as log:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http_ok(url + "/", timeout_s=120, what="the Locust web UI")
            yield url
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_for(condition: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LOADLAB_SCREENSHOT_DIR", "") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _check_form_first(page: Any) -> None:
    """The lab's form right under Locust's header; Locust's users / ramp-up form not shown."""
    assert page.evaluate("document.querySelector('#root header').nextElementSibling.id") == "lab-panel"
    labels = page.locator("#lab-panel label").all_inner_texts()
    assert labels[:4] == ["Shape", "Peak rate (requests/s; 0 -> peak)", "Duration (s)", "Target"]
    targets = page.locator("#lab-lab_target option").evaluate_all("options => options.map(o => o.value)")
    assert targets == ["local-faas", "local-server", "lambda", "ec2"]
    assert page.locator("#lab-lab_model").input_value() == "smallcnn"
    models = page.locator("#lab-lab_model option").evaluate_all("options => options.map(o => o.value)")
    assert {"smallcnn", "mobilenetv2"} <= set(models)
    for name in ("userCount", "spawnRate"):
        assert not page.locator(f"input[name={name}]").is_visible()


def _start_constant_test(page: Any) -> None:
    page.select_option("#lab-lab_target", "local-server")
    page.select_option("#lab-lab_shape", "constant")
    page.fill("#lab-lab_rate_rps", "5")
    page.fill("#lab-lab_duration_s", "5")
    with page.expect_navigation():  # the form reloads the page once Locust has begun the test
        page.click("#lab-start")
    page.wait_for_selector("text=Running:")


def _check_report(browser: Any, url: str, href: str, shot: Path) -> None:
    """The report page loads with every image and no console error; the run's other files are not served."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda answer: errors.append(f"{answer.status} {answer.url}") if answer.status >= 400 else None)
    answer = page.goto(url + href, wait_until="load")
    assert answer is not None and answer.ok and "text/html" in answer.headers["content-type"]
    images = page.evaluate("[...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])")
    assert images and all(ok for _, ok in images), images
    assert not errors, errors
    page.screenshot(path=str(shot), full_page=False)
    assert page.request.get(url + href.replace("report.html", "manifest.json")).status == 404
    assert page.request.get(url + href.replace("report.html", "records/x.csv")).status == 404
    page.close()


def test_a_test_started_from_the_lab_form_links_its_report(browser: Any, web_ui: str, tmp_path: Path) -> None:
    shots = _shots(tmp_path)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(web_ui + "/")
    page.wait_for_selector("#root header")
    _check_form_first(page)
    page.screenshot(path=str(shots / "1-before.png"), full_page=True)

    _start_constant_test(page)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(shots / "2-during.png"), full_page=True)
    server_url = page.locator("#lab-lab_target option[value=local-server]").inner_text().split(" \u2014 ")[1]
    assert server_url.startswith("http://127.0.0.1:")
    assert server_url in page.inner_text("#root header")  # the server's URL, not the function front's

    link = page.wait_for_selector("#lab-report-link", timeout=90_000)
    page.wait_for_function(
        "document.querySelector('#root header').innerText.toUpperCase().includes('STOPPED')", timeout=10_000
    )  # Locust's app looks every 2 s
    page.screenshot(path=str(shots / "3-after.png"), full_page=True)
    assert server_url in page.inner_text("#root header")
    href = link.get_attribute("href")
    assert href and href.startswith("/lab/runs/") and href.endswith("/report.html")
    assert (tmp_path / "runs" / href.split("/")[3] / "report.html").is_file()

    page.get_by_role("button", name="New").click()  # Locust's own form stays away; the lab's keeps its values
    assert page.get_by_role("dialog").count() == 0
    page.reload()
    page.wait_for_selector("#lab-panel")
    assert page.locator("#lab-lab_shape").input_value() == "constant"
    assert page.locator("#lab-lab_target").input_value() == "local-server"
    assert page.locator("#lab-lab_rate_rps").input_value() in ("5", "5.0")
    assert not errors, errors
    _check_report(browser, web_ui, href, shots / "4-report.png")
    _refused_then_next_test_runs(page, tmp_path / "runs")
    assert not errors, errors


def _refused_then_next_test_runs(page: Any, runs: Path) -> None:
    """lambda with no URL: the form says what to set, a start is refused with that message (no load sent to
    the local cloud instead), and the next test from the same page runs, on another model (the local cloud
    restarts with it: new URLs, shown in the header)."""
    page.select_option("#lab-lab_target", "lambda")
    assert "LOADLAB_LAMBDA_URL" in page.inner_text('[data-field="lab_target"] small')
    page.click("#lab-start")
    assert "LOADLAB_LAMBDA_URL" in page.wait_for_selector("text=Test refused:", timeout=30_000).inner_text()
    page.wait_for_selector("#lab-start:not([disabled])")
    before, old_header = sorted(runs.glob("*/report.html")), page.inner_text("#root header")
    page.select_option("#lab-lab_target", "local-faas")
    page.select_option("#lab-lab_model", "mobilenetv2")
    page.fill("#lab-lab_duration_s", "2")
    page.click("#lab-start")
    [new_report] = _wait_for(lambda: sorted(set(runs.glob("*/report.html")) - set(before)), 60, "the next run's report")
    link = page.wait_for_selector(f"#lab-report-link[href*='{new_report.parent.name}']", timeout=30_000)
    assert "local-faas" in page.inner_text("#lab-status") and link.is_visible()
    assert page.locator("#lab-lab_model").input_value() == "mobilenetv2"
    faas_url = page.locator("#lab-lab_target option[value=local-faas]").inner_text().split(" \u2014 ")[1]
    assert faas_url in page.inner_text("#root header") and faas_url not in old_header
    assert "mobilenetv2" in (new_report.parent / "report.md").read_text()
