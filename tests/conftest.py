"""Fixtures shared by the template's tests (helpers live in tests/support/), and the run's summary."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.support.answers import SKIP_LOCK, bake_with
from tests.support.base_images import ensure_python_base
from tests.support.browser import CHROMIUM_FLAGS, chromium_path
from tests.support.engine import docker, docker_objects, remove_image
from tests.support.matrices import CHECKED_STATICALLY, answers_for, image_of
from tests.support.registry import Registry


@pytest.hookimpl(trylast=True)  # after pytest has grouped the tests by their fixtures' parameters
def pytest_collection_modifyitems(items):
    """The engine-free tests first (a broken hook fails in a minute), then those that need an engine or the index.

    A stable sort: within each tier the modules keep their order, so their fixtures are still shared.
    """
    items.sort(key=lambda item: bool(item.get_closest_marker("docker") or item.get_closest_marker("network")))


@pytest.fixture(scope="session")
def bake_static(cookies_session):
    """Bake without pinning (fast, no network): for checks of the files themselves."""
    def _bake(answers: dict | None = None) -> Path:
        return bake_with(cookies_session, answers, SKIP_LOCK)
    return _bake


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A working Docker engine with Compose v2; fails (never skips) when there is none."""
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                          capture_output=True, text=True)
    if info.returncode != 0:
        pytest.fail(f"these tests need a running Docker engine: {info.stderr.strip()}")
    compose = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if compose.returncode != 0:
        pytest.fail("these tests need the Docker Compose v2 plugin (`docker compose`)")


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind(request):
    """Fail the run if its engine tests leave containers, networks, volumes or course images in the engine.

    A run without engine tests (the fast loop) never asks the engine: what other work holds there is not its own.
    """
    if not any(item.get_closest_marker("docker") for item in request.session.items):
        yield
        return
    before = docker_objects()
    yield
    left = sorted(docker_objects() - before)
    assert not left, f"the tests left these behind: {left}"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """The instructor's registry on 127.0.0.1 (as ghcr.io or Docker Hub is), for one test module."""
    running = Registry(tmp_path_factory.mktemp("registry"))
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's), driven through Playwright."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def python_base(docker_engine):
    """python:<version>-slim, pulled or (with no registry) a stand-in; built once per session."""
    made = {}

    def _ensure(version: str) -> str:
        if version not in made:
            made[version] = ensure_python_base(version)
        return made[version]
    return _ensure


BUILT_THIS_SESSION: list[str] = []
BUILD_SECONDS: list[float] = []


@pytest.fixture(scope="session")
def built_course(cookies_session, python_base):
    """Bake (pinned) and build a course of BUILT_COURSES once per session; images removed at the end."""
    built: dict[str, Path] = {}
    extra_tags: list[str] = []

    def _build(name: str) -> Path:
        if name not in built:
            answers = answers_for(name)
            base = python_base(answers["python_version"])
            if answers.get("base_image") == "custom":
                docker("tag", base, answers["custom_base_image"])
                extra_tags.append(answers["custom_base_image"])
            project = bake_with(cookies_session, answers)
            started = time.monotonic()
            build = subprocess.run(["docker", "compose", "--progress=plain", "build"], cwd=project,
                                   capture_output=True, text=True, timeout=1800)
            BUILD_SECONDS.append(time.monotonic() - started)
            assert build.returncode == 0, f"building {name} failed:\n{build.stdout}{build.stderr}"
            built[name] = project
            BUILT_THIS_SESSION.append(name)
        return built[name]

    yield _build
    for project in built.values():
        remove_image(image_of(project))
    for tag in extra_tags:
        subprocess.run(["docker", "image", "rm", tag], capture_output=True)


@pytest.fixture(scope="session")
def default_course(built_course):
    """The default course project, pinned and built once for the session."""
    return built_course("default")


def pytest_terminal_summary(terminalreporter):
    """Say what this run did with the course combinations: which it built and ran, which it only generated."""
    ran = {report.nodeid.split("::")[0] for reports in terminalreporter.stats.values() for report in reports
           if getattr(report, "when", None) == "call"}
    lines = [f"built and run in a real engine: {name}" for name in BUILT_THIS_SESSION]
    if "tests/test_generation.py" in ran:
        lines += [f"generated and linted, not built by the suite: {what} ({why})"
                  for what, why in CHECKED_STATICALLY.items()]
    if BUILD_SECONDS:
        lines.append(f"course image builds: {len(BUILD_SECONDS)} in {sum(BUILD_SECONDS):.0f}s")
    if lines:
        terminalreporter.section("course combinations")
        for line in lines:
            terminalreporter.write_line(line)
