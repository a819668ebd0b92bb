"""A student's laptop, for every course combination these machines can build.

Each course in BUILT_COURSES is generated, built once, started with
`docker compose up -d` and checked the way a student would meet it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time

import pytest

from tests.conftest import BUILT_COURSES, Course, answers_for, docker

pytestmark = pytest.mark.docker


# The classic "permission denied" case: a host user whose uid is not the image's 1000.
STUDENT_UID = 1234


def chown_notebooks(project, uid: int, gid: int | None = None) -> None:
    for item in [project / "notebooks", *(project / "notebooks").iterdir()]:
        subprocess.run(["chown", f"{uid}:{uid if gid is None else gid}", str(item)], check=True)


@pytest.fixture(scope="module", params=list(BUILT_COURSES), ids=list(BUILT_COURSES))
def course(request, built_course):
    """One running course per combination, its notebooks/ owned by STUDENT_UID; shared by the tests."""
    running = Course(built_course(request.param))
    running.name = request.param
    chown_notebooks(running.path, STUDENT_UID)
    try:
        yield running.up()
    finally:
        running.down()


def start_kernel(course: Course) -> str:
    """Start a kernel through the API, as opening a notebook does; return once its process runs."""
    response = course.api("POST", "/api/kernels", json={"name": "python3"})
    assert response.status_code == 201, response.text
    deadline = time.monotonic() + 60
    while not any("ipykernel" in p["args"] for p in course.processes()):
        assert time.monotonic() < deadline, "the kernel process did not start"
        time.sleep(0.2)
    return response.json()["id"]


def jupyter_and_kernel_processes(course: Course) -> list[dict]:
    """Jupyter's server and kernels (not tini, PID 1, whose arguments name the command it runs)."""
    return [p for p in course.processes()
            if not p["args"].startswith("tini") and ("jupyter" in p["args"] or "ipykernel" in p["args"])]


# 1. Healthy --------------------------------------------------------------------

def test_compose_up_reaches_healthy(course):
    status = docker("inspect", "--format", "{{.State.Health.Status}}", course.container_id()).stdout
    assert status.strip() == "healthy"


def test_api_status_answers_with_the_token(course):
    assert course.api("GET", "/api/status").status_code == 200


# 2. Locked down ----------------------------------------------------------------

def test_contents_without_a_token_are_refused(course):
    assert course.api("GET", "/api/contents", token=None).status_code == 403


def test_port_is_published_on_localhost_only(course):
    ports = json.loads(docker("inspect", "--format", "{{json .NetworkSettings.Ports}}",
                              course.container_id()).stdout)
    bindings = [binding for published in ports.values() if published for binding in published]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(course.port)}]


def test_server_and_kernels_run_as_the_course_user(course):
    kernel = start_kernel(course)
    try:
        processes = jupyter_and_kernel_processes(course)
        assert any("ipykernel" in p["args"] for p in processes), processes
        assert {p["uid"] for p in processes} == {int(course.course_uid())}
        assert 0 not in {p["uid"] for p in processes}
    finally:
        course.api("DELETE", f"/api/kernels/{kernel}")


# Each Jupyter process (server and kernels, not tini) as "uid gid no-new-privs groups...", from /proc.
JUPYTER_PROCESS_STATUS = """
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
        print(status["Uid"].split()[0], status["Gid"].split()[0], status["NoNewPrivs"].strip(), status["Groups"])
"""


def jupyter_process_status(course: Course) -> list[dict]:
    rows = course.exec("python", "-c", JUPYTER_PROCESS_STATUS, user="0").stdout.splitlines()
    return [{"uid": int(uid), "gid": int(gid), "no_new_privs": flag, "groups": [int(g) for g in groups]}
            for uid, gid, flag, *groups in (row.split() for row in rows)]


def test_sudo_is_absent_and_privileges_cannot_be_regained(course):
    assert course.exec("sh", "-c", "command -v sudo", check=False).returncode != 0
    # no-new-privs: not even a setuid program could take the server back to root.
    flags = [process["no_new_privs"] for process in jupyter_process_status(course)]
    assert flags
    assert set(flags) == {"1"}


def test_server_was_not_started_with_allow_root(course):
    servers = jupyter_and_kernel_processes(course)
    assert servers
    for server in servers:
        assert "--allow-root" not in server["args"]
    settings = course.exec("python", "-c",
                           "from jupyter_server.serverapp import ServerApp; print(ServerApp().allow_root)")
    assert settings.stdout.strip() == "False"


# 3. The right environment ------------------------------------------------------

def test_python_is_the_chosen_version(course):
    expected = answers_for(course.name).get("python_version", "3.13")
    version = course.exec("python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])").stdout
    assert version.strip() == expected


def test_every_course_package_imports(course):
    # The generated repository's own import test, one result line per package.
    docker("cp", str(course.path / "tests"), f"{course.container_id()}:/tmp/course-tests")
    result = course.exec("python", "-m", "pytest", "-p", "no:cacheprovider", "-v", "-k", "imports",
                         "/tmp/course-tests", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    packages = re.split(r"[\s,]+", answers_for(course.name).get("packages", "numpy, pandas, matplotlib"))
    for package in packages:
        assert f"test_package_imports[{package}] PASSED" in result.stdout


def test_smoke_notebook_executes_inside_the_container(course):
    result = course.exec("jupyter", "nbconvert", "--to", "notebook", "--execute", "--output-dir", "/tmp",
                         "/home/" + course.exec("sh", "-c", "echo $NB_USER").stdout.strip()
                         + "/work/00-check-environment.ipynb", check=False)
    assert result.returncode == 0, result.stderr
    executed = json.loads(course.exec("cat", "/tmp/00-check-environment.ipynb").stdout)
    outputs = [output for cell in executed["cells"] for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output["output_type"] == "error"]
    if "matplotlib" in answers_for(course.name).get("packages", "matplotlib"):
        assert any("image/png" in output.get("data", {}) for output in outputs)


def test_generated_repository_tests_pass_with_make_test(course):
    result = subprocess.run(["make", "test"], cwd=course.path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\d+ passed", result.stdout)


# Files of the course's packages (and of Jupyter Server) that have no bytecode,
# test suites aside: each would be compiled again at every import, since the
# student cannot write to /opt/venv.
UNCOMPILED = """
import importlib.util, os, re
from importlib.metadata import distribution
from packaging.requirements import Requirement
lines = [line.split("#")[0].strip() for line in open("/opt/course/requirements.in")]
names = [Requirement(line).name for line in lines if line and not line.startswith("-")]
for name in [*names, "jupyter-server"]:
    for file in distribution(name).files or []:
        path = file.locate()
        if file.suffix == ".py" and not re.search(r"/tests?/", "/" + str(file)) and path.exists():
            if not os.path.exists(importlib.util.cache_from_source(str(path))):
                print(name, file)
"""


def test_course_packages_and_jupyter_are_byte_compiled(course):
    uncompiled = course.exec("python", "-c", UNCOMPILED).stdout.splitlines()
    assert not uncompiled, uncompiled[:10]


def test_jupyter_starts_without_building_a_uri_grammar(course):
    # jsonschema checks URIs with rfc3987 when it is installed; otherwise it
    # imports rfc3987-syntax, which compiles a grammar at every start (~1.5 s).
    loaded = course.exec("python", "-c", "import sys, jupyter_server.serverapp, jupyter_events; "
                         "print(sorted(m for m in sys.modules if m.startswith('rfc3987')))").stdout
    assert loaded.strip() == "['rfc3987']"


def test_jupyter_starts_without_warnings(course):
    # Start-up only: later lines log the other tests' refused requests.
    log = course.compose("logs", "jupyter").stdout
    start_up = log.split("Use Control-C to stop this server", 1)[0]
    assert start_up != log, log
    assert not re.findall(r"^.*\[[WEC] \d{4}-.*$", start_up, re.MULTILINE), start_up


def test_system_packages_are_installed(course):
    apt = answers_for(course.name).get("apt_packages", "")
    if "graphviz" not in apt:
        assert course.exec("sh", "-c", "command -v dot", check=False).returncode != 0
    else:
        result = course.exec("dot", "-V")
        assert "graphviz version" in result.stderr + result.stdout


def test_image_records_its_base_and_course(course):
    labels = json.loads(docker("inspect", "--format", "{{json .Config.Labels}}",
                               course.compose("images", "--quiet").stdout.split()[0]).stdout)
    answers = answers_for(course.name)
    base = answers.get("custom_base_image") or f"python:{answers.get('python_version', '3.13')}-slim"
    assert labels["org.opencontainers.image.base.name"] == base
    assert labels["org.opencontainers.image.title"] == "Introduction to Data Science"


# 4. The student's work is safe -------------------------------------------------

def save_notebook(course: Course, name: str, text: str) -> None:
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": text}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    response = course.api("PUT", f"/api/contents/{name}",
                          json={"type": "notebook", "format": "json", "content": notebook})
    assert response.status_code in (200, 201), response.text


def read_notebook(course: Course, name: str) -> str:
    response = course.api("GET", f"/api/contents/{name}")
    assert response.status_code == 200, response.text
    return response.json()["content"]["cells"][0]["source"]


def test_saved_work_lands_in_notebooks_owned_by_the_student(course):
    save_notebook(course, "my-work.ipynb", "my answers")
    saved = course.path / "notebooks" / "my-work.ipynb"
    assert saved.is_file()
    assert saved.stat().st_uid == STUDENT_UID
    assert "my answers" in saved.read_text()


def test_course_notebook_stays_editable_by_the_student(course):
    save_notebook(course, "00-check-environment.ipynb", "edited by the student")
    assert read_notebook(course, "00-check-environment.ipynb") == "edited by the student"
    assert (course.path / "notebooks" / "00-check-environment.ipynb").stat().st_uid == STUDENT_UID


@pytest.fixture
def default_course_owned_by(built_course, tmp_path):
    """A fresh checkout of the default course (same image), owned by a chosen host user."""
    copies: list[Course] = []

    def _checkout(owner_uid: int, owner_gid: int | None = None) -> Course:
        path = tmp_path / "checkout"
        shutil.copytree(built_course("default"), path)
        chown_notebooks(path, owner_uid, owner_gid)
        copies.append(Course(path, project="default-course-checkout"))
        return copies[-1]
    yield _checkout
    for copy in copies:
        copy.down()


def test_host_uid_1000_gets_files_owned_by_uid_1000(default_course_owned_by):
    student = default_course_owned_by(1000).up()
    save_notebook(student, "mine.ipynb", "saved")
    assert (student.path / "notebooks" / "mine.ipynb").stat().st_uid == 1000


def test_root_owned_checkout_is_handed_to_the_course_user(default_course_owned_by):
    # A checkout made as root: Jupyter still runs unprivileged, and can save.
    student = default_course_owned_by(0).up()
    save_notebook(student, "as-root.ipynb", "saved")
    saved = student.path / "notebooks" / "as-root.ipynb"
    assert saved.stat().st_uid == int(student.course_uid())
    assert saved.stat().st_uid != 0


def test_a_folder_of_group_root_never_puts_the_course_user_in_group_0(default_course_owned_by):
    # Files of uid 1234 in group 0 (root's group): the course user takes the uid, not the group.
    student = default_course_owned_by(STUDENT_UID, 0).up()
    processes = jupyter_process_status(student)
    assert processes
    for process in processes:
        assert process["uid"] == STUDENT_UID
        assert process["gid"] != 0
        assert 0 not in process["groups"]
    save_notebook(student, "mine.ipynb", "saved")
    assert (student.path / "notebooks" / "mine.ipynb").stat().st_uid == STUDENT_UID


def test_nb_user_root_is_refused_before_anything_runs(default_course_owned_by):
    student = default_course_owned_by(STUDENT_UID)
    result = student.compose("run", "--rm", "--no-deps", "-e", "NB_USER=root", "jupyter", "id", "-u",
                             check=False, timeout=120)
    assert result.returncode != 0
    assert result.stdout.strip() != "0"
    assert "start-course: NB_USER=root is root; Jupyter never runs as root" in result.stderr


# 5. Clean stop (these restart or stop the shared course, so they come last) -----

def test_restarted_kernels_leave_no_zombies(course):
    kernel = start_kernel(course)
    for _ in range(3):
        assert course.api("POST", f"/api/kernels/{kernel}/restart").status_code == 200
    time.sleep(2)
    assert [p for p in course.processes() if p["stat"].startswith("Z")] == []
    assert len([p for p in course.processes() if "ipykernel" in p["args"]]) == 1
    course.api("DELETE", f"/api/kernels/{kernel}")


def test_saved_work_survives_down_and_up(course):
    save_notebook(course, "kept.ipynb", "still here")
    course.compose("down")
    course.up()
    assert read_notebook(course, "kept.ipynb") == "still here"


def test_stop_with_a_running_kernel_is_graceful(course):
    start_kernel(course)
    course.compose("stop")
    # Shut down on SIGTERM, not killed at compose's 10 s deadline (exit code 137).
    state = json.loads(docker("inspect", "--format", "{{json .State}}", course.container_id()).stdout)
    assert state["ExitCode"] == 0, state
