"""The default course started without a token of its own, and a course generated offline, built and run."""

from __future__ import annotations

import re
import secrets

import pytest
import requests

from tests.support.answers import DEFAULT_ANSWERS, bake_with
from tests.support.course import Course
from tests.support.engine import free_port

pytestmark = pytest.mark.docker


def test_without_env_the_log_prints_a_random_token_link_that_works(default_course_image):
    course = Course(default_course_image, token=None, env={"JUPYTER_TOKEN": ""})
    course.compose("up", "--detach")
    try:
        course.wait_healthy()
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
        course.wait_healthy()
        assert course.api("GET", "/api/status").status_code == 200
    finally:
        course.down()
        course.compose("down", "--rmi", "all", check=False)
