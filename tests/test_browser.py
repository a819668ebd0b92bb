"""The student's first minutes in a real browser: open the link, open the smoke notebook, run a cell."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import NOTEBOOK_PATH, SMOKE_NOTEBOOK, wait_for_idle_kernel
from tests.support.course import Course

pytestmark = pytest.mark.docker

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.mark.parametrize(("built", "interface"), [("default", "lab"), ("py3.11-notebook-small-no-hub", "notebook")],
                         ids=["jupyterlab", "notebook-7"])
def test_student_opens_the_link_and_runs_the_smoke_notebook(built, interface, built_course, browser, request):
    course = Course(built_course(built)).up()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        # The link exactly as the log prints it, then the notebook the README points to.
        log = course.compose("logs", "jupyter").stdout
        link = re.search(r"http://127\.0\.0\.1:\d+/\S+", log).group(0)
        page.goto(link.replace("token=...", f"token={course.token}"))
        expect(page.locator(".jp-LabShell, #main-panel, .jp-NotebookPanel, #jp-top-panel").first).to_be_visible(
            timeout=60_000)
        page.goto(f"{course.url}{NOTEBOOK_PATH[interface]}?token={course.token}")
        first_code_cell = page.locator(".jp-CodeCell").first
        expect(first_code_cell).to_be_visible(timeout=60_000)
        wait_for_idle_kernel(course.url, course.token, SMOKE_NOTEBOOK)
        first_code_cell.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        output = first_code_cell.locator(".jp-OutputArea-output")
        expect(output.first).to_contain_text("Python 3.", timeout=90_000)
        # A classroom image asks nothing: no news prompt, no update notice.
        for prompt in ("official Jupyter news", "newer version"):
            assert page.get_by_text(prompt).count() == 0, prompt
        # The student's terminal shows no warning (nothing refused or missing, no build check) but Jupyter's
        # own: a notebook opened before it was run here ("not trusted"), and Jupyter Server's websocket
        # ping settings, which Tornado reports once (their keep-alive works as Jupyter Server means it).
        log = course.compose("logs", "jupyter").stdout
        warnings = re.findall(r"^.*\[[WE] \d{4}-.*$", log, re.MULTILINE)
        assert [line for line in warnings
                if not re.search(r" is not trusted$|websocket_ping_timeout \(\d+\) cannot be longer", line)] == []
        if interface == "lab":
            # overrides.json becomes the settings' defaults.
            schema = course.api("GET", "/lab/api/settings/@jupyterlab/apputils-extension:notification").json()["schema"]
            assert schema["properties"]["checkForUpdates"]["default"] is False
            assert schema["properties"]["fetchNews"]["default"] == "false"
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        raise
    finally:
        page.close()
        course.down()


def test_a_student_reads_a_packages_version_and_licence_from_jupyters_launcher(default_course, browser):
    course = Course(default_course).up()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        inventory = json.loads(course.exec("cat", "/opt/course/inventory/inventory.json").stdout)
        pandas = next(package for package in inventory["python packages"] if package["name"] == "pandas")
        page.goto(f"{course.url}/lab?token={course.token}")
        card = page.locator(".jp-LauncherCard", has_text="Course environment")
        expect(card).to_be_visible(timeout=60_000)
        with page.context.expect_page() as opened:
            card.click()
        environment = opened.value
        row = environment.locator("tr", has=environment.locator("td b", has_text=re.compile("^pandas$")))
        expect(row).to_contain_text(pandas["version"], timeout=30_000)
        expect(row).to_contain_text(pandas["licence"])
        expect(row).to_contain_text("asked for by the course")
        ARTIFACTS.mkdir(exist_ok=True)
        environment.screenshot(path=str(ARTIFACTS / "course-environment.png"))
        environment.close()
        # Notebook 7 has it in its New menu.
        page.goto(f"{course.url}/tree")
        page.get_by_text("New", exact=True).click()
        expect(page.locator(".lm-Menu-item", has_text="Course environment")).to_be_visible()
    finally:
        page.close()
        course.down()
