"""Fixtures shared by the template's tests: baked projects, a Docker engine, running courses."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from cookiecutter.main import cookiecutter
from slugify import slugify

from tests.base_images import ensure_python_base

TEMPLATE = Path(__file__).resolve().parents[1]
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text())
# The answers --no-input gives, as a fork's cookiecutter.json sets them: tests
# take their expectations from here, never from copies of today's defaults.
DEFAULT_ANSWERS = {key: (value[0] if isinstance(value, list) else value) for key, value in DEFAULTS.items()
                   if not key.startswith("_") and key != "project_slug"}
DEFAULT_SLUG = slugify(DEFAULTS["course_name"])
SKIP_LOCK = {"JUPYTER_COURSE_SKIP_LOCK": "1"}


def bake(output_dir: Path, answers: dict | None = None, env: dict | None = None, **options) -> Path:
    """Generate a project non-interactively with the given answers; return its folder."""
    saved = {key: os.environ.get(key) for key in (env or {})}
    os.environ.update(env or {})
    try:
        return Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers or {},
                                 output_dir=str(output_dir), **options))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def bake_static(tmp_path_factory):
    """Bake without pinning (fast, no network): for checks of the files themselves."""
    def _bake(answers: dict | None = None) -> Path:
        return bake(tmp_path_factory.mktemp("bake"), answers, SKIP_LOCK)
    return _bake


# --- Docker -----------------------------------------------------------------

def docker(*args: str, timeout: float = 900, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=check, text=True, capture_output=True,
                          timeout=timeout, **kwargs)


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


def docker_objects() -> set[str]:
    """Containers, networks and volumes in the engine, and images other than base images."""
    objects = set()
    for kind, listing in (("container", ["ps", "--all"]), ("network", ["network", "ls"]),
                          ("volume", ["volume", "ls"])):
        ids = docker(*listing, "--quiet").stdout.split()
        objects |= {f"{kind} {name}" for name in ids}
    images = docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    objects |= {f"image {name}" for name in images
                if not name.startswith(("python:", "jupyter-course-standin/", "<none>"))}
    return objects


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind(request):
    """Fail the run if the tests leave containers, networks, volumes or course images in the engine."""
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        yield
        return
    before = docker_objects()
    yield
    left = sorted(docker_objects() - before)
    assert not left, f"the tests left these behind: {left}"


@pytest.fixture(scope="session")
def python_base(docker_engine):
    """python:<version>-slim, pulled or (with no registry) a stand-in; built once per session."""
    made = {}

    def _ensure(version: str) -> str:
        if version not in made:
            made[version] = ensure_python_base(version)
        return made[version]
    return _ensure


def stop_process(process: subprocess.Popen, timeout: float = 60) -> None:
    """Ask a server process we started to stop (SIGTERM), and kill it if it does not."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def requirement_lines(text: str) -> list[str]:
    """The requirement lines of a requirements file, comments and blank lines left out."""
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def wait_for_url(url: str, *, timeout: float, process: subprocess.Popen | None = None,
                 explain=lambda: "") -> None:
    """Poll url until it answers 200; fail with explain() if process stops or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert process is None or process.poll() is None, explain()
        assert time.monotonic() < deadline, f"{url} did not answer in {timeout}s. {explain()}"
        time.sleep(0.2)


# Each Jupyter process (server and kernels, not tini), from /proc inside the
# container: "uid gid no-new-privs effective-capabilities groups...".
JUPYTER_PROCESSES = """
import os, pathlib
for proc in pathlib.Path("/proc").glob("[0-9]*"):
    if proc.name == str(os.getpid()):  # this script's own command line names jupyter too
        continue
    try:
        command = (proc / "cmdline").read_bytes().replace(b"\\0", b" ").decode()
        status = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines())
    except OSError:
        continue
    if "jupyter" in command and not command.startswith("tini"):
        print(status["Uid"].split()[0], status["Gid"].split()[0], status["NoNewPrivs"].strip(),
              status["CapEff"].strip(), status["Groups"])
"""


def parse_jupyter_processes(output: str) -> list[dict]:
    return [{"uid": int(uid), "gid": int(gid), "no_new_privs": flag, "capabilities": int(caps, 16),
             "groups": [int(group) for group in groups]}
            for uid, gid, flag, caps, *groups in (row.split() for row in output.splitlines())]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Courses built and run for real. Multiply what changes the image (Python and
# its base, interface, package set, system packages); everything else is
# checked statically in test_generation.py.
SMALL = "numpy"
DATA_SCIENCE = "numpy pandas matplotlib scipy scikit-learn seaborn"
CUSTOM_BASE = "registry.example.edu/mirror/python:3.13-slim"
BUILT_COURSES = {
    "default": {},
    "py3.11-notebook-small": {"python_version": "3.11", "interface": "notebook", "packages": "requests"},
    "py3.13-lab-data-science-graphviz": {"packages": DATA_SCIENCE, "apt_packages": "graphviz"},
    "py3.14-lab-small": {"python_version": "3.14", "packages": SMALL},
    "py3.13-custom-base-notebook": {"base_image": "custom", "custom_base_image": CUSTOM_BASE,
                                    "interface": "notebook", "packages": SMALL},
}
CHECKED_STATICALLY = {
    "Jupyter Docker Stacks bases (minimal-notebook, scipy-notebook)":
        "quay.io cannot be reached and there is no stand-in for a conda-based image",
    "Python 3.10 and 3.12 bases": "no Debian release ships these Pythons to build a stand-in from",
    "gpu=yes": "no NVIDIA GPU or container toolkit on these machines",
}


BUILT_THIS_SESSION: list[str] = []
BUILD_SECONDS: list[float] = []


def answers_for(name: str) -> dict:
    """The answers of a built course, defaults included; each gets its own slug, so its own image and project."""
    answers = {**DEFAULT_ANSWERS, **BUILT_COURSES[name]}
    if name != "default":
        answers["project_slug"] = f"course-{name.replace('.', '')}"
    return answers


def image_of(project: Path) -> str:
    return f"{DEFAULTS['image_registry']}/{project.name}:latest"


@pytest.fixture(scope="session")
def built_course(tmp_path_factory, python_base):
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
            project = bake(tmp_path_factory.mktemp(name), answers)
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
        subprocess.run(["docker", "image", "rm", "--force", image_of(project)], capture_output=True)
    for tag in extra_tags:
        subprocess.run(["docker", "image", "rm", tag], capture_output=True)


@dataclass
class Course:
    """A generated course repository driven with the student's own compose commands."""

    path: Path
    port: int = field(default_factory=lambda: free_port())
    token: str | None = field(default_factory=lambda: secrets.token_hex(16))
    env: dict = field(default_factory=dict)
    # Another compose project name lets a copy of a course run beside the original.
    project: str | None = None

    def compose(self, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "JUPYTER_PORT": str(self.port), **self.env}
        if self.token is not None:
            env["JUPYTER_TOKEN"] = self.token
        name = ["--project-name", self.project] if self.project else []
        return subprocess.run(["docker", "compose", *name, *args], cwd=self.path, env=env, check=check,
                              text=True, capture_output=True, timeout=timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def container_id(self) -> str:
        return self.compose("ps", "--all", "--quiet", "jupyter").stdout.strip()

    def up(self) -> Course:
        self.compose("up", "--detach")
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            status = docker("inspect", "--format", "{{.State.Health.Status}}", self.container_id()).stdout
            if status.strip() == "healthy":
                return
            time.sleep(0.5)
        logs = self.compose("logs", check=False).stdout
        raise AssertionError(f"container not healthy after {timeout}s ({status.strip()}):\n{logs}")

    def api(self, method: str, path: str, token: str | None = "own", **kwargs) -> requests.Response:
        """Call Jupyter's REST API, with this course's token unless told otherwise."""
        token = self.token if token == "own" else token
        headers = {"Authorization": f"token {token}"} if token else {}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, token: str | None = None) -> requests.Response:
        return self.api("GET", path, token=token)

    def exec(self, *command: str, user: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """Run a command in the running container (as the course user unless told otherwise)."""
        as_user = ["--user", user] if user else ["--user", self.course_uid()]
        return docker("exec", *as_user, self.container_id(), *command, check=check, timeout=300)

    def course_uid(self) -> str:
        return docker("exec", self.container_id(), "sh", "-c", 'id -u "$NB_USER"').stdout.strip()

    def jupyter_processes(self) -> list[dict]:
        """Jupyter's server and kernels as /proc shows them inside the container (see JUPYTER_PROCESSES)."""
        return parse_jupyter_processes(self.exec("python", "-c", JUPYTER_PROCESSES, user="0").stdout)

    def save_notebook(self, path: str, text: str) -> None:
        """Save a one-cell notebook through Jupyter's API, as the student's browser does."""
        notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": text}],
                    "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        response = self.api("PUT", f"/api/contents/{path}",
                            json={"type": "notebook", "format": "json", "content": notebook})
        assert response.status_code in (200, 201), response.text

    def read_notebook(self, path: str) -> str:
        response = self.api("GET", f"/api/contents/{path}")
        assert response.status_code == 200, response.text
        return response.json()["content"]["cells"][0]["source"]

    def processes(self) -> list[dict]:
        """Every process in the container: uid, pid, state and command line (from the host's ps)."""
        table = docker("top", self.container_id(), "-o", "uid,pid,stat,args").stdout.splitlines()[1:]
        rows = []
        for line in table:
            uid, pid, stat, args = line.split(None, 3)
            rows.append({"uid": int(uid), "pid": int(pid), "stat": stat, "args": args})
        return rows

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)


@pytest.fixture(scope="session")
def default_course_image(built_course):
    """The default course project, pinned and built once for the session."""
    return built_course("default")


@pytest.fixture
def running_default_course(default_course_image):
    """The default course started with `docker compose up -d`, always taken down."""
    course = Course(default_course_image)
    try:
        yield course.up()
    finally:
        course.down()


def pytest_terminal_summary(terminalreporter):
    """Say which course combinations ran in a real engine and which were only checked statically."""
    terminalreporter.section("course combinations")
    for name in BUILT_COURSES:
        done = "built and run for real" if name in BUILT_THIS_SESSION else "not built in this run"
        terminalreporter.write_line(f"{done}: {name}")
    for what, why in CHECKED_STATICALLY.items():
        terminalreporter.write_line(f"checked statically only: {what} ({why})")
    if BUILD_SECONDS:
        terminalreporter.write_line(f"course image builds: {len(BUILD_SECONDS)} in {sum(BUILD_SECONDS):.0f}s")
