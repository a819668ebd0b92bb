"""What the desktop in the browser costs: the default course with desktop=no and desktop=yes, side by side.

- image size and download (both pushed to a registry on 127.0.0.1: the
  compressed layers a student pulls, in all and without the base's);
- time to Jupyter (`docker compose up --detach` to /api/status answering),
  the two courses started in turn;
- the desktop's first window: from the click on Desktop in JupyterLab's
  launcher to the desktop shown in its tab, then from running a notebook cell
  that opens a tkinter window to that window drawn in the tab;
- the memory of an idle desktop: the X server and the window manager
  (resident memory), and the container's memory before and after opening it.

    uv run --group bench python -m bench.desktop [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.common import DEFAULT_PACKAGES, Section, base_image, make_project, run, save, seconds, summary
from bench.first_day import downloads
from bench.images import Ours, time_to_jupyter
from tests.support.browser import CHROMIUM_FLAGS
from tests.support.course import Course
from tests.support.desktop import ORANGE, pixels_near
from tests.support.engine import free_port
from tests.support.kernel import run_cell
from tests.support.matrices import image_of

COURSES = {"desktop=no": {"desktop": False}, "desktop=yes": {"desktop": True}}
WINDOW_CELL = ("import tkinter\nwindow = tkinter.Tk()\nwindow.geometry('320x240+60+60')\n"
               "window.configure(background='#ff8800')\nwindow.update()")
# Resident memory (kB) of the desktop's processes, from inside the container.
DESKTOP_RSS = """
import pathlib
total = 0
for proc in pathlib.Path("/proc").glob("[0-9]*"):
    try:
        status = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines())
    except OSError:
        continue
    if status["Name"].strip() in ("Xvnc", "jwm"):
        total += int(status["VmRSS"].split()[0])
print(total)
"""


def container_memory(course: Course) -> int:
    return course.container().stats(stream=False)["memory_stats"]["usage"]


def first_window(course: Course, browser) -> dict[str, float]:
    """From a fresh start: click Desktop, wait for the desktop; run a cell that opens a window, wait for it drawn."""
    course.up()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{course.url}/lab?token={course.token}")
        card = page.locator(".jp-LauncherCard", has_text="Desktop")
        card.wait_for(timeout=120_000)
        idle_memory = container_memory(course)
        start = time.perf_counter()
        with page.context.expect_page() as opened:
            card.click()
        desktop = opened.value
        desktop.wait_for_function("document.getElementById('status').textContent === 'Connected'",
                                  timeout=120_000)
        shown = time.perf_counter() - start
        time.sleep(10)
        rss = int(course.exec("python", "-c", DESKTOP_RSS).stdout) * 1024
        desktop_memory = container_memory(course) - idle_memory
        start = time.perf_counter()
        _, reply = run_cell(course.url, course.token, WINDOW_CELL)
        assert reply["status"] == "ok", reply
        while pixels_near(desktop.screenshot(), ORANGE) < 300 * 200:
            time.sleep(0.05)
        drawn = time.perf_counter() - start
        desktop.close()
        return {"click to desktop shown": shown, "cell to window drawn": drawn,
                "desktop resident memory": rss, "container memory added": desktop_memory}
    finally:
        page.close()
        course.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="starts and desktop openings (default 5)")
    args = parser.parse_args()
    base = base_image()
    results: dict = {"course": DEFAULT_PACKAGES, "measured on": datetime.date.today().isoformat()}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        courses = {}
        for name, answers in COURSES.items():
            slug = f"bench-{name.replace('=', '-')}"
            project = make_project(scratch / slug, {**answers, "project_slug": slug})
            run("docker", "compose", "build", cwd=project)
            courses[name] = Course(project, name=name)
        images = {name: image_of(course.path) for name, course in courses.items()}
        results["image size"] = {name: int(run("docker", "image", "inspect", "--format", "{{.Size}}", image)
                                           .stdout) for name, image in images.items()}

        results["download"] = downloads(scratch / "registry", base, images)

        port = free_port()
        started = {name: Ours(course.path, port) for name, course in courses.items()}
        starts = {name: [] for name in courses}
        for _ in range(args.runs):
            for name, course in started.items():
                starts[name].append(time_to_jupyter(course))
        results["time to jupyter"] = {name: summary(samples) for name, samples in starts.items()}

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
            runs = [first_window(courses["desktop=yes"], browser) for _ in range(args.runs)]
            browser.close()
        results["desktop"] = {part: summary([result[part] for result in runs]) for part in runs[0]}
        run("docker", "image", "rm", "--force", *images.values(), check=False)

    save("desktop", results)
    for name in COURSES:
        print(f"{name}: image {results['image size'][name] / 1e6:.0f} MB, download "
              f"{results['download'][name]['bytes'] / 1e6:.0f} MB, time to Jupyter "
              f"{results['time to jupyter'][name]['median']:.2f} s")
    for part, figures in results["desktop"].items():
        print(f"{part}: {figures['median']:.2f}")


# The report's section (bench/run.py writes docs/benchmarks.md from every module's).
def section(desktop: dict) -> Section:
    size, download, start = desktop["image size"], desktop["download"], desktop["time to jupyter"]
    lines = ["## The desktop in the browser", "",
             f"`bench/desktop.py`: the default course (`{desktop['course']}`) generated with desktop=no and with "
             "desktop=yes, built, pushed to a registry on 127.0.0.1 and started in turn; then, from a fresh start "
             "each time, Chromium clicks *Desktop* in JupyterLab's launcher and a notebook cell (in a new kernel) "
             "opens a tkinter window, until it is drawn in the desktop's tab. Measured side by side in one run on "
             f"{desktop['measured on']}.", "",
             "| | image size | download | without the base image's layers | time to Jupyter |",
             "|---|---|---|---|---|"]
    for name in ("desktop=no", "desktop=yes"):
        lines.append(f"| {name} | {size[name] / 1e6:.0f} MB | {download[name]['bytes'] / 1e6:.0f} MB | "
                     f"{download[name]['bytes without the base'] / 1e6:.0f} MB | {seconds(start[name])} |")
    parts = desktop["desktop"]
    lines += ["", "| desktop=yes | median (min–max, n) |", "|---|---|",
              f"| click on Desktop to the desktop shown | {seconds(parts['click to desktop shown'])} |",
              f"| a cell opening a window (new kernel) to the window drawn | "
              f"{seconds(parts['cell to window drawn'])} |",
              f"| idle desktop: X server + window manager, resident | "
              f"{parts['desktop resident memory']['median'] / 1e6:.0f} MB |",
              f"| idle desktop: the container's memory, added | "
              f"{parts['container memory added']['median'] / 1e6:.0f} MB |", ""]
    return lines, []


if __name__ == "__main__":
    main()
