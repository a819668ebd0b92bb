"""Headless Chromium as the tests and benchmarks drive it (Debian's package, no browser download)."""

from __future__ import annotations

import shutil

import pytest
import requests

from tests.support.waiting import wait_until

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SMOKE_NOTEBOOK = "00-check-environment.ipynb"
# Where each interface opens the smoke notebook.
NOTEBOOK_PATH = {"lab": f"/lab/tree/course/{SMOKE_NOTEBOOK}", "notebook": f"/notebooks/course/{SMOKE_NOTEBOOK}"}


def wait_for_idle_kernel(url: str, token: str, notebook: str, timeout: float = 90, interval: float = 0.5) -> None:
    """Wait until the page has started the notebook's kernel and the kernel is ready."""
    def sessions() -> list[dict]:
        return requests.get(f"{url}/api/sessions", headers={"Authorization": f"token {token}"}, timeout=30).json()

    wait_until(lambda: any(session["path"].endswith(notebook) and session["kernel"]["execution_state"] == "idle"
                           for session in sessions()),
               timeout=timeout, interval=interval, message=lambda: f"no idle kernel for {notebook}: {sessions()}")


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not found:
        pytest.fail("the browser test needs Chromium (Debian package `chromium`)")
    return found
