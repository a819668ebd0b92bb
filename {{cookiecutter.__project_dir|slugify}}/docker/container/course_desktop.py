"""The course's desktop in the browser: an X display for programs with windows.

JupyterLab's launcher and Notebook 7's New menu open it as "Desktop"
(jupyter_server_config.py declares it to jupyter-server-proxy). Opening it
runs `python -m course_desktop SOCKET`, which starts TigerVNC's X server on the
display every kernel and terminal names (DISPLAY) and the JWM window manager
in it. It works for any uid, including one the image has no user name for.
The page at /desktop/ (course_desktop.html, this module's server extension)
shows the display with noVNC, the VNC client docker/build/install-novnc.py installs.

The desktop is reached only through Jupyter: its VNC side is a unix socket in
a folder only this user can open, and no TCP port is opened. It never runs as
root on a rootful engine. When it cannot start, it says why in one line, in
the log and on the desktop page, instead of being retried.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

DISPLAY = os.environ.get("DISPLAY", ":1")
SOCKET = Path("/tmp/.X11-unix", f"X{DISPLAY.lstrip(':')}")
LOCK = Path(f"/tmp/.X{DISPLAY.lstrip(':')}-lock")
# Written when the desktop could not start: the page then shows the reason
# instead of retrying. Restarting the course clears it (/tmp is the container's).
FAILED = Path("/tmp/course-desktop-failed")
# The display's key, readable by the student only: without it no other process
# can open windows on the desktop or type into them (the image's ENV names it
# for every kernel, terminal and script).
XAUTHORITY = Path(os.environ.get("XAUTHORITY", "/tmp/.course-desktop-Xauthority"))
X_LOG = Path("/tmp/course-desktop.log")
# The page and the noVNC client it loads (the Dockerfile puts them there).
PAGE_FOLDER = Path("/opt/course/desktop")
PREFIX = "course desktop:"


def uid_0_is_an_ordinary_user() -> bool:
    """True on a rootless engine: uid 0 is the host user who started the course (start-course.sh says so)."""
    return os.environ.get("COURSE_ROOTLESS_ENGINE") == "1"


def why_it_cannot_start() -> str | None:
    """What stops the desktop from starting, in words for the student; None when nothing does."""
    if FAILED.exists():
        return FAILED.read_text().strip()
    if shutil.which("Xvnc") is None or shutil.which("jwm") is None:
        return "this course image has no desktop (its Dockerfile installs none)."
    if os.geteuid() == 0 and not uid_0_is_an_ordinary_user():
        return "it never runs as root. Start the course with `docker compose up`, without --user root."
    if not os.access("/tmp", os.W_OK):
        return "the folder /tmp in the container is not writable."
    return None


def give_up(reason: str) -> int:
    """Say why in one line, once (the page's reconnections find it said); the page shows the same line."""
    if not FAILED.exists():
        print(f"{PREFIX} the desktop cannot start: {reason}", file=sys.stderr, flush=True)
        # Root trying (a `docker exec --user 0`) says nothing of the student's own desktop.
        if os.geteuid() != 0 or uid_0_is_an_ordinary_user():
            with contextlib.suppress(OSError):
                FAILED.write_text(reason + "\n")
    return 1


def display_in_use() -> bool:
    """True while an X server holds the display's lock file (a lock left by a stopped one does not count)."""
    try:
        pid = int(LOCK.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_key() -> None:
    """A new MIT-MAGIC-COOKIE-1 for the display, in Xauthority's format, mode 0600, at every start."""
    def counted(data: bytes) -> bytes:
        return struct.pack(">H", len(data)) + data

    # Family 0xFFFF: any address, as the display is only reached through its unix socket.
    entry = (struct.pack(">H", 0xFFFF) + counted(b"") + counted(DISPLAY.lstrip(":").encode())
             + counted(b"MIT-MAGIC-COOKIE-1") + counted(secrets.token_bytes(16)))
    new = XAUTHORITY.with_name(f"{XAUTHORITY.name}.{os.getpid()}")
    descriptor = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as key:
        key.write(entry)
    os.replace(new, XAUTHORITY)


def start(arguments: list[str]) -> int:
    """Run the X server (VNC on the socket Jupyter names) and the window manager until either ends."""
    if len(arguments) != 1:
        raise SystemExit(f"{PREFIX} usage: python -m course_desktop SOCKET (as Jupyter's Desktop runs it)")
    vnc_socket = arguments[0]
    reason = why_it_cannot_start()
    if reason:
        return give_up(reason)
    if display_in_use():
        return give_up(f"another desktop already uses display {DISPLAY}; restart the course to start afresh.")
    try:
        # What a desktop that stopped left behind.
        SOCKET.unlink(missing_ok=True)
        LOCK.unlink(missing_ok=True)
    except OSError as error:
        return give_up(f"display {DISPLAY} was left by another user ({error.strerror}); restart the course")
    try:
        write_key()
    except OSError as error:
        return give_up(f"its key {XAUTHORITY} cannot be written ({error.strerror}); restart the course")
    with X_LOG.open("w") as log:
        x_server = subprocess.Popen(
            ["Xvnc", DISPLAY, "-auth", str(XAUTHORITY), "-rfbunixpath", vnc_socket, "-rfbunixmode", "0600",
             "-rfbport", "-1", "-SecurityTypes", "None", "-geometry", "1280x800", "-depth", "24",
             "-nolisten", "tcp", "-desktop", "Course desktop"],
            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not SOCKET.exists():
        if x_server.poll() is not None or time.monotonic() > deadline:
            x_server.kill()
            last = X_LOG.read_text().strip().splitlines()[-1:] or ["no message"]
            return give_up(f"the X server stopped ({last[0].strip()}); its log is {X_LOG}.")
        time.sleep(0.05)
    window_manager = subprocess.Popen(["jwm"], cwd=Path.home(), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)

    def stop(signum, frame):
        window_manager.terminate()
        x_server.terminate()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Leaving the window manager (its menu's Exit) ends the desktop; opening
    # the Desktop again starts a new one.
    while x_server.poll() is None and window_manager.poll() is None:
        time.sleep(0.5)
    stop(None, None)
    x_server.wait()
    return 0


FAILURE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Desktop</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The desktop cannot start</h1>
<p id="course-desktop-reason">{reason}</p>
<p><a href="{home}">Back to Jupyter</a></p>
</body></html>
"""


def desktop_page_handler():
    """The desktop page; or, when the desktop cannot start, a page that says why (nothing reconnects)."""
    # Imported here: the desktop's own start (python -m course_desktop) needs none of Jupyter.
    from jupyter_server.base.handlers import JupyterHandler
    from tornado import escape, web

    class DesktopPageHandler(JupyterHandler):
        @web.authenticated
        def get(self):
            reason = why_it_cannot_start()
            if reason is not None:
                self.finish(FAILURE_PAGE.format(reason=escape.xhtml_escape(reason), home=self.base_url))
            else:
                self.finish((PAGE_FOLDER / "index.html").read_bytes())
    return DesktopPageHandler


def load_ipython_extension(shell):
    """In notebooks, keep a cell's windows drawn after the cell ends (an IPython extension, in every kernel).

    A notebook has no Tk main loop: a turtle window would stay blank or freeze
    once its cell ends. When a cell has opened a Tk window, the kernel runs Tk's
    events between cells from then on (IPython's `%gui tk`).
    """
    def keep_windows_drawn(result):
        tkinter = sys.modules.get("tkinter")
        if tkinter is not None and getattr(tkinter, "_default_root", None) is not None:
            shell.events.unregister("post_run_cell", keep_windows_drawn)
            shell.enable_gui("tk")
    shell.events.register("post_run_cell", keep_windows_drawn)


def _jupyter_server_extension_points():
    return [{"module": "course_desktop"}]


def _load_jupyter_server_extension(server_app):
    from jupyter_server.base.handlers import AuthenticatedFileHandler
    from jupyter_server.utils import url_path_join
    from tornado import web

    desktop = url_path_join(server_app.web_app.settings["base_url"], "desktop")
    server_app.web_app.add_handlers(".*", [
        (desktop, web.RedirectHandler, {"url": desktop + "/"}),
        (desktop + "/", desktop_page_handler()),
        (desktop + "/novnc/(.*)", AuthenticatedFileHandler, {"path": str(PAGE_FOLDER / "novnc")}),
    ])
    reason = why_it_cannot_start()
    if reason:
        server_app.log.warning("%s the desktop cannot start: %s", PREFIX, reason)


if __name__ == "__main__":
    sys.exit(start(sys.argv[1:]))
