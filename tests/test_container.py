"""The default course started without a token of its own, and a course generated offline, built and run."""

from __future__ import annotations

import re
import secrets

import pytest
import requests

from tests.support.answers import DEFAULT_ANSWERS, bake_with
from tests.support.course import Course
from tests.support.engine import docker, free_port
from tests.support.kernel import in_a_jupyter_terminal
from tests.support.matrices import image_of
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker


def test_without_env_the_log_prints_a_random_token_link_that_works(default_course):
    course = Course(default_course, token=None, env={"JUPYTER_TOKEN": ""})
    course.compose("up", "--detach")
    try:
        course.wait_answering()
        log = course.compose("logs", "jupyter").stdout
        links = set(re.findall(r"http://[^\s]+\?token=[0-9a-f]+", log))
        assert links, log
        for link in links:
            assert f":{course.port}/" in link
            token = link.rsplit("=", 1)[1]
            assert len(token) >= 32
            status = requests.get(link.split("/lab")[0] + "/api/status", params={"token": token}, timeout=10)
            assert status.status_code == 200
    finally:
        course.down()


def test_project_generated_offline_still_builds_and_runs(cookies, python_base):
    project = bake_with(cookies, {"project_slug": "offline-course", "packages": "six"},
                        {"UV_DEFAULT_INDEX": "http://127.0.0.1:9/simple", "UV_HTTP_RETRIES": "0",
                         "PIP_INDEX_URL": "http://127.0.0.1:9/simple"})
    assert (project / "requirements.txt").read_text().startswith("# NOT PINNED YET")
    python_base(DEFAULT_ANSWERS["python_version"])
    course = Course(project, port=free_port(), token=secrets.token_hex(8))
    try:
        course.compose("build", timeout=1800)
        course.compose("up", "--detach")
        course.wait_answering()
        assert course.api("GET", "/api/status").status_code == 200
    finally:
        course.down()
        course.compose("down", "--rmi", "all", check=False)


def test_a_course_still_naming_the_placeholder_builds_at_first_up_and_says_so_in_one_line(cookies, python_base):
    project = bake_with(cookies, {"project_slug": "placeholder-course", "packages": "six"})
    python_base(DEFAULT_ANSWERS["python_version"])
    course = Course(project, port=free_port(), token=secrets.token_hex(8))
    try:
        up = course.compose("up", "--detach", timeout=1800)
        shown = up.stdout + up.stderr
        # No registry is asked for an image nobody published: no "Pulling", no "denied" or "no such host".
        assert not re.search(r"Pulling|Warning|denied|not found", shown), shown
        course.wait_answering()
        log = course.compose("logs", "jupyter").stdout
        notices = [line for line in log.splitlines() if "image" in line and "start-course:" in line]
        assert len(notices) == 1, log
        assert notices[0].endswith("start-course: This image was built here: the course names no published image yet "
                                   "(see compose.override.yaml).")
        pulled = course.compose("pull")
        assert re.search(r"jupyter Skipped", pulled.stdout + pulled.stderr), pulled.stdout + pulled.stderr
    finally:
        course.down()
        course.compose("down", "--rmi", "all", check=False)


@pytest.mark.parametrize(("memory", "says"), [
    ("1g", "Too little memory: a notebook working on a large file may stop with \"The kernel appears to have died\". "
           "On a Mac, open Docker Desktop's Settings > Resources > Advanced, set Memory limit to 2 GB or more, then "
           "click Apply & restart. On Windows, Windows sets Docker's memory: the course's README says how to raise "
           "it (Troubleshooting, \"Windows: more memory for Docker\")."),
    ("3g", "Enough memory and disk space for the course."),
], ids=["1-gb-too-little", "3-gb-enough"])
def test_the_check_notebook_says_whether_the_computer_gives_the_course_enough_memory(default_course, memory,
                                                                                      says):
    image = f"{DEFAULT_ANSWERS['image_registry']}/{default_course.name}:latest"
    checked = docker("run", "--rm", f"--memory={memory}", image,
                     "python", "-c", "from course_check import check_resources; check_resources()")
    assert f"Memory for the course:     {memory[0]}.0 GB (it needs 2 GB)" in checked.stdout
    assert says in checked.stdout


# Another container on the engine's default network tries the course's Jupyter and a student's web app.
NEIGHBOUR = """
import sys, urllib.error, urllib.request
for url in sys.argv[1:]:
    try:
        print(urllib.request.urlopen(url, timeout=5).status)
    except urllib.error.HTTPError as error:
        print(error.code)
    except OSError:
        print("unreachable")
"""


def test_another_container_on_the_default_network_gets_nothing_without_the_token(default_course):
    course = Course(default_course)
    course.compose("up", "--detach")
    try:
        course.wait_answering()
        in_a_jupyter_terminal(course.url, course.token, "python -m http.server --bind 127.0.0.1 8050")
        wait_until(lambda: course.api("GET", "/proxy/8050/").status_code == 200, timeout=30, interval=0.3,
                   message="the web app did not answer at /proxy/8050/")
        address = course.container().attrs["NetworkSettings"]["IPAddress"]
        neighbour = docker("run", "--rm", "--network", "bridge", "--entrypoint", "python",
                           image_of(default_course), "-c", NEIGHBOUR,
                           f"http://{address}:{course.port}/api/contents", f"http://{address}:8050/")
    finally:
        course.down()
    assert neighbour.stdout.split() == ["403", "unreachable"]
