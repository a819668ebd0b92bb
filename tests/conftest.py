"""Fixtures shared by the template's tests (helpers live in tests/support/), and the run's summary."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

import pytest
from docker.errors import DockerException
from playwright.sync_api import sync_playwright

from tests.support.answers import SKIP_LOCK, bake_with
from tests.support.base_images import ensure_python_base
from tests.support.browser import CHROMIUM_FLAGS, chromium_path
from tests.support.engine import docker, docker_objects, remove_image
from tests.support.matrices import CHECKED_STATICALLY, answers_for, image_of
from tests.support.registry import Registry

# The engine tests run in three lanes at once, beside the engine-free tests (pyproject.toml's `-n 4 --dist
# loadgroup`): a lane is one pytest-xdist worker, whose modules run in order and share its session's fixtures.
# The courses of BUILT_COURSES are built and started by name (image tag, compose project), so every module that
# uses them, or the default course's image, runs in one lane. The modules that make courses of their own, each
# under its own name, share the other two, split by their measured time (the suite's columns in docs/benchmarks.md).
BUILT_COURSES_LANE, OWN_COURSES_LANE, PUBLISHING_LANE = "built-courses", "own-courses", "arm64-and-set-ups"
DEFAULT_COURSE_IMAGE_USERS = {"test_instructor_machine"}
ARM64_MODULE = "test_published_for_apple_silicon"
PUBLISHING_LANE_MODULES = {ARM64_MODULE, "test_hub_server", "test_template_updates", "test_pinning",
                           "test_pytorch_cpu"}
LANES = (BUILT_COURSES_LANE, OWN_COURSES_LANE, PUBLISHING_LANE)


def lane_of(item: pytest.Item) -> str | None:
    """The lane of an engine or index test; None for an engine-free test, which any worker may run."""
    if not (item.get_closest_marker("docker") or item.get_closest_marker("network")):
        return None
    module = item.module.__name__.rpartition(".")[2]
    if "built_course" in item.fixturenames or module in DEFAULT_COURSE_IMAGE_USERS:
        return BUILT_COURSES_LANE
    return PUBLISHING_LANE if module in PUBLISHING_LANE_MODULES else OWN_COURSES_LANE


def pytest_itemcollected(item):
    if lane := lane_of(item):
        item.add_marker(pytest.mark.xdist_group(lane))


def pytest_collection_finish(session):
    """In a pytest-xdist worker, each engine test must carry its lane, or the lanes would mix."""
    if getattr(session.config.option, "loadgroup", False):
        stray = [item.nodeid for item in session.items if lane_of(item) and "@" not in item.nodeid]
        if stray:
            raise pytest.UsageError(f"pytest-xdist put no lane on {len(stray)} engine tests, {stray[0]} first: "
                                    "this pytest and pytest-xdist do not group tests (see pyproject.toml)")


@pytest.hookimpl(trylast=True)  # after pytest has grouped the tests by their fixtures' parameters
def pytest_collection_modifyitems(items):
    """The engine-free tests first (a broken hook fails in a minute), then those that need an engine or the index,
    the arm64 ones last: on a machine without a registry, .ci/run is still making their base under emulation.

    A stable sort: within each tier the modules keep their order, so their fixtures are still shared.
    """
    items.sort(key=lambda item: (lane_of(item) is not None, item.module.__name__.endswith(ARM64_MODULE)))


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


# The courses this process built, with the seconds each build took.
BUILT: dict[str, float] = {}


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
            BUILT[name] = time.monotonic() - started
            assert build.returncode == 0, f"building {name} failed:\n{build.stdout}{build.stderr}"
            built[name] = project
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


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # the run itself (one process, or pytest-xdist's controller)
        config.pluginmanager.register(WholeRun(), "whole-run")


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # a pytest-xdist worker hands its builds to the run
        session.config.workeroutput["built"] = BUILT


class WholeRun:
    """What only the run as a whole can say, after all its workers: what its engine tests left in the engine
    (which fails the run), and which course combinations it built and which it only generated.

    A run without engine tests (the fast loop) never asks the engine: what other work holds there is not its own.
    """

    def __init__(self):
        self.before: set[str] | None = None
        self.left: list[str] = []
        self.built = BUILT

    def snapshot(self) -> None:
        with contextlib.suppress(DockerException):  # no engine: the engine tests fail on their own
            self.before = docker_objects()

    def pytest_collection_finish(self, session):
        if any(lane_of(item) for item in session.items):
            self.snapshot()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        """The first worker's collection: no test has started yet."""
        if self.before is None and any(nodeid.endswith(tuple(f"@{lane}" for lane in LANES)) for nodeid in ids):
            self.snapshot()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        self.built.update(getattr(node, "workeroutput", {}).get("built", {}))

    def pytest_sessionfinish(self, session):
        if self.before is not None:
            self.left = sorted(docker_objects() - self.before)
            if self.left:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if self.left:
            terminalreporter.section("left behind", red=True)
            terminalreporter.write_line(f"the tests left these in the engine: {self.left}", red=True)
        ran = {report.nodeid.split("::")[0] for reports in terminalreporter.stats.values() for report in reports
               if getattr(report, "when", None) == "call"}
        lines = [f"built and run in a real engine: {name}" for name in self.built]
        if "tests/test_generation.py" in ran:
            lines += [f"generated and linted, not built by the suite: {what} ({why})"
                      for what, why in CHECKED_STATICALLY.items()]
        if self.built:
            lines.append(f"course image builds: {len(self.built)} in {sum(self.built.values()):.0f}s")
        if lines:
            terminalreporter.section("course combinations")
            for line in lines:
                terminalreporter.write_line(line)
