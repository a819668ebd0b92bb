"""The desktop in the browser as the tests look at it: windows by their titles on the X display, colours on the page."""

from __future__ import annotations

import io
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.support.course import Course
from tests.support.kernel import run_cell
from tests.support.waiting import wait_until

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ORANGE, BLUE = (255, 136, 0), (0, 0, 255)
# A notebook cell as a first-year would write it: a window with a title and a
# colour, then a turtle drawing a thick blue square.
GUI_CELL = """
import tkinter, turtle
window = tkinter.Tk()
window.title("Course window")
window.geometry("320x240+60+60")
window.configure(background="#ff8800")
window.update()
screen = turtle.Screen()
screen.setup(420, 420, startx=480, starty=60)
screen.title("Turtle drawing")
pen = turtle.Turtle()
pen.pencolor("#0000ff")
pen.pensize(10)
pen.speed(0)
for side in range(4):
    pen.forward(150)
    pen.left(90)
window.update()
"""
# The titles of the windows on the X display, read with Xlib (no X tools in the image).
WINDOW_TITLES = """
import ctypes, ctypes.util, os
x = ctypes.CDLL(ctypes.util.find_library("X11"))
x.XOpenDisplay.restype = ctypes.c_void_p
x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
x.XDefaultRootWindow.restype = ctypes.c_ulong
x.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong] + [ctypes.POINTER(ctypes.c_ulong)] * 2 + [
    ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)), ctypes.POINTER(ctypes.c_uint)]
x.XFetchName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_char_p)]
display = x.XOpenDisplay(os.environ["DISPLAY"].encode())
assert display, "no X server on " + os.environ["DISPLAY"]
def walk(window):
    name = ctypes.c_char_p()
    if x.XFetchName(display, window, ctypes.byref(name)) and name.value:
        print(name.value.decode())
    children, count = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
    if x.XQueryTree(display, window, ctypes.c_ulong(), ctypes.c_ulong(), ctypes.byref(children), ctypes.byref(count)):
        for i in range(count.value):
            walk(children[i])
walk(x.XDefaultRootWindow(display))
"""

def pixels_near(screenshot: bytes, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    data = Image.open(io.BytesIO(screenshot)).convert("RGB").tobytes()  # r, g, b, r, g, b, ...
    return sum(1 for pixel in zip(data[0::3], data[1::3], data[2::3], strict=True)
               if all(abs(channel - wanted) <= tolerance for channel, wanted in zip(pixel, colour, strict=True)))


def desktop_user(course: Course) -> str:
    """The uid the desktop runs as, Jupyter's (0 on a rootless engine): only it can read the display's key."""
    return str(course.jupyter_processes()[0]["uid"])


def window_titles(course: Course, user: str) -> list[str]:
    return course.exec("python", "-c", WINDOW_TITLES, user=user).stdout.splitlines()


def wait_for_windows(course: Course, titles: set[str], timeout: float = 30) -> list[str]:
    user = desktop_user(course)
    return wait_until(lambda: titles <= set(found := window_titles(course, user)) and found, timeout=timeout,
                      message=lambda: f"windows {titles} not on the desktop; it has {window_titles(course, user)}")


def open_desktop(course: Course, browser):
    """Open Desktop as the launcher does (with the token), and wait until the page shows the desktop."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    failed = []
    page.on("requestfailed", lambda request: failed.append(f"{request.url} ({request.failure})"))
    page.goto(f"{course.url}/desktop/?token={course.token}")
    try:
        page.wait_for_function("document.getElementById('status').textContent === 'Connected'", timeout=60_000)
    except PlaywrightTimeoutError as timeout:
        status = page.evaluate("document.getElementById('status')?.textContent")
        log = course.compose("logs", "jupyter", check=False).stdout[-2000:]
        raise AssertionError(f"the desktop page says {status!r}; failed requests: {failed}; "
                             f"Jupyter's log:\n{log}") from timeout
    return page


def check_gui_cell_draws_on_the_desktop(course: Course, browser, name: str) -> None:
    page = open_desktop(course, browser)
    try:
        _, reply = run_cell(course.url, course.token, GUI_CELL)
        assert reply["status"] == "ok", reply
        wait_for_windows(course, {"Course window", "Turtle drawing"})
        time.sleep(1)  # the page draws what the X server sends
        screenshot = page.screenshot()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"desktop-{name}.png").write_bytes(screenshot)
        # The orange window (320x240) and the blue square's sides (4 x 150 x 10), not a black or empty page.
        assert pixels_near(screenshot, ORANGE) > 300 * 200
        assert pixels_near(screenshot, BLUE) > 4 * 120 * 8
    finally:
        page.close()


GREEN, MAGENTA, CYAN = (0, 200, 0), (200, 0, 200), (0, 200, 200)


def pygame_window(title: str, colour: tuple[int, int, int], position: tuple[int, int], stay: float = 0) -> str:
    """A pygame program as a first-year writes one: a window with a title, filled with a colour.

    stay: seconds it keeps the window open, answering the window system meanwhile (a script's main loop);
    0 for a notebook cell, whose kernel keeps the window after the cell ends.
    """
    return f"""
import os, time
os.environ["SDL_VIDEO_WINDOW_POS"] = "{position[0]},{position[1]}"
import pygame
pygame.init()
screen = pygame.display.set_mode((300, 200))
pygame.display.set_caption({title!r})
screen.fill({colour!r})
pygame.display.flip()
end = time.monotonic() + {stay}
while time.monotonic() < end:
    pygame.event.pump()
    time.sleep(0.1)
"""
