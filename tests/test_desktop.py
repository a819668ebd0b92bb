"""The desktop in the browser (desktop=yes): windows seen in Chromium; students' web apps through Jupyter.

A desktop course is started as a student whose host uid is not the image's
1000; Chromium opens Desktop with the token, a notebook cell opens a tkinter
window and a turtle drawing, and the test finds them twice: by their titles on
the X display, and by their colours in a screenshot of the desktop page.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import requests
from playwright.sync_api import expect

from tests.support.course import Course
from tests.support.desktop import (
    ARTIFACTS,
    CYAN,
    GREEN,
    GUI_CELL,
    MAGENTA,
    WINDOW_TITLES,
    check_gui_cell_draws_on_the_desktop,
    open_desktop,
    pixels_near,
    pygame_window,
    wait_for_windows,
)
from tests.support.engine import engine, free_port, wait_for_url
from tests.support.hub import running_hub
from tests.support.kernel import connect, in_a_jupyter_terminal, in_its_own_loop, run_cell
from tests.support.matrices import DESKTOP_COURSE, answers_for, image_of
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

# A host user other than the image's 1000.
STUDENT_UID = 2345

# The uid the X server runs as (its pid is in the display's lock file).
X_SERVER_UID = "stat -c %u /proc/$(tr -d ' ' < /tmp/.X1-lock)"
# The TCP ports each program in the container listens on (from /proc, no tools needed).
LISTENING = """
import json, os
listening = {line.split()[9]: int(line.split()[1].split(":")[1], 16) for name in ("/proc/net/tcp", "/proc/net/tcp6")
             for line in open(name).readlines()[1:] if line.split()[3] == "0A"}
ports = {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        args = open(f"/proc/{pid}/cmdline").read().split("\\0")
        sockets = [os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        continue
    program = os.path.basename(args[1] if os.path.basename(args[0]).startswith("python") else args[0])
    ports.setdefault(program, []).extend(listening[inode] for inode in sockets if inode in listening)
print(json.dumps(ports))
"""


@pytest.fixture(scope="module")
def desktop_course(built_course):
    """The desktop course, started by a student whose work folder belongs to host uid STUDENT_UID."""
    course = Course(built_course(DESKTOP_COURSE), name=DESKTOP_COURSE)
    for item in [course.path / "work", *(course.path / "work").rglob("*")]:
        os.lchown(item, STUDENT_UID, STUDENT_UID)
    try:
        yield course.up()
    finally:
        course.down()


def test_a_notebook_cells_tkinter_window_and_turtle_drawing_appear_on_the_desktop(desktop_course, browser):
    check_gui_cell_draws_on_the_desktop(desktop_course, browser, "docker")


def test_pygame_windows_from_a_notebook_a_terminal_and_a_python_file_appear_on_the_desktop(desktop_course, browser):
    page = open_desktop(desktop_course, browser)
    try:
        _, reply = run_cell(desktop_course.url, desktop_course.token,
                            pygame_window("Pygame from a notebook", GREEN, (40, 60)))
        assert reply["status"] == "ok", reply
        # A file the student saved in work/, run with the line the README gives; and Python typed in a terminal.
        program = pygame_window("Pygame from a file", MAGENTA, (400, 60), stay=120)
        saved = desktop_course.api("PUT", "/api/contents/my_game.py",
                                   json={"type": "file", "format": "text", "content": program})
        assert saved.status_code == 201, saved.text
        in_a_jupyter_terminal(desktop_course.url, desktop_course.token, "python my_game.py")
        typed = pygame_window("Pygame from a terminal", CYAN, (760, 60), stay=120).replace('"', "'")
        in_a_jupyter_terminal(desktop_course.url, desktop_course.token, f'python -c "{typed}"')
        # SDL names its windows in UTF-8 only, which Xlib's XFetchName does not read: look at the page instead.
        def drawn() -> bytes | None:
            screenshot = page.screenshot()
            return screenshot if all(pixels_near(screenshot, colour, tolerance=30) > 250 * 150
                                     for colour in (GREEN, MAGENTA, CYAN)) else None
        screenshot = wait_until(drawn, timeout=60, interval=1, message="the three pygame windows are not all drawn")
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "desktop-pygame.png").write_bytes(screenshot)
    finally:
        page.close()


def test_desktop_opens_from_jupyterlabs_launcher_and_notebooks_new_menu(desktop_course, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{desktop_course.url}/lab?token={desktop_course.token}")
        card = page.locator(".jp-LauncherCard", has_text="Desktop")
        expect(card).to_be_visible(timeout=60_000)
        with page.context.expect_page() as opened:
            card.click()
        assert opened.value.url == f"{desktop_course.url}/desktop/"
        opened.value.close()
        page.goto(f"{desktop_course.url}/tree")
        page.get_by_text("New", exact=True).click()
        expect(page.locator(".lm-Menu-item", has_text="Desktop")).to_be_visible()
    finally:
        page.close()


def test_the_desktop_runs_as_the_student_and_opens_no_port(desktop_course):
    desktop = [p for p in desktop_course.processes() if p["args"].startswith(("Xvnc", "jwm"))]
    assert {p["args"].split()[0] for p in desktop} == {"Xvnc", "jwm"}, desktop_course.processes()
    assert {p["uid"] for p in desktop} == {STUDENT_UID}
    # The X server listens on no TCP port (its VNC side is a unix socket behind
    # Jupyter); Jupyter is the one on the course's port.
    ports = json.loads(desktop_course.exec("python", "-c", LISTENING).stdout)
    assert ports["Xvnc"] == []
    assert ports["jwm"] == []
    assert ports["jupyter-lab"] == [desktop_course.port]


# A program that opens a window, as any process in the container could try.
OPEN_A_WINDOW = "import tkinter; tkinter.Tk()"


def test_only_programs_holding_the_desktops_key_open_windows_on_it(desktop_course):
    start_the_desktop(desktop_course.url, desktop_course.token)
    key = desktop_course.exec("stat", "-c", "%a %u", "/tmp/.course-desktop-Xauthority").stdout.split()
    assert key == ["600", str(STUDENT_UID)]
    student = str(STUDENT_UID)  # the uid the course runs as: its work folder's owner
    assert desktop_course.exec("python", "-c", OPEN_A_WINDOW, user=student, check=False).returncode == 0
    keyless = desktop_course.exec("env", "XAUTHORITY=/nonexistent", "python", "-c", OPEN_A_WINDOW, user=student,
                                  check=False)
    assert keyless.returncode != 0
    assert "couldn't connect to display" in keyless.stderr


def test_the_desktop_page_needs_the_token(desktop_course):
    refused = requests.get(f"{desktop_course.url}/desktop/", allow_redirects=False, timeout=30)
    assert refused.status_code == 302
    assert "/login" in refused.headers["Location"]


def test_a_script_run_from_a_jupyter_terminal_opens_its_window_and_matplotlib_uses_it(desktop_course):
    script = desktop_course.path / "work" / "plot.py"
    script.write_text("import matplotlib.pyplot as plt\n"
                      "print(plt.get_backend(), flush=True)\n"
                      "plt.plot([1, 2, 3])\n"
                      "plt.gcf().canvas.manager.set_window_title('Plot from a script')\n"
                      "plt.show()\n")
    in_a_jupyter_terminal(desktop_course.url, desktop_course.token, "python plot.py > plot.log")
    wait_for_windows(desktop_course, {"Plot from a script"})
    assert (desktop_course.path / "work" / "plot.log").read_text().strip().lower() == "tkagg"


def test_matplotlib_stays_inline_in_notebooks(desktop_course):
    _, reply = run_cell(desktop_course.url, desktop_course.token,
                        "import matplotlib\nassert 'inline' in matplotlib.get_backend(), matplotlib.get_backend()")
    assert reply["status"] == "ok", reply


def test_a_flask_app_opens_at_jupyters_proxy_address_with_the_token_only(desktop_course):
    (desktop_course.path / "work" / "hello.py").write_text(
        "from flask import Flask\napp = Flask(__name__)\n\n\n@app.route('/')\ndef hello():\n"
        "    return 'Hello from Flask'\n")
    in_a_jupyter_terminal(desktop_course.url, desktop_course.token, "flask --app hello run")
    answer = wait_until(lambda: (page := desktop_course.api("GET", "/proxy/5000/")).status_code == 200 and page,
                        timeout=30, message="the Flask app did not answer at /proxy/5000/")
    assert answer.text == "Hello from Flask"
    refused = requests.get(f"{desktop_course.url}/proxy/5000/", allow_redirects=False, timeout=30)
    assert refused.status_code == 302
    assert "/login" in refused.headers["Location"]
    assert "Hello" not in refused.text


@pytest.fixture(scope="module")
def unopened_desktop_course(built_course):
    """The desktop course, freshly started: nobody has opened the Desktop yet."""
    course = Course(built_course(DESKTOP_COURSE), name=DESKTOP_COURSE, project="desktop-unopened")
    try:
        yield course.up()
    finally:
        course.down()


def test_a_window_opened_before_the_desktop_gets_the_message_the_readme_quotes(unopened_desktop_course):
    readme = (unopened_desktop_course.path / "README.md").read_text()
    quoted = re.search(r"If Python says `([^`]+)`, the desktop is not open yet", readme).group(1)
    course = unopened_desktop_course
    _, reply = run_cell(course.url, course.token, "import turtle\nturtle.forward(100)")
    assert reply["status"] == "error"
    assert quoted in reply["evalue"]


def test_pygame_before_the_desktop_is_open_stops_with_the_message_the_readme_quotes(unopened_desktop_course):
    readme = (unopened_desktop_course.path / "README.md").read_text()
    quoted = re.search(r"pygame says `([^`]+)` instead", readme).group(1)
    course = unopened_desktop_course
    _, reply = run_cell(course.url, course.token, "import pygame\npygame.init()\npygame.display.set_mode((300, 200))")
    assert reply["status"] == "error"
    assert f"pygame.{reply['ename']}: {reply['evalue']}" == quoted


def test_a_desktop_that_cannot_start_says_why_once_in_the_log_and_on_the_page(unopened_desktop_course, browser):
    course = unopened_desktop_course
    # Display :1 held by a live process: the desktop cannot have it.
    course.exec("sh", "-c", "echo '         1' > /tmp/.X1-lock")
    page = browser.new_page()
    try:
        page.goto(f"{course.url}/desktop/?token={course.token}")
        reason = page.locator("#course-desktop-reason")
        reason.wait_for(timeout=90_000)
        assert "another desktop already uses display :1" in reason.text_content()
    finally:
        page.close()
    log = course.compose("logs", "jupyter").stdout
    assert log.count("course desktop: the desktop cannot start") == 1, log


def test_a_hub_students_desktop_shows_what_their_notebook_opens(built_course, tmp_path):
    with running_hub(built_course(DESKTOP_COURSE), tmp_path, ["ada"]) as hub:
        hub.start_server("ada")
        token = hub.user_token("ada")
        start_the_desktop(f"{hub.url}/user/ada", token)
        reply = hub.run_cell("ada", token, GUI_CELL, keep_kernel=True)
        assert reply["status"] == "ok", reply
        server = engine().containers.get(f"{hub.slug}-ada")
        titles = server.exec_run(["python", "-c", WINDOW_TITLES]).output.decode().splitlines()
        assert {"Course window", "Turtle drawing"} <= set(titles), titles
        # The course user (uid 1000), as the hub runs the server.
        assert server.exec_run(["sh", "-c", X_SERVER_UID]).output.decode().strip() == "1000"


def start_the_desktop(server: str, token: str) -> None:
    """What the Desktop tab does first: its websocket starts the desktop (through a hub's proxy, too)."""
    url = f"{server.replace('http', 'ws', 1)}/desktop-websockify/"

    async def greeted():
        connection = await connect(url, token)
        # The VNC server's greeting: the desktop is up.
        assert (await connection.read_message()).startswith(b"RFB ")
        connection.close()
    in_its_own_loop(greeted(), 60)


def test_the_desktop_starts_for_a_uid_the_image_has_no_name_for(built_course):
    # `docker run --user 4321`, or a cluster that picks the uid: no passwd entry for it.
    port, token = free_port(), "no-name-uid"
    container = engine().containers.run(
        image_of(built_course(DESKTOP_COURSE)), user="4321:4321", detach=True,
        environment={"JUPYTER_TOKEN": token, "JUPYTER_PORT": str(port), "HOME": "/home/student"},
        ports={f"{port}/tcp": ("127.0.0.1", port)}, cap_drop=["ALL"], security_opt=["no-new-privileges:true"])
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_url(f"{url}/api/status?token={token}", timeout=120)
        start_the_desktop(url, token)
        assert container.exec_run(["sh", "-c", X_SERVER_UID]).output.decode().strip() == "4321"
        assert container.exec_run(["id", "-un"]).exit_code != 0
        # Root on this rootful engine is refused, in one line, and the student's desktop is not marked as failed.
        as_root = container.exec_run(["python", "-m", "course_desktop", "/tmp/root.socket"],
                                     user="0")
        assert as_root.exit_code == 1
        assert as_root.output.decode().strip() == ("course desktop: the desktop cannot start: it never runs as root. "
                                                   "Start the course with `docker compose up`, without --user root.")
        assert container.exec_run(["test", "-e", "/tmp/course-desktop-failed"]).exit_code != 0
    finally:
        container.remove(force=True)


# The official python:*-slim images keep Python's tkinter module but remove the
# Tk libraries it links to, and their Python is not Debian's. Made here from
# the Debian-based stand-in: a Python dpkg does not know, a tkinter module
# without its libraries.
OFFICIAL_LAYOUT = """
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -qq -y --no-install-recommends python3.13-tk >/dev/null
dpkg -L python3.13-tk | while read -r file; do if [ -f "$file" ]; then echo "$file"; fi; done > /tmp/tk-files
tar -cf /tmp/tk.tar -T /tmp/tk-files
dpkg --purge python3.13-tk libtk8.6 libtcl8.6 >/dev/null
tar -xf /tmp/tk.tar -C /
rm /usr/local/bin/python3
cp /usr/bin/python3.13 /usr/local/bin/python3
! python3 -c 'import tkinter' 2>/dev/null
bash /tmp/install-desktop.sh >/dev/null
python3 -c 'import tkinter; print(tkinter.Tcl().eval("info patchlevel"))'
"""


def test_a_python_that_kept_tkinter_but_lost_its_tk_libraries_gets_them_installed(bake_static, python_base):
    base = python_base(answers_for(DESKTOP_COURSE)["python_version"])
    script = bake_static({"desktop": True}) / "docker" / "build" / "install-desktop.sh"
    result = subprocess.run(["docker", "run", "--rm", "--volume", f"{script}:/tmp/install-desktop.sh:ro", base,
                             "bash", "-c", OFFICIAL_LAYOUT], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().startswith("8.6."), result.stdout

