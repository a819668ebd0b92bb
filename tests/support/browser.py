"""Headless Chromium as the tests and benchmarks drive it (Debian's package, no browser download)."""

from __future__ import annotations

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SMOKE_NOTEBOOK = "00-check-environment.ipynb"
# Where each interface opens the smoke notebook.
NOTEBOOK_PATH = {"lab": f"/lab/tree/course/{SMOKE_NOTEBOOK}", "notebook": f"/notebooks/course/{SMOKE_NOTEBOOK}"}
