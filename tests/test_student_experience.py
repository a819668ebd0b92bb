"""A student's laptop, for every course combination these machines can build.

Each course in BUILT_COURSES is generated, built once, started with
`docker compose up -d` and checked the way a student would meet it. What every course
shares (start script, compose.yaml, settings) is checked on the default course, and on
the desktop course where its desktop adds processes.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import subprocess
import threading
import time

import pytest
import requests
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.support.course import COURSE_CAPABILITIES, Course, capability_names, fresh_checkout, owners
from tests.support.engine import docker
from tests.support.kernel import in_a_jupyter_terminal
from tests.support.licences import check_every_package_has_a_licence_or_unknown, written_licences
from tests.support.matrices import BUILT_COURSES, DESKTOP_COURSE, answers_for, image_of
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker


# The classic "permission denied" case: a host user whose uid is not the image's 1000.
STUDENT_UID = 1234


def chown_work(project, uid: int, gid: int | None = None) -> None:
    """Give the student's work folder and its files to a host user, as their own checkout would be."""
    for item in [project / "work", *(project / "work").rglob("*")]:
        os.lchown(item, uid, uid if gid is None else gid)


@pytest.fixture(scope="module", params=list(BUILT_COURSES), ids=list(BUILT_COURSES))
def course(request, built_course):
    """One running course per combination, its work/ owned by STUDENT_UID; shared by the tests."""
    running = Course(built_course(request.param), name=request.param)
    chown_work(running.path, STUDENT_UID)
    try:
        yield running.up()
    finally:
        running.down()


# What every course shares (the start script, compose.yaml, Jupyter's settings) is checked on one course; the
# desktop course too where its desktop adds processes. The rest runs on every course, as the course changes it.
ON_ONE_COURSE = pytest.mark.parametrize("course", ["default"], indirect=True)
WITH_AND_WITHOUT_A_DESKTOP = pytest.mark.parametrize("course", ["default", DESKTOP_COURSE], indirect=True)


def start_kernel(course: Course) -> str:
    """Start a kernel through the API, as opening a notebook does; return once its process runs."""
    response = course.api("POST", "/api/kernels", json={"name": "python3"})
    assert response.status_code == 201, response.text
    wait_until(lambda: any("ipykernel" in process["args"] for process in course.processes()), timeout=60,
               interval=0.2, message="the kernel process did not start")
    return response.json()["id"]


def jupyter_and_kernel_processes(course: Course) -> list[dict]:
    """Jupyter's server and kernels (not tini, PID 1, whose arguments name the command it runs)."""
    return [p for p in course.processes()
            if not p["args"].startswith("tini") and ("jupyter" in p["args"] or "ipykernel" in p["args"])]


# 1. Healthy --------------------------------------------------------------------

@ON_ONE_COURSE
def test_api_status_answers_with_the_token(course):
    assert course.api("GET", "/api/status").status_code == 200


# 2. Locked down ----------------------------------------------------------------

@ON_ONE_COURSE
def test_contents_without_a_token_are_refused(course):
    assert course.api("GET", "/api/contents", token=None).status_code == 403


@ON_ONE_COURSE
def test_contents_with_a_wrong_token_are_refused(course):
    assert course.api("GET", "/api/contents", token="wrong").status_code == 403


@ON_ONE_COURSE
def test_port_is_published_on_localhost_only(course):
    ports = course.container().attrs["NetworkSettings"]["Ports"]
    bindings = [binding for published in ports.values() if published for binding in published]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(course.port)}]


@ON_ONE_COURSE
def test_the_course_starts_on_the_engines_default_network(course):
    # No network of its own to create before Jupyter can answer (see bench/first_day.py).
    assert list(course.container().attrs["NetworkSettings"]["Networks"]) == ["bridge"]


def test_jupyter_is_started_without_the_jupyter_launcher(course):
    # `jupyter lab` starts Python twice before Jupyter itself (the launcher, then jupyter-lab).
    command = course.container().attrs["Config"]["Cmd"]
    assert command in (["jupyter-lab"], ["jupyter-notebook"]), command


def test_the_browser_offers_no_extension_installs(course):
    page = course.api("GET", "/lab").text
    manager = json.loads(re.search(r'"extensionManager": (\{[^}]*\})', page).group(1))
    assert manager["name"] == "read-only"
    assert manager["can_install"] is False


@WITH_AND_WITHOUT_A_DESKTOP
def test_server_and_kernels_run_as_the_course_user(course):
    kernel = start_kernel(course)
    try:
        processes = jupyter_and_kernel_processes(course)
        assert any("ipykernel" in p["args"] for p in processes), processes
        assert {p["uid"] for p in processes} == {int(course.course_uid())}
        assert 0 not in {p["uid"] for p in processes}
    finally:
        course.api("DELETE", f"/api/kernels/{kernel}")


@WITH_AND_WITHOUT_A_DESKTOP
def test_pid_1_and_jupyter_hold_no_capability(course):
    # tini (PID 1) and everything it starts run after start-course has dropped root for good.
    for status in (course.proc_status(1), *course.jupyter_processes()):
        assert status["capabilities"] == 0, status
        assert status["bounding"] == 0, status
        assert status["no_new_privs"] == "1", status


@WITH_AND_WITHOUT_A_DESKTOP
def test_an_exec_shell_holds_only_what_start_course_needs(course):
    # `docker compose exec jupyter bash` runs as the container's user, root: with the compose file's
    # capabilities only, and unable to gain more.
    shell = course.compose_exec_status()
    assert shell["uid"] == 0
    assert capability_names(shell["capabilities"]) == COURSE_CAPABILITIES
    assert capability_names(shell["bounding"]) == COURSE_CAPABILITIES
    assert shell["no_new_privs"] == "1"


@WITH_AND_WITHOUT_A_DESKTOP
def test_sudo_is_absent_and_privileges_cannot_be_regained(course):
    assert course.exec("sh", "-c", "command -v sudo", check=False).returncode != 0
    # no-new-privs: not even a setuid program could take the server back to root.
    flags = [process["no_new_privs"] for process in course.jupyter_processes()]
    assert flags
    assert set(flags) == {"1"}


@ON_ONE_COURSE
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
    expected = answers_for(course.name)["python_version"]
    version = course.exec("python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])").stdout
    assert version.strip() == expected


@ON_ONE_COURSE
def test_python_in_a_jupyter_terminal_is_the_courses(course):
    # File > New > Terminal, then `python`: the course's packages are there.
    in_a_jupyter_terminal(course.url, course.token, "python -c 'import sys; print(sys.prefix)' > terminal-python.txt")
    answer = course.path / "work" / "terminal-python.txt"
    wait_until(lambda: answer.exists() and answer.read_text(), timeout=30, interval=0.2,
               message="the terminal did not run the command")
    assert answer.read_text().strip() == "/opt/venv"


def test_the_desktop_is_in_the_image_only_when_the_course_chose_it(course):
    chosen = answers_for(course.name)["desktop"]
    installed = course.exec("sh", "-c", "dpkg-query --show --showformat='${Package} ' tigervnc-standalone-server jwm "
                            "xterm 2>/dev/null; test -f /opt/course/desktop/novnc/core/rfb.js && echo noVNC; "
                            "echo \"DISPLAY=${DISPLAY:-}\"", check=False).stdout
    desktop = {"tigervnc-standalone-server", "jwm", "xterm", "noVNC", "DISPLAY=:1"}
    assert set(installed.split()) == (desktop if chosen else {"DISPLAY="}), installed
    servers = course.api("GET", "/server-proxy/servers-info").json()["server_processes"]
    assert [server["launcher_entry"]["title"] for server in servers if server["name"] == "desktop-websockify"] == (
        ["Desktop"] if chosen else [])


@ON_ONE_COURSE
def test_a_web_app_opens_at_jupyters_proxy_address_with_the_token_only(course):
    # A student's own web server on a port inside the container (here Python's
    # own), opened in the browser through Jupyter as README.md says.
    in_a_jupyter_terminal(course.url, course.token, "python -m http.server --bind 127.0.0.1 8050")
    answer = wait_until(lambda: (page := course.api("GET", "/proxy/8050/")).status_code == 200 and page,
                        timeout=30, interval=0.3, message="the web app did not answer at /proxy/8050/")
    assert "Directory listing" in answer.text
    refused = course.api("GET", "/proxy/8050/", token=None, allow_redirects=False)
    assert refused.status_code == 302
    assert "/login" in refused.headers["Location"]


# The environment as its files say, independently of importlib.metadata: the
# first *.dist-info of each name along sys.path, as Python resolves imports.
INSTALLED = """
import json, pathlib, re, sys
found = {}
for folder in sys.path:
    for info in sorted(pathlib.Path(folder or ".").glob("*.dist-info")):
        fields = dict(line.split(": ", 1) for line in (info / "METADATA").read_text().split("\\n\\n")[0].splitlines()
                      if ": " in line and not line.startswith(" "))
        found.setdefault(re.sub(r"[-_.]+", "-", fields["Name"]).lower(), fields["Version"])
print(json.dumps(found))
"""


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def inventory_of(course: Course) -> tuple[dict, dict]:
    return tuple(json.loads(course.exec("cat", f"/opt/course/inventory/{name}").stdout)
                 for name in ("inventory.json", "sbom.cdx.json"))


def test_the_inventory_lists_exactly_the_python_environment_and_what_the_course_asked_for(course):
    inventory, _ = inventory_of(course)
    installed = json.loads(course.exec("python", "-c", INSTALLED).stdout)
    assert {normalized(p["name"]): p["version"] for p in inventory["python packages"]} == installed
    asked = {normalized(p["name"]) for p in inventory["python packages"] if p["asked for by"] == "the course"}
    assert asked == {normalized(re.split(r"[\[<>=!~]", item)[0])
                     for item in re.split(r"[\s,]+", answers_for(course.name)["packages"]) if item}
    assert inventory["python"] == course.exec("python", "-c", "import platform; print(platform.python_version())"
                                              ).stdout.strip()


def test_the_sbom_is_valid_cyclonedx_and_lists_every_python_debian_and_browser_package(course):
    _, sbom = inventory_of(course)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(sbom)) is None
    purls = {component["purl"].split("?")[0] for component in sbom["components"]}
    installed = json.loads(course.exec("python", "-c", INSTALLED).stdout)
    assert {purl for purl in purls if purl.startswith("pkg:pypi/")} == {
        f"pkg:pypi/{name}@{version}" for name, version in installed.items()}
    debian = course.exec("dpkg-query", "--show", "--showformat=${db:Status-Abbrev} ${Package} ${Version}\n").stdout
    assert {purl.split("/", 2)[2] for purl in purls if purl.startswith("pkg:deb/")} == {
        f"{name}@{version}" for status, name, version in (line.split() for line in debian.splitlines())
        if status == "ii"}
    novnc = re.search(r'^VERSION = "(.+)"', (course.path / "docker/build/install-novnc.py").read_text(),
                      re.MULTILINE) if answers_for(course.name)["desktop"] else None
    assert {purl for purl in purls if purl.startswith("pkg:npm/")} == (
        {f"pkg:npm/%40novnc/novnc@{novnc.group(1)}"} if novnc else set())


def test_the_sboms_licences_are_spdx_identifiers_or_expressions_where_the_metadata_has_them(course):
    _, sbom = inventory_of(course)
    licences = [entry for component in sbom["components"] for entry in component.get("licenses", [])]
    assert any("id" in entry.get("license", {}) for entry in licences)
    if "numpy" in answers_for(course.name)["packages"]:
        # numpy states several licences at once.
        numpy = next(component for component in sbom["components"] if component["name"] == "numpy")
        assert " AND " in numpy["licenses"][0]["expression"]


def test_it_md_gets_every_package_of_the_image_with_its_licence_or_unknown(course, tmp_path):
    page, inventory = written_licences(course.path, image_of(course.path), tmp_path)
    check_every_package_has_a_licence_or_unknown(page, inventory)


def test_the_inventory_names_the_debian_packages_the_course_added(course):
    inventory, _ = inventory_of(course)
    added = {p["name"] for p in inventory["debian packages"] if p["added by the course"]}
    assert set(answers_for(course.name)["apt_packages"].split()) <= added
    assert "tini" in added
    assert "bash" not in added


def test_the_courses_own_tests_pass_and_every_course_package_imports(course):
    # The generated repository's own tests, as `make test` runs them (that target runs once, on the default
    # course, below): an import test per package, and the course's notebooks.
    docker("cp", str(course.path / "tests"), f"{course.container_id()}:/tmp/course-tests")
    result = course.exec("python", "-m", "pytest", "-p", "no:cacheprovider", "-v", "/tmp/course-tests", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    packages = re.split(r"[\s,]+", answers_for(course.name)["packages"])
    for package in packages:
        assert f"test_package_imports[{package}] PASSED" in result.stdout


def test_smoke_notebook_executes_inside_the_container(course):
    result = course.exec("jupyter", "nbconvert", "--to", "notebook", "--execute", "--output-dir", "/tmp",
                         "/home/" + course.exec("sh", "-c", "echo $NB_USER").stdout.strip()
                         + "/work/course/00-check-environment.ipynb", check=False)
    assert result.returncode == 0, result.stderr
    executed = json.loads(course.exec("cat", "/tmp/00-check-environment.ipynb").stdout)
    outputs = [output for cell in executed["cells"] for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output["output_type"] == "error"]
    if "matplotlib" in answers_for(course.name)["packages"]:
        assert any("image/png" in output.get("data", {}) for output in outputs)


@ON_ONE_COURSE
def test_make_test_passes_and_writes_what_the_course_needs_into_the_students_readme(course):
    result = subprocess.run(["make", "test"], cwd=course.path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\d+ passed", result.stdout)
    # Measured from the image just built, not typed: its size unpacked, its layers compressed.
    needs = re.search(r"^What the course needs: a download of about (\d+) MB the first time, about ([\d.]+) GB of "
                      r"disk space, and 2 GB of memory for Docker\.$", (course.path / "README.md").read_text(),
                      re.MULTILINE)
    assert needs, result.stdout[-2000:]
    size = course.container().image.attrs["Size"]
    assert float(needs.group(2)) == round(size / 1e9, 1)
    assert 0 < int(needs.group(1)) * 1e6 < size
    assert f"README.md: {needs.group(0).split(': ', 1)[1]}" in result.stdout
    assert "IT.md: the licence of every package in the image" in result.stdout
    inventory = json.loads(course.exec("cat", "/opt/course/inventory/inventory.json").stdout)
    check_every_package_has_a_licence_or_unknown((course.path / "IT.md").read_text(), inventory)


# Files of the course's packages (and of Jupyter Server), and the image's own
# course_* modules, without bytecode this Python uses, test suites aside: no
# file, or one that records another modification time or size than the source
# has (Python's own check); each would be compiled again at every import,
# since the student cannot write to /opt/venv.
UNCOMPILED = """
import glob, importlib.util, os, re, sysconfig
from importlib.metadata import distribution
from packaging.requirements import Requirement

def compiled(path):
    try:
        header = open(importlib.util.cache_from_source(path), "rb").read(16)
    except FileNotFoundError:
        return False
    if int.from_bytes(header[4:8], "little"):  # hash-based: valid while the source is unchanged
        return True
    source = os.stat(path)
    return header[8:16] == (int(source.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (
        source.st_size & 0xFFFFFFFF).to_bytes(4, "little")

lines = [line.split("#")[0].strip() for line in open("/opt/course/requirements.in")]
names = [Requirement(line).name for line in lines if line and not line.startswith("-")]
for name in [*names, "jupyter-server"]:
    for file in distribution(name).files or []:
        path = file.locate()
        if file.suffix == ".py" and not re.search(r"/tests?/", "/" + str(file)) and path.exists():
            if not compiled(str(path)):
                print(name, file)
for path in glob.glob(sysconfig.get_paths()["purelib"] + "/course_*.py"):
    if not compiled(path):
        print("the image's own", path)
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


def test_jupyter_does_not_look_for_language_servers(course):
    # None is installed; jupyter_lsp would search for nineteen at every start.
    assert course.api("GET", "/lsp/status").status_code == 404


def test_jupyter_starts_without_warnings(course):
    # Start-up only: later lines log the other tests' refused requests.
    log = course.compose("logs", "jupyter").stdout
    start_up = log.split("Jupyter is ready. Open this link", 1)[0]
    assert start_up != log, log
    assert not re.findall(r"^.*\[[WEC] \d{4}-.*$", start_up, re.MULTILINE), start_up


def test_system_packages_are_installed(course):
    apt = answers_for(course.name)["apt_packages"]
    if "graphviz" not in apt:
        assert course.exec("sh", "-c", "command -v dot", check=False).returncode != 0
    else:
        result = course.exec("dot", "-V")
        assert "graphviz version" in result.stderr + result.stdout


def test_image_records_its_base_and_course(course):
    labels = course.container().image.labels
    answers = answers_for(course.name)
    base = answers["custom_base_image"] or f"python:{answers['python_version']}-slim"
    assert labels["org.opencontainers.image.base.name"] == base
    assert labels["org.opencontainers.image.title"] == answers["course_name"]


# 4. The student's work is safe -------------------------------------------------

@ON_ONE_COURSE
def test_saved_work_lands_in_work_owned_by_the_student(course):
    course.save_notebook("my-work.ipynb", "my answers")
    saved = course.path / "work" / "my-work.ipynb"
    assert saved.is_file()
    assert saved.stat().st_uid == STUDENT_UID
    assert "my answers" in saved.read_text()


@ON_ONE_COURSE
def test_course_notebooks_are_read_only_for_the_student(course):
    notebook = course.path / "course" / "00-check-environment.ipynb"
    before = notebook.read_bytes()
    listed = course.api("GET", "/api/contents/course/00-check-environment.ipynb", params={"content": "0"})
    assert listed.json()["writable"] is False
    notebook_json = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    refused = course.api("PUT", "/api/contents/course/00-check-environment.ipynb",
                         json={"type": "notebook", "format": "json", "content": notebook_json})
    assert refused.status_code >= 400
    assert notebook.read_bytes() == before


@ON_ONE_COURSE
def test_a_course_notebook_copied_out_of_course_is_the_students_to_edit(course):
    copied = course.api("POST", "/api/contents", json={"copy_from": "course/00-check-environment.ipynb"})
    assert copied.status_code == 201, copied.text
    name = copied.json()["path"]
    course.save_notebook(name, "edited by the student")
    assert course.read_notebook(name) == "edited by the student"
    assert (course.path / "work" / name).stat().st_uid == STUDENT_UID


def test_a_laptop_serves_no_nbgitpuller_links(course):
    # Hub links are for a hub's students: on 127.0.0.1 they would be one more way in (docker/container/course_pull.py).
    link = {"repo": "file:///tmp/week-3", "targetpath": "week-3"}
    assert course.api("GET", "/git-pull", params=link).status_code == 404
    assert course.api("GET", "/git-pull/api", params=link).status_code == 404


@pytest.fixture
def default_course_owned_by(built_course, tmp_path):
    """A fresh checkout of the default course (same image), its work/ owned by a chosen host user."""
    copies: list[Course] = []

    def _checkout(owner_uid: int, owner_gid: int | None = None, compose_override: str | None = None) -> Course:
        path = fresh_checkout(built_course("default"), tmp_path / f"checkout-{len(copies)}")
        chown_work(path, owner_uid, owner_gid)
        if compose_override:
            (path / "compose.override.yaml").write_text(compose_override)
        copies.append(Course(path, project="default-course-checkout"))
        return copies[-1]
    yield _checkout
    for copy in copies:
        copy.down()


def notebook_of(text: str) -> dict:
    return {"cells": [{"cell_type": "markdown", "metadata": {}, "source": text}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def source(notebook: dict) -> str:
    """The first cell's text (nbformat may write it as a list of lines)."""
    text = notebook["cells"][0]["source"]
    return text if isinstance(text, str) else "".join(text)


def save_until_stopped(course: Course, name: str, stop: threading.Event, saved: list[str]) -> None:
    """Save a 0.1-0.5 MB notebook again and again through Jupyter's API, as autosave does, until the server dies."""
    session = requests.Session()
    session.headers["Authorization"] = f"token {course.token}"
    while not stop.is_set():
        text = f"version {len(saved)} " + secrets.token_hex(random.randint(50_000, 250_000))
        saved.append(text)  # before the request: the kill may land while it is written
        try:
            session.put(f"{course.url}/api/contents/{name}", timeout=30,
                        json={"type": "notebook", "format": "json", "content": notebook_of(text)})
        except requests.RequestException:
            return


KILLS = 20


def test_a_container_killed_during_saves_leaves_every_notebook_whole(default_course_owned_by):
    student = default_course_owned_by(STUDENT_UID)
    student.compose("up", "--detach")
    work = student.path / "work"
    (work / "kept.ipynb").write_text(json.dumps(notebook_of("kept")))
    saved: list[str] = []
    for kill in range(KILLS):
        student.wait_answering()
        stop = threading.Event()
        saver = threading.Thread(target=save_until_stopped, args=(student, "kill.ipynb", stop, saved))
        saver.start()
        time.sleep(random.uniform(0.3, 1.5))
        docker("kill", "--signal", "KILL", student.container_id())
        stop.set()
        saver.join()
        # What the student sees (a save in progress is a hidden file until it is whole).
        listing = {path.name: path.stat().st_size for path in work.iterdir()}
        try:
            notebooks = {path.name: json.loads(path.read_text()) for path in work.glob("*.ipynb")
                         if not path.name.startswith(".")}
        except ValueError:  # an empty or cut file
            raise AssertionError(f"kill {kill}: a notebook is not whole: {listing}\n"
                                 f"{student.compose('logs', check=False).stdout[-3000:]}") from None
        assert notebooks.pop("before.ipynb") == {}
        assert source(notebooks.pop("kept.ipynb")) == "kept"
        assert notebooks.keys() <= {"kill.ipynb"}
        assert all(source(notebook) in saved for notebook in notebooks.values()), f"kill {kill}"
        student.compose("start")
    student.wait_answering()
    assert len(saved) > 2 * KILLS  # the kills did land during saves
    # What a save had not finished is gone at the next start; the notebook keeps its owner.
    assert not list(work.glob(".~*"))
    assert (work / "kill.ipynb").stat().st_uid == STUDENT_UID


def test_a_notebook_an_older_image_left_cut_by_a_crash_is_brought_back_at_start(default_course_owned_by):
    student = default_course_owned_by(STUDENT_UID)
    work = student.path / "work"
    # What Jupyter's in-place saving leaves when the container dies mid-write: the file cut, the copy hidden.
    (work / "lab.ipynb").write_text("")
    (work / ".~lab.ipynb").write_text(json.dumps(notebook_of("my answers")))
    (work / "notes.txt").write_text("new notes, cut")
    (work / ".~notes.txt").write_text("old notes")
    chown_work(student.path, STUDENT_UID)
    student.compose("up", "--detach")
    student.wait_answering()
    assert student.read_notebook("lab.ipynb") == "my answers"
    assert (work / "notes (before last save).txt").read_text() == "old notes"
    assert (work / "notes.txt").read_text() == "new notes, cut"
    assert not list(work.glob(".~*"))
    log = student.compose("logs", "jupyter").stdout
    assert "lab.ipynb was cut off by a crash while saving: its last complete version is back." in log


# Host users who start the course: (uid, gid) of their checkout's work/, and the
# uid Jupyter and the student's new files get. A root checkout on a rootful
# engine gets the course user: Jupyter never runs as root there.
HOST_USERS = {
    "uid-1000": ((1000, 1000), 1000),
    "uid-1234": ((STUDENT_UID, STUDENT_UID), STUDENT_UID),
    "macos-like-501-staff": ((501, 20), 501),
    "group-root": ((STUDENT_UID, 0), STUDENT_UID),
    "root-checkout": ((0, 0), 1000),
}


@pytest.mark.parametrize(("owner", "expected_uid"), HOST_USERS.values(), ids=HOST_USERS.keys())
def test_the_students_files_stay_theirs_whoever_starts_the_course(default_course_owned_by, owner, expected_uid):
    student = default_course_owned_by(*owner)
    outside_before = owners(student.path, student.path / "work")
    student.up()
    processes = student.jupyter_processes()
    assert processes
    for process in processes:
        assert process["uid"] == expected_uid
        assert process["gid"] != 0
        assert 0 not in process["groups"]
    assert 0 not in {process["uid"] for process in processes}
    student.save_notebook("mine.ipynb", "saved")
    assert (student.path / "work" / "mine.ipynb").stat().st_uid == expected_uid
    # What was there keeps its owner; nothing outside work/ changes owner.
    before = student.path / "work" / "before.ipynb"
    assert (before.stat().st_uid, before.stat().st_gid) == owner
    assert owners(student.path, student.path / "work") == outside_before


# A mount that refuses chown (NFS with root_squash): the course's capabilities less CHOWN.
REFUSING_CHOWN = "services:\n  jupyter:\n    cap_add: !override [SETUID, SETGID, SETPCAP]\n"


def test_starts_and_saves_where_chown_is_refused(default_course_owned_by):
    # A root-owned folder open to all, on a mount that refuses chown (NFS with root_squash).
    student = default_course_owned_by(0, 0, REFUSING_CHOWN)
    (student.path / "work").chmod(0o777)
    student.up()
    student.save_notebook("mine.ipynb", "saved")
    mine = student.path / "work" / "mine.ipynb"
    assert mine.read_text().count("saved") == 1
    # A save replaces the file by a new one beside it: the new one keeps the old one's mode and owner.
    mine.chmod(0o640)
    owner = mine.stat().st_uid
    student.save_notebook("mine.ipynb", "saved again")
    assert mine.read_text().count("saved again") == 1
    assert (mine.stat().st_mode & 0o777, mine.stat().st_uid) == (0o640, owner)


def test_an_unwritable_folder_still_starts_and_the_log_says_what_to_do(default_course_owned_by):
    student = default_course_owned_by(0, 0, REFUSING_CHOWN)
    (student.path / "work").chmod(0o755)
    student.up()
    assert student.api("GET", "/api/status").status_code == 200
    log = student.compose("logs", "jupyter").stdout
    warnings = [line for line in log.splitlines() if "Jupyter cannot save in your work folder" in line]
    assert len(warnings) == 1, log
    assert 'sudo chown "$(id -u):$(id -g)" work' in warnings[0]


@pytest.mark.parametrize("name", ["-n", "-u", "student:x", "../root"], ids=["option-n", "option-u", "colon", "path"])
def test_an_nb_user_that_is_not_a_user_name_is_refused_before_anything_runs(default_course_owned_by, name):
    student = default_course_owned_by(STUDENT_UID)
    result = student.compose("run", "--rm", "--no-deps", "-e", f"NB_USER={name}", "jupyter", "id", "-u",
                             check=False, timeout=120)
    assert result.returncode != 0
    assert result.stdout.strip() == ""  # the command never ran, as root or anyone
    assert f"start-course: NB_USER={name} is not a user of this image: unset NB_USER" in result.stderr


def test_nb_user_root_is_refused_before_anything_runs(default_course_owned_by):
    student = default_course_owned_by(STUDENT_UID)
    result = student.compose("run", "--rm", "--no-deps", "-e", "NB_USER=root", "jupyter", "id", "-u",
                             check=False, timeout=120)
    assert result.returncode != 0
    assert result.stdout.strip() != "0"
    assert "start-course: NB_USER=root is root; Jupyter never runs as root" in result.stderr


# 5. Clean stop (these restart or stop the shared course, so they come last) -----

@WITH_AND_WITHOUT_A_DESKTOP
def test_restarted_kernels_leave_no_zombies(course):
    kernel = start_kernel(course)
    for _ in range(3):
        assert course.api("POST", f"/api/kernels/{kernel}/restart").status_code == 200
    time.sleep(2)
    assert [p for p in course.processes() if p["stat"].startswith("Z")] == []
    assert len([p for p in course.processes() if "ipykernel" in p["args"]]) == 1
    course.api("DELETE", f"/api/kernels/{kernel}")


@ON_ONE_COURSE
def test_saved_work_survives_down_and_up(course):
    course.save_notebook("kept.ipynb", "still here")
    course.compose("down")
    course.up()
    assert course.read_notebook("kept.ipynb") == "still here"


@WITH_AND_WITHOUT_A_DESKTOP
def test_stop_with_a_running_kernel_is_graceful(course):
    start_kernel(course)
    course.compose("stop")
    # Shut down on SIGTERM, not killed at compose's 10 s deadline (exit code 137).
    state = course.container().attrs["State"]
    assert state["ExitCode"] == 0, state
