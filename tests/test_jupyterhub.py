"""The generated JupyterHub configuration, run for real: a hub, its proxy and DockerSpawner.

Only the login is swapped for a test one; everything else is the course's
deploy/jupyterhub/jupyterhub_config.py with the default course image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support.answers import DEFAULTS
from tests.support.course import PROC_STATUS, parse_proc_status
from tests.support.engine import docker, engine, free_port, stop_process, wait_for_url
from tests.support.git import git
from tests.support.hub import IMPORT_THE_COURSE_PACKAGES, config_function, logged_in, running_hub, xsrf_header
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

# A class logging in at the start of a lab: every server is started at the same moment.
STUDENTS = [f"student{number}" for number in range(1, 16)]
# The instructor, listed in INSTRUCTORS, and a student whose server the instructor starts and stops.
INSTRUCTOR, LATECOMER = "teacher", "latecomer"


@pytest.fixture(scope="module")
def repository(built_course, tmp_path_factory) -> Path:
    """The instructor's course repository on the hub's server: a git checkout of the default course."""
    checkout = tmp_path_factory.mktemp("server") / built_course("default").name
    shutil.copytree(built_course("default"), checkout)
    config = checkout / "deploy" / "jupyterhub" / "jupyterhub_config.py"
    config.write_text(config.read_text().replace("INSTRUCTORS: set[str] = set()",
                                                 f"INSTRUCTORS: set[str] = {{{INSTRUCTOR!r}}}"))
    git("init", "--quiet", "--initial-branch=main", cwd=checkout)
    git("add", "--all", cwd=checkout)
    git("commit", "--quiet", "-m", "Course", cwd=checkout)
    return checkout


@pytest.fixture(scope="module")
def hub(repository, tmp_path_factory):
    with running_hub(repository, tmp_path_factory.mktemp("hub"), [*STUDENTS, INSTRUCTOR, LATECOMER]) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(hub):
    """Every student's server started at once; their own API tokens."""
    with ThreadPoolExecutor(len(STUDENTS)) as pool:
        list(pool.map(hub.start_server, STUDENTS))
    return {user: hub.user_token(user) for user in STUDENTS}


def test_fifteen_students_starting_at_once_each_get_their_own_server_through_the_proxy(hub, tokens):
    for user, token in tokens.items():
        response = hub.as_user(user, token, "GET", "/api/status")
        assert response.status_code == 200, (user, response.text)
    containers = [container.name for container in engine().containers.list(filters={"name": f"{hub.slug}-student"})]
    assert sorted(containers) == sorted(f"{hub.slug}-{user}" for user in STUDENTS)


def test_every_students_server_runs_a_cell_importing_the_course_packages(hub, tokens):
    with ThreadPoolExecutor(len(STUDENTS)) as pool:
        replies = pool.map(lambda user: hub.run_cell(user, tokens[user], IMPORT_THE_COURSE_PACKAGES), STUDENTS)
        statuses = {user: reply["status"] for user, reply in zip(STUDENTS, replies, strict=True)}
    assert statuses == dict.fromkeys(STUDENTS, "ok")


def test_each_server_runs_the_course_image_as_the_course_user(hub, tokens):
    for user in STUDENTS:
        container = engine().containers.get(f"{hub.slug}-{user}")
        assert container.attrs["Config"]["Image"] == f"{DEFAULTS['image_registry']}/{hub.slug}:latest"
        # Asked again if need be: under load, this engine can hand back an exec's output empty.
        wait_until(lambda server=container: server.exec_run(["id", "-u"]).output.decode().strip() == "1000", timeout=30,
                   interval=1, message=f"{user}'s server does not run as uid 1000")


def test_a_students_web_page_cannot_use_an_instructors_login_to_make_them_admin(hub, tokens):
    student = STUDENTS[0]
    # The student's own app, served from their server as `python -m http.server` in a terminal serves it.
    container = engine().containers.get(f"{hub.slug}-{student}")
    container.exec_run(["sh", "-c", "mkdir -p /tmp/app && echo '<p>my app</p>' > /tmp/app/index.html"])
    container.exec_run(["python", "-m", "http.server", "8050", "--directory", "/tmp/app"], detach=True)
    wait_until(lambda: "my app" in hub.as_user(student, tokens[student], "GET", "/proxy/8050/").text,
               timeout=30, interval=0.5, ignoring=(requests.ConnectionError,),
               message="the student's app did not answer")
    # "My app is broken, can you look?": the instructor opens it; its script would then use their login.
    teacher = logged_in(hub.url, INSTRUCTOR)
    opened = teacher.get(f"{hub.url}/user/{student}/proxy/8050/", timeout=60)
    made_admin = teacher.patch(f"{hub.url}/hub/api/users/{student}", json={"admin": True},
                               headers=xsrf_header(teacher, hub.url), timeout=30)
    assert opened.status_code == 403
    assert "my app" not in opened.text
    assert made_admin.status_code == 403, made_admin.text
    assert hub.api("GET", f"/users/{student}").json()["admin"] is False


def test_an_instructor_sees_the_class_and_starts_and_stops_a_students_server(hub, tokens):
    teacher = logged_in(hub.url, INSTRUCTOR)
    xsrf = xsrf_header(teacher, hub.url)
    class_list = teacher.get(f"{hub.url}/hub/api/users", headers=xsrf, timeout=30)
    assert class_list.status_code == 200
    assert {user["name"] for user in class_list.json()} >= set(STUDENTS)
    assert teacher.get(f"{hub.url}/hub/admin", timeout=30).status_code == 200
    started = teacher.post(f"{hub.url}/hub/api/users/{LATECOMER}/server", headers=xsrf, timeout=60)
    assert started.status_code in (201, 202), started.text
    wait_until(lambda: hub.api("GET", f"/users/{LATECOMER}").json()["servers"].get("", {}).get("ready"),
               timeout=120, interval=1, message=f"{LATECOMER}'s server did not start")
    stopped = teacher.delete(f"{hub.url}/hub/api/users/{LATECOMER}/server", headers=xsrf, timeout=60)
    assert stopped.status_code in (202, 204), stopped.text
    wait_until(lambda: not hub.api("GET", f"/users/{LATECOMER}").json()["servers"], timeout=120, interval=1,
               message=f"{LATECOMER}'s server did not stop")


# A git repository of lesson material inside a student's container, made by the course user.
LESSON_REPOSITORY = """
set -e
rm -rf /tmp/week-3 && git init -q -b main /tmp/week-3 && cd /tmp/week-3
echo 'print("ran")' > lesson.py
git add lesson.py
git -c user.name=Instructor -c user.email=instructor@example.edu commit -q -m 'Week 3'
"""
# Where a mailed link would put someone's files: where the next kernel runs them, or outside the work folder.
HOSTILE_TARGETS = {
    "absolute-ipython-startup": "/home/student/.ipython/profile_default/startup",
    "hidden-ipython-startup": "../.ipython/profile_default/startup",
    "hidden-folder": ".ipython/profile_default/startup",
    "parent-folder": "../x",
    "parent-inside-a-path": "week-3/../../x",
}


def pulled(hub, user: str, token: str, path: str, **link) -> tuple[int, str]:
    """An nbgitpuller link opened by the student: the status and the page, or the API's streamed events."""
    answer = hub.as_user(user, token, "GET", path, params={"repo": "file:///tmp/week-3", "branch": "main", **link})
    return answer.status_code, answer.text


def lesson_files(hub, user: str) -> list[str]:
    """Every copy of the lesson in the student's container, the source repository's aside."""
    found = engine().containers.get(f"{hub.slug}-{user}").exec_run(
        ["sh", "-c", "find / /home/student/work -xdev -name lesson.py -not -path '/tmp/week-3/*' 2>/dev/null"])
    return sorted(found.output.decode().split())


@pytest.mark.parametrize("target", HOSTILE_TARGETS.values(), ids=HOSTILE_TARGETS.keys())
def test_a_hub_link_into_a_hidden_folder_or_outside_the_work_folder_is_refused_and_copies_nothing(hub, tokens,
                                                                                                   target):
    student = STUDENTS[2]
    engine().containers.get(f"{hub.slug}-{student}").exec_run(["sh", "-c", LESSON_REPOSITORY])
    answers = [pulled(hub, student, tokens[student], "/git-pull/api", targetpath=target),
               pulled(hub, student, tokens[student], "/git-pull", targetpath=target),
               pulled(hub, student, tokens[student], "/git-pull", targetPath=target)]
    for status, page in answers:
        assert status == 400
        assert "Nothing was copied. Ask your instructor for a corrected link." in page
    assert lesson_files(hub, student) == []


def test_a_hub_link_brings_material_into_the_work_folder(hub, tokens):
    student = STUDENTS[3]
    engine().containers.get(f"{hub.slug}-{student}").exec_run(["sh", "-c", LESSON_REPOSITORY])
    status, page = pulled(hub, student, tokens[student], "/git-pull", targetpath="week-3")
    assert status == 200
    status, events = pulled(hub, student, tokens[student], "/git-pull/api", targetpath="week-3")
    assert status == 200
    assert '"phase": "finished"' in events.strip().splitlines()[-1], events
    assert lesson_files(hub, student) == ["/home/student/work/week-3/lesson.py"]


def test_the_hubs_secrets_stay_out_of_the_repository(hub, repository):
    state = repository / "deploy" / "jupyterhub" / "state"
    assert {path.name for path in state.iterdir()} >= {"jupyterhub_cookie_secret", "jupyterhub.sqlite"}
    assert git("status", "--porcelain", "--ignored=no", cwd=repository).stdout == ""


def test_students_servers_hold_no_capability_and_cannot_gain_one(hub, tokens):
    for user in STUDENTS[:3]:
        container = engine().containers.get(f"{hub.slug}-{user}")
        for pid in ("1", "self"):
            status = parse_proc_status(container.exec_run(["python", "-c", PROC_STATUS, pid]).output.decode())[0]
            assert (status["capabilities"], status["bounding"], status["no_new_privs"]) == (0, 0, "1"), (user, pid)


def test_a_students_kernel_cannot_open_a_connection_to_a_neighbours_server(hub, tokens):
    neighbour = engine().containers.get(f"{hub.slug}-student2")
    address = neighbour.attrs["NetworkSettings"]["Networks"][f"{hub.slug}-students"]["IPAddress"]
    probe = f"import socket\nsocket.create_connection(({address!r}, 8888), timeout=5).close()"
    reply = hub.run_cell("student1", tokens["student1"], probe)
    assert reply["status"] == "error", f"student1 reached student2's server at {address}:8888"
    assert reply["ename"] in ("TimeoutError", "ConnectionRefusedError", "OSError"), reply
    # The proxy still reaches it: the neighbour's server answers through the hub.
    assert hub.as_user("student2", tokens["student2"], "GET", "/api/status").status_code == 200


# The generated configuration as JupyterHub reads it (it asks the engine for the
# students' network, which the hub fixture has made and removes).
LOAD_CONFIG = """
import sys
from traitlets.config.loader import PyFileConfigLoader
config = PyFileConfigLoader(sys.argv[1]).load_config()
print(config.JupyterHub.bind_url, config.JupyterHub.get("ssl_cert", "no-certificate"))
"""
TLS_SETTINGS = {"COURSE_HUB_TLS_CERT": "/etc/ssl/hub/fullchain.pem", "COURSE_HUB_TLS_KEY": "/etc/ssl/hub/privkey.pem"}


@pytest.mark.parametrize(("settings", "expected"), [
    ({}, "http://127.0.0.1:8000 no-certificate"),
    (TLS_SETTINGS, "https://:443 /etc/ssl/hub/fullchain.pem"),
], ids=["without-a-certificate", "with-a-certificate"])
def test_the_hub_serves_plain_http_to_this_server_only(hub, repository, settings, expected):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("COURSE_HUB_")}
    loaded = subprocess.run([sys.executable, "-c", LOAD_CONFIG,
                             str(repository / "deploy" / "jupyterhub" / "jupyterhub_config.py")],
                            env={**environment, **settings}, capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == expected


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "fullchain.pem", folder / "privkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_the_hub_serves_https_with_the_readmes_certificate_settings(hub, repository, tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    checkout = tmp_path / repository.name  # a state folder of its own, beside the running hub's
    shutil.copytree(repository, checkout, ignore=shutil.ignore_patterns("state"))
    port = free_port()
    environment = {**os.environ, "COURSE_HUB_TLS_CERT": str(cert), "COURSE_HUB_TLS_KEY": str(key),
                   "COURSE_HUB_URL": f"https://127.0.0.1:{port}"}
    log = (tmp_path / "jupyterhub.log").open("w")
    process = subprocess.Popen([shutil.which("jupyterhub"), "-f", "deploy/jupyterhub/jupyterhub_config.py",
                                f"--JupyterHub.hub_port={free_port()}",
                                f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}"],
                               cwd=checkout, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        def hub_api() -> requests.Response | None:  # 404 until the hub has set up the proxy's routes
            assert process.poll() is None, (tmp_path / "jupyterhub.log").read_text()
            response = requests.get(f"https://127.0.0.1:{port}/hub/api", verify=str(cert), timeout=5)
            return response if response.status_code == 200 else None

        answer = wait_until(hub_api, timeout=90, ignoring=(requests.ConnectionError,),
                            message=lambda: (tmp_path / "jupyterhub.log").read_text())
        assert "version" in answer.json()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/hub/api", timeout=5)
    finally:
        stop_process(process)
        log.close()


def test_no_student_can_reach_another_students_server(hub, tokens):
    for user, neighbour in zip(STUDENTS, STUDENTS[1:] + STUDENTS[:1], strict=True):
        response = hub.as_user(neighbour, tokens[user], "GET", "/api/contents")
        assert response.status_code in (302, 403), (user, neighbour, response.status_code)


def test_student_files_persist_across_a_server_restart_and_stay_private(hub, tokens):
    saved = hub.as_user("student1", tokens["student1"], "PUT", "/api/contents/notes.txt",
                        json={"type": "file", "format": "text", "content": "student1's notes"})
    assert saved.status_code in (200, 201), saved.text
    hub.stop_server("student1")
    hub.start_server("student1")
    again = hub.as_user("student1", tokens["student1"], "GET", "/api/contents/notes.txt")
    assert again.status_code == 200
    assert again.json()["content"] == "student1's notes"
    other = hub.as_user("student2", tokens["student2"], "GET", "/api/contents/notes.txt")
    assert other.status_code == 404


def test_a_new_students_volume_shows_the_courses_notebooks_read_only(hub, tokens):
    listed = hub.as_user("student4", tokens["student4"], "GET", "/api/contents/course")
    assert listed.status_code == 200, listed.text
    assert "00-check-environment.ipynb" in {item["name"] for item in listed.json()["content"]}
    written = hub.as_user("student4", tokens["student4"], "PUT", "/api/contents/course/mine.txt",
                          json={"type": "file", "format": "text", "content": "x"})
    assert written.status_code >= 400


def test_students_containers_run_no_docker_healthcheck(hub, tokens):
    # The hub checks its servers itself; the image's check would run every 5 s in each.
    container = engine().containers.get(f"{hub.slug}-student1")
    assert container.attrs["Config"]["Healthcheck"]["Test"] == ["NONE"]


def test_a_student_beyond_what_the_memory_holds_is_turned_away_and_the_others_keep_working(repository, tmp_path):
    checkout = tmp_path / repository.name  # a state folder of its own, beside the running hub's
    shutil.copytree(repository, checkout, ignore=shutil.ignore_patterns("state"))
    (tmp_path / "hub").mkdir()
    # 1 GB for the students' servers, at the configuration's 0.5 GB each: two at once.
    students = ["full1", "full2", "full3"]
    with running_hub(checkout, tmp_path / "hub", students, {"COURSE_HUB_STUDENTS_MEMORY_GB": "1"}) as full:
        full.start_server("full1")
        full.start_server("full2")
        refused = logged_in(full.url, "full3").get(f"{full.url}/hub/spawn/full3", timeout=60)
        assert refused.status_code == 429
        assert "Active user limit exceeded. Try again in a few minutes." in refused.text
        assert not full.api("GET", "/users/full3").json()["servers"]
        for user in ("full1", "full2"):
            assert full.as_user(user, full.user_token(user), "GET", "/api/status").status_code == 200


def test_resource_limits_and_culling_are_applied(hub, tokens):
    limits = engine().containers.get(f"{hub.slug}-student3").attrs["HostConfig"]
    assert limits["Memory"] == 2 * 1024**3
    assert limits["PidsLimit"] == 1024
    # DockerSpawner sets the CPU limit as a quota per period.
    assert limits["NanoCpus"] == 1_000_000_000 or limits["CpuQuota"] / limits["CpuPeriod"] == 1.0
    culler = hub.api("GET", "/services/idle-culler").json()
    assert culler["name"] == "idle-culler"
    assert "--timeout=3600" in culler["command"]
    assert culler["pid"] > 0  # the hub started it


METADATA_IP = "169.254.169.254"
NAMESPACE = "course-metadata-test"
PROBE_METADATA = ("import urllib.request; "
                  f"print(urllib.request.urlopen('http://{METADATA_IP}/', timeout=5).status)")


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


@pytest.fixture
def metadata_service(tmp_path):
    """A stand-in for a cloud's metadata service at 169.254.169.254, one routed hop from this host.

    It lives in a network namespace behind a veth pair, so containers reach it
    through the host's FORWARD path, as they reach a real one on a cloud server.
    """
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iptables"):
        pytest.fail("the metadata-blocking test needs root, ip and iptables")
    saved_route = ip("route", "show", f"{METADATA_IP}/32").stdout.strip()
    ip("netns", "add", NAMESPACE)
    server = None
    try:
        ip("link", "add", "cmeta-host", "type", "veth", "peer", "name", "cmeta-ns")
        ip("link", "set", "cmeta-ns", "netns", NAMESPACE)
        ip("addr", "add", "10.213.0.1/30", "dev", "cmeta-host")
        ip("link", "set", "cmeta-host", "up")
        for command in (["addr", "add", "10.213.0.2/30", "dev", "cmeta-ns"],
                        ["addr", "add", f"{METADATA_IP}/32", "dev", "lo"],
                        ["link", "set", "lo", "up"], ["link", "set", "cmeta-ns", "up"],
                        ["route", "add", "default", "via", "10.213.0.1"]):
            ip("netns", "exec", NAMESPACE, "ip", *command)
        ip("route", "replace", f"{METADATA_IP}/32", "via", "10.213.0.2")
        server = subprocess.Popen(["ip", "netns", "exec", NAMESPACE, shutil.which("python3"), "-m", "http.server",
                                   "80", "--bind", METADATA_IP, "--directory", str(tmp_path)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_url(f"http://{METADATA_IP}/", timeout=30, process=server,
                     explain=lambda: "the stand-in metadata service did not start")
        yield
    finally:
        if server:
            stop_process(server)
        ip("route", "del", f"{METADATA_IP}/32", check=False)
        if saved_route:
            ip("route", "add", *saved_route.split(), check=False)
        ip("link", "del", "cmeta-host", check=False)
        ip("netns", "del", NAMESPACE, check=False)


# A service of the hub's own server, listening on its address on the students' network.
SERVER_PORT = 9477


def reaches(container: str, host: str, port: int) -> subprocess.CompletedProcess:
    probe = f"import socket; socket.create_connection(({host!r}, {port}), timeout=5).close()"
    return docker("exec", container, "python", "-c", probe, check=False)


def test_the_firewall_script_leaves_students_the_hubs_api_only(hub, tokens, repository, metadata_service, tmp_path):
    student, container = "student4", f"{hub.slug}-student4"
    network = engine().networks.get(f"{hub.slug}-students").attrs["IPAM"]["Config"][0]
    gateway = config_function(repository, "network_gateway")(network)
    service = subprocess.Popen([sys.executable, "-m", "http.server", str(SERVER_PORT), "--bind", gateway,
                                "--directory", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    script = [str(repository / "deploy/jupyterhub/students-firewall.sh")]
    environment = {**os.environ, "COURSE_HUB_API_PORT": str(hub.api_port)}
    try:
        wait_for_url(f"http://{gateway}:{SERVER_PORT}/", timeout=30, process=service)
        # Without the rules a student's container reaches both: the checks below can fail.
        assert reaches(container, gateway, SERVER_PORT).returncode == 0
        assert docker("exec", container, "python", "-c", PROBE_METADATA, check=False).stdout.strip() == "200"
        applied = subprocess.run(script, env=environment, capture_output=True, text=True, timeout=60)
        assert applied.returncode == 0, applied.stderr
        to_server = reaches(container, gateway, SERVER_PORT)
        to_metadata = docker("exec", container, "python", "-c", PROBE_METADATA, check=False)
        # The hub still starts, opens and hears from a student's server.
        hub.stop_server(student)
        hub.start_server(student)
        reply = hub.run_cell(student, tokens[student], IMPORT_THE_COURSE_PACKAGES)
    finally:
        removed = subprocess.run([*script, "--remove"], env=environment, capture_output=True, text=True, timeout=60)
        stop_process(service)
    assert removed.returncode == 0, removed.stderr
    assert "Connection refused" in to_server.stderr, to_server.stderr
    assert "Connection refused" in to_metadata.stderr, to_metadata.stderr
    assert reply["status"] == "ok", reply
