"""A student on rootless Podman: an ordinary user, their own engine, `docker compose` against it.

The course image is loaded once into that user's Podman; their Podman API
socket is started the way `systemctl --user start podman.socket` would, and
`docker compose` talks to it through DOCKER_HOST, as the student README says.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.support.course import (
    COURSE_CAPABILITIES,
    PROC_STATUS,
    Course,
    capability_names,
    fresh_checkout,
    owners,
    parse_proc_status,
)
from tests.support.desktop import check_gui_cell_draws_on_the_desktop
from tests.support.engine import stop_process
from tests.support.matrices import DESKTOP_COURSE, image_of
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

# The ordinary user .ci/rootless-podman creates, with sub-uids for Podman.
PODMAN_USER = os.environ.get("JUPYTER_COURSE_PODMAN_USER", "learner")


@pytest.fixture(scope="session")
def learner() -> pwd.struct_passwd:
    if not shutil.which("podman"):
        pytest.fail("the Podman tests need podman, uidmap, slirp4netns (bash .ci/rootless-podman)")
    try:
        return pwd.getpwnam(PODMAN_USER)
    except KeyError:
        pytest.fail(f"the Podman tests need an ordinary user {PODMAN_USER!r} with sub-uids (bash .ci/rootless-podman)")


def as_learner(learner, *command: str, timeout: float = 300, **kwargs):
    env = {"HOME": learner.pw_dir, "USER": learner.pw_name, "LOGNAME": learner.pw_name, "PATH": os.environ["PATH"]}
    return subprocess.run(command, user=learner.pw_uid, group=learner.pw_gid, extra_groups=[], env=env,
                          cwd=learner.pw_dir, capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="session")
def learner_folder(learner) -> Path:
    """A folder of the learner's own for the tests' files (the test runner's are closed to them)."""
    folder = Path(learner.pw_dir) / "course-tests"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    os.chown(folder, learner.pw_uid, learner.pw_gid)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def podman_image(learner, learner_folder, built_course):
    """A built course's image, loaded once into the learner's own Podman."""
    loaded: list[str] = []

    def _load(name: str) -> str:
        image = image_of(built_course(name))
        if image not in loaded:
            archive = learner_folder / "image.tar"
            subprocess.run(["docker", "save", "--output", str(archive), image], check=True, timeout=600)
            archive.chmod(0o644)
            result = as_learner(learner, "podman", "load", "--quiet", "--input", str(archive), timeout=1200)
            assert result.returncode == 0, result.stderr
            archive.unlink()
            loaded.append(image)
        return image
    yield _load
    for image in loaded:
        as_learner(learner, "podman", "rmi", "--force", image)


@pytest.fixture(scope="session")
def podman_socket(learner, learner_folder) -> str:
    """The learner's Podman API socket, what `systemctl --user start podman.socket` serves."""
    socket = learner_folder / "podman.sock"
    env = {"HOME": learner.pw_dir, "USER": learner.pw_name, "PATH": os.environ["PATH"]}
    service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{socket}"], user=learner.pw_uid,
                               group=learner.pw_gid, extra_groups=[], env=env, cwd=learner.pw_dir,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def socket_made() -> bool:
        assert service.poll() is None, "podman system service stopped"
        return socket.exists()

    wait_until(socket_made, timeout=60, interval=0.2, message="the Podman socket did not appear")
    yield f"unix://{socket}"
    stop_process(service)


@contextmanager
def learners_checkout(learner, learner_folder, podman_socket, project: Path, name: str) -> Iterator[Course]:
    """The learner's own checkout of a course, started with `docker compose up` against their Podman."""
    checkout = fresh_checkout(project, learner_folder / name)
    for path in [checkout, *checkout.rglob("*")]:
        os.lchown(path, learner.pw_uid, learner.pw_gid)
    course = Course(checkout, project=name, env={"DOCKER_HOST": podman_socket})
    course.outside_work = owners(checkout, checkout / "work")
    course.compose("up", "--detach", timeout=600)
    try:
        wait_until(lambda: course.api("GET", "/api/status").status_code == 200, timeout=120,
                   ignoring=(requests.ConnectionError,), message=lambda: course.compose("logs", check=False).stdout)
        yield course
    finally:
        course.down()
        shutil.rmtree(checkout, ignore_errors=True)


@pytest.fixture(scope="module")
def podman_course(learner, learner_folder, podman_image, podman_socket, built_course):
    """The default course, the learner's own checkout, on their Podman."""
    podman_image("default")
    with learners_checkout(learner, learner_folder, podman_socket, built_course("default"), "podman-course") as course:
        yield course


def podman_docker(course: Course, *args: str) -> str:
    """A docker CLI command against the learner's Podman."""
    return subprocess.run(["docker", *args], env={**os.environ, **course.env}, check=True, capture_output=True,
                          text=True, timeout=300).stdout


def test_jupyter_requires_the_token_under_podman(podman_course):
    assert podman_course.api("GET", "/api/status").status_code == 200
    assert podman_course.api("GET", "/api/contents", token=None).status_code == 403


def test_a_saved_notebook_belongs_to_the_student_on_their_computer(podman_course, learner):
    notebook = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    saved = podman_course.api("PUT", "/api/contents/mine.ipynb",
                              json={"type": "notebook", "format": "json", "content": notebook})
    assert saved.status_code == 201, saved.text
    path = podman_course.path / "work" / "mine.ipynb"
    assert (path.stat().st_uid, path.stat().st_gid) == (learner.pw_uid, learner.pw_gid)
    before = podman_course.path / "work" / "before.ipynb"
    assert (before.stat().st_uid, before.stat().st_gid) == (learner.pw_uid, learner.pw_gid)
    assert owners(podman_course.path, podman_course.path / "work") == podman_course.outside_work


def test_jupyter_and_pid_1_are_the_student_without_any_capability(podman_course):
    # Container uid 0 is the learner on the host; it keeps no capability and cannot gain one.
    container = course_container(podman_course)
    processes = parse_proc_status(podman_docker(podman_course, "exec", container, "python", "-c", PROC_STATUS,
                                                "jupyter"))
    pid_1 = parse_proc_status(podman_docker(podman_course, "exec", container, "python", "-c", PROC_STATUS, "1"))
    assert processes
    for process in processes + pid_1:
        assert process["uid"] == 0
        assert process["no_new_privs"] == "1"
        assert process["capabilities"] == 0
        assert process["bounding"] == 0


def test_an_exec_shell_holds_only_what_start_course_needs_under_podman(podman_course):
    shell = podman_course.compose_exec_status()
    assert capability_names(shell["capabilities"]) == COURSE_CAPABILITIES
    assert capability_names(shell["bounding"]) == COURSE_CAPABILITIES
    assert shell["no_new_privs"] == "1"


def course_container(course: Course) -> str:
    return podman_docker(course, "compose", "--project-name", "podman-course", "ps", "--all", "--quiet",
                         "jupyter").strip()


def test_the_port_is_published_on_localhost_only_under_podman(podman_course):
    container = course_container(podman_course)
    ports = json.loads(podman_docker(podman_course, "inspect", "--format", "{{json .NetworkSettings.Ports}}",
                                     container))
    bindings = [binding for published in ports.values() if published for binding in published]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(podman_course.port)}]


def test_sudo_is_absent_under_podman(podman_course):
    absent = subprocess.run(["docker", "exec", course_container(podman_course), "sh", "-c", "command -v sudo"],
                            env={**os.environ, **podman_course.env}, capture_output=True, timeout=60)
    assert absent.returncode != 0


def test_stop_is_graceful_under_podman(podman_course):
    # Last: it stops the shared course. Shut down on SIGTERM, not killed at the deadline (137).
    podman_course.compose("stop")
    state = json.loads(podman_docker(podman_course, "inspect", "--format", "{{json .State}}",
                                     course_container(podman_course)))
    assert state["ExitCode"] == 0, state


def test_the_desktop_draws_a_notebook_cells_windows_under_podman(learner, learner_folder, podman_image,
                                                                podman_socket, built_course, browser):
    podman_image(DESKTOP_COURSE)
    with learners_checkout(learner, learner_folder, podman_socket, built_course(DESKTOP_COURSE),
                           "podman-desktop") as course:
        check_gui_cell_draws_on_the_desktop(course, browser, "podman")
        # The desktop is the learner's (container uid 0 in their user namespace), like Jupyter.
        x_server = course.exec("python", "-c", "import pathlib; print(*(p.name for p in pathlib.Path('/proc')"
                               ".glob('[0-9]*') if (p / 'comm').read_text().strip() == 'Xvnc'))").stdout.split()
        assert len(x_server) == 1
        status = course.proc_status(int(x_server[0]))
        assert (status["uid"], status["capabilities"], status["no_new_privs"]) == (0, 0, "1")


def test_the_readme_tells_podman_users_what_these_tests_do(bake_static):
    readme = (bake_static({}) / "README.md").read_text()
    block = re.search(r"^### With Podman.*?```sh\n(.*?)```", readme, re.MULTILINE | re.DOTALL)
    assert block, "the student README has no Podman section"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    # The socket the tests start by hand is the one this service serves; compose talks to it the same way.
    assert commands == ["systemctl --user enable --now podman.socket",
                        'export DOCKER_HOST="unix://$XDG_RUNTIME_DIR/podman/podman.sock"', "docker compose up"]
