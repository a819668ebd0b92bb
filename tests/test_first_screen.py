"""What a student's terminal shows after `docker compose up`: the link, near the top, in a block of its own."""

from __future__ import annotations

import os
import re
import signal
import subprocess

import pytest
import requests

from tests.support.course import Course
from tests.support.terminal import LINK, Terminal

pytestmark = pytest.mark.docker

# A terminal window's first screen, and the most lines of the course's own before the link.
SCREEN_LINES = 24
COURSE_LINES_BEFORE_THE_LINK = 10


@pytest.mark.parametrize(("built", "opens"), [("default", "/lab"), ("py3.11-notebook-small-no-hub", "/tree")],
                         ids=["jupyterlab", "notebook-7"])
def test_the_first_screen_shows_the_link_in_a_block_of_its_own_and_how_to_stop(built, opens, built_course):
    # A student without a .env: a new random token, printed in the link.
    course = Course(built_course(built), token=None)
    env = {**os.environ, "JUPYTER_PORT": str(course.port), "JUPYTER_TOKEN": ""}
    up = subprocess.Popen(["docker", "compose", "up"], cwd=course.path, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        terminal = Terminal(up)
        shown = terminal.lines_until(LINK)
        assert len(shown) <= SCREEN_LINES, "\n".join(shown)
        from_the_course = [line for line in shown if re.match(r"jupyter-1\s+\|", line)]
        assert len(from_the_course) <= COURSE_LINES_BEFORE_THE_LINK, "\n".join(shown)
        # Jupyter's start-up log (extensions, language servers) is out of the way.
        assert not re.search(r"\[I \d{4}-|extension was successfully|Skipped non-installed", "\n".join(shown))
        link = LINK.search(shown[-1]).group(0)
        assert link.startswith(f"http://127.0.0.1:{course.port}{opens}?token=")
        assert requests.get(link, timeout=30).status_code == 200
        assert terminal.lines_until(re.compile("To stop:"))[-1].endswith("To stop: press Ctrl+C in this window,")
        # Ctrl+C in that window stops the course.
        up.send_signal(signal.SIGINT)
        up.wait(timeout=60)
        assert course.compose("ps", "--quiet").stdout.strip() == ""
    finally:
        if up.poll() is None:
            up.kill()
        course.down()
