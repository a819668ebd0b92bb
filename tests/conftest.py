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

from tests.base_images import ensure_python_base

TEMPLATE = Path(__file__).resolve().parents[1]
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text())
SKIP_LOCK = {"JUPYTER_COURSE_SKIP_LOCK": "1"}


def bake(output_dir: Path, answers: dict | None = None, env: dict | None = None) -> Path:
    """Generate a project non-interactively with the given answers; return its folder."""
    saved = {key: os.environ.get(key) for key in (env or {})}
    os.environ.update(env or {})
    try:
        return Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers or {},
                                 output_dir=str(output_dir)))
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


@pytest.fixture(scope="session")
def python_base(docker_engine):
    """python:<version>-slim, pulled or (with no registry) a stand-in; built once per session."""
    made = {}

    def _ensure(version: str) -> str:
        if version not in made:
            made[version] = ensure_python_base(version)
        return made[version]
    return _ensure


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Course:
    """A generated course repository driven with the student's own compose commands."""

    path: Path
    port: int
    token: str | None = None
    env: dict = field(default_factory=dict)

    def compose(self, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "JUPYTER_PORT": str(self.port), **self.env}
        if self.token is not None:
            env["JUPYTER_TOKEN"] = self.token
        return subprocess.run(["docker", "compose", *args], cwd=self.path, env=env, check=check,
                              text=True, capture_output=True, timeout=timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def container_id(self) -> str:
        return self.compose("ps", "--quiet", "jupyter").stdout.strip()

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

    def get(self, path: str, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"token {token}"} if token else {}
        return requests.get(self.url + path, headers=headers, timeout=10)

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)


@pytest.fixture(scope="session")
def default_course_image(tmp_path_factory, python_base):
    """The default course project, pinned and built once for the session."""
    project = bake(tmp_path_factory.mktemp("default"))
    python_base(DEFAULTS["python_version"][0])
    subprocess.run(["docker", "compose", "build"], cwd=project, check=True, timeout=1800)
    yield project
    image = f"{DEFAULTS['image_registry']}/{project.name}:latest"
    subprocess.run(["docker", "image", "rm", "--force", image], capture_output=True)


@pytest.fixture
def running_default_course(default_course_image):
    """The default course started with `docker compose up -d`, always taken down."""
    course = Course(default_course_image, free_port(), token=secrets.token_hex(16))
    course.compose("up", "--detach")
    try:
        course.wait_healthy()
        yield course
    finally:
        course.down()
