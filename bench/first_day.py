"""A student's first day: what they download, and how long until the first cell shows its output.

The data-science course (jupyterhub=no) against the reference image of
bench/images.py (the same pinned requirements.txt, installed the Jupyter
Docker Stacks' way, on the same base), and against the same course generated
by the template as it was before the start-up work (`--before`, a commit of
this repository), all measured in this one run:

- download: both images pushed to a registry on 127.0.0.1; the compressed
  layers a student pulls, in all and without the base image's layers;
- time to Jupyter: from `docker compose up --detach` (for the reference,
  `docker run`) to /api/status answering, the image already pulled;
- time to first output: the same start, then headless Chromium opens the
  smoke notebook and runs its first cell; reported in parts (container
  started, Jupyter answering, page loaded, kernel ready, output shown).

    uv run --group bench python -m bench.first_day [--starts 10] [--browser-runs 5]
"""

from __future__ import annotations

import argparse
import datetime
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from cookiecutter.main import cookiecutter
from playwright.sync_api import sync_playwright

from bench.common import (
    DATA_SCIENCE_PACKAGES,
    PYTHON_VERSION,
    ROOT,
    Section,
    base_image,
    make_project,
    met,
    run,
    save,
    summary,
)
from bench.images import REFERENCE_DOCKERFILE, TOKEN, Ours, Reference, seconds_to_answer, time_to_jupyter
from tests.support.browser import CHROMIUM_FLAGS, NOTEBOOK_PATH, SMOKE_NOTEBOOK, wait_for_idle_kernel
from tests.support.engine import free_port
from tests.support.matrices import image_of
from tests.support.registry import Registry

# The template before the start-up changes (the course's own network, `jupyter lab`,
# the PyPI extension manager).
BEFORE = "50026c7"
ANSWERS = {"packages": DATA_SCIENCE_PACKAGES, "jupyterhub": "no", "include_ci": "no", "include_devcontainer": "no"}


def template_at(commit: str, folder: Path) -> Path:
    """This repository's template as it was at commit."""
    archive = folder / "template.tar"
    run("git", "archive", "--output", str(archive), commit, cwd=ROOT)
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "template", filter="data")
    return folder / "template"


def time_to_first_output(course, browser) -> dict[str, float]:
    """Seconds from the start command to each step the student sees."""
    parts = {}
    url = f"http://127.0.0.1:{course.port}"
    start = time.perf_counter()
    course.start()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        parts["container started"] = time.perf_counter() - start
        seconds_to_answer(url, TOKEN)
        parts["Jupyter answering"] = time.perf_counter() - start
        page.goto(f"{url}{NOTEBOOK_PATH['lab']}?token={TOKEN}")
        cell = page.locator(".jp-CodeCell").first
        cell.wait_for(state="visible", timeout=120_000)
        parts["page loaded"] = time.perf_counter() - start
        wait_for_idle_kernel(url, TOKEN, SMOKE_NOTEBOOK, timeout=120, interval=0.02)
        parts["kernel ready"] = time.perf_counter() - start
        cell.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        cell.locator(".jp-OutputArea-output").filter(has_text="Python 3.").first.wait_for(timeout=120_000)
        parts["output shown"] = time.perf_counter() - start
        return parts
    finally:
        page.close()
        course.stop()


def download(registry: Registry, local: str, repository: str, base_layers: dict[str, int]) -> dict:
    remote = f"127.0.0.1:{registry.port}/{repository}:latest"
    run("docker", "tag", local, remote)
    run("docker", "push", remote)
    run("docker", "rmi", remote)
    layers = registry.layers(repository, "latest")
    return {"layers": len(layers), "bytes": sum(layers.values()),
            "bytes without the base": sum(size for digest, size in layers.items() if digest not in base_layers)}


def downloads(folder: Path, base: str, images: dict[str, str]) -> dict:
    """Each image (name -> local tag) pushed to a registry on 127.0.0.1 with the base: what a student pulls."""
    folder.mkdir()
    registry = Registry(folder)
    registry.start()
    try:
        run("docker", "tag", base, f"127.0.0.1:{registry.port}/base:latest")
        run("docker", "push", f"127.0.0.1:{registry.port}/base:latest")
        base_layers = registry.layers("base", "latest")
        return {"base": sum(base_layers.values()),
                **{name: download(registry, tag, re.sub(r"[^a-z0-9]+", "-", name), base_layers)
                   for name, tag in images.items()}}
    finally:
        registry.stop()
        run("docker", "rmi", f"127.0.0.1:{registry.port}/base:latest", check=False)


def per_part(runs: list[dict[str, float]]) -> dict:
    return {part: summary([run_[part] for run_ in runs]) for part in runs[0]}


def prepare(scratch: Path, before: str, base: str) -> tuple[Path, Path, Path, Path]:
    """The three courses' folders, with the same pinned requirements.txt: ours, the template at the
    commit before, the reference's build folder, and the folder the reference mounts its notebook from."""
    ours = make_project(scratch / "ours", {**ANSWERS, "project_slug": "first-day"})
    earlier = Path(cookiecutter(
        str(template_at(before, scratch)), no_input=True, output_dir=str(scratch / "before"),
        extra_context={**ANSWERS, "python_version": PYTHON_VERSION, "project_slug": "first-day-before"}))
    shutil.copy(ours / "requirements.txt", earlier / "requirements.txt")
    reference = scratch / "reference"
    reference.mkdir()
    (reference / "Dockerfile").write_text(REFERENCE_DOCKERFILE.format(base=base))
    shutil.copy(ours / "requirements.txt", reference / "requirements.txt")
    # The reference has no course_check module in its image: the notebook's folder carries it.
    notebook_folder = scratch / "reference-course"
    shutil.copytree(ours / "course", notebook_folder)
    shutil.copy(ours / "docker" / "container" / "course_check.py", notebook_folder)
    (notebook_folder / "requirements.in").write_text((ours / "requirements.in").read_text())
    return ours, earlier, reference, notebook_folder


def starts(courses: dict, runs: int) -> dict:
    """Time to Jupyter, interleaved, so that a slow minute of the machine hits every course."""
    samples: dict[str, list[float]] = {name: [] for name in courses}
    for _ in range(runs):
        for name, course in courses.items():
            samples[name].append(time_to_jupyter(course))
    results = {name: summary(values) for name, values in samples.items()}
    results["ratio"] = results["reference"]["median"] / results["ours"]["median"]
    results["ratio before"] = results["reference"]["median"] / results["before"]["median"]
    return results


def first_outputs(courses: dict, runs: int) -> dict:
    """Time to the smoke notebook's first output in Chromium, part by part, interleaved."""
    outputs: dict[str, list[dict]] = {name: [] for name in courses}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
        for _ in range(runs):
            for name, course in courses.items():
                outputs[name].append(time_to_first_output(course, browser))
        browser.close()
    return {name: per_part(values) for name, values in outputs.items()}


def show(results: dict) -> None:
    size = results["download"]
    print(f"download: ours {size['ours']['bytes'] / 1e6:.0f} MB, reference {size['reference']['bytes'] / 1e6:.0f} MB")
    start = results["time to jupyter"]
    print(f"time to Jupyter: ours {start['ours']['median']:.2f}s, before {start['before']['median']:.2f}s, "
          f"reference {start['reference']['median']:.2f}s (reference / ours {start['ratio']:.2f})")
    for name, parts in results["time to first output"].items():
        print(f"first output, {name}: " + ", ".join(f"{part} {figures['median']:.2f}s"
                                                    for part, figures in parts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=10, help="starts for time to Jupyter (default 10)")
    parser.add_argument("--browser-runs", type=int, default=5, help="runs to the first output (default 5)")
    parser.add_argument("--before", default=BEFORE, help=f"the template commit to compare with (default {BEFORE})")
    args = parser.parse_args()
    base = base_image()
    results: dict = {"course": DATA_SCIENCE_PACKAGES, "before": args.before,
                     "measured on": datetime.date.today().isoformat()}
    with tempfile.TemporaryDirectory() as scratch:
        ours, earlier, reference, notebook_folder = prepare(Path(scratch), args.before, base)
        for project in (ours, earlier):
            run("docker", "compose", "build", cwd=project)
        reference_tag = "bench-first-day-reference:latest"
        run("docker", "build", "--tag", reference_tag, str(reference))
        results["download"] = downloads(Path(scratch) / "registry", base,
                                        {"ours": image_of(ours), "reference": reference_tag})
        port = free_port()
        courses = {"ours": Ours(ours, port), "before": Ours(earlier, port),
                   "reference": Reference(reference_tag, port, "--env", f"COURSE_PYTHON_VERSION={PYTHON_VERSION}",
                                          "--volume", f"{notebook_folder}:/home/jovyan/course:ro")}
        results["time to jupyter"] = starts(courses, args.starts)
        results["time to first output"] = first_outputs(courses, args.browser_runs)
        run("docker", "image", "rm", "--force", image_of(ours), image_of(earlier), reference_tag, check=False)
    save("first day", results)
    show(results)


# The report's section (bench/run.py writes docs/benchmarks.md from every module's).
def section(day: dict) -> Section:
    size, start, output = day["download"], day["time to jupyter"], day["time to first output"]
    names = {"ours": "ours", "before": f"ours before ({day['before']})", "reference": "reference"}
    lines = ["## A student's first day", "",
             f"`bench/first_day.py`: the data-science course (`{day['course']}`, jupyterhub=no) against the reference "
             "image (the same requirements.txt installed the Jupyter Docker Stacks' way on the same base), and against "
             f"the same course generated by the template at {day['before']} (its own compose network, `jupyter lab`, "
             f"the PyPI extension manager). Measured side by side in one run on {day['measured on']}.", "",
             "**Download**: both images pushed to a registry on 127.0.0.1; the compressed layers a student pulls.", "",
             "| image | layers | download | without the base image's layers |", "|---|---|---|---|"]
    for name in ("ours", "reference"):
        lines.append(f"| {names[name]} | {size[name]['layers']} | {size[name]['bytes'] / 1e6:.0f} MB | "
                     f"{size[name]['bytes without the base'] / 1e6:.0f} MB |")
    lines += ["", "**Time to Jupyter**: from `docker compose up --detach` (the reference: `docker run`) to "
              "`/api/status` answering, image already pulled, the three started in turn.", "",
              "| | median | min | max | runs |", "|---|---|---|---|---|"]
    for name in ("ours", "before", "reference"):
        lines.append(f"| {names[name]} | {start[name]['median']:.2f} s | {start[name]['min']:.2f} s | "
                     f"{start[name]['max']:.2f} s | {start[name]['n']} |")
    parts = list(output["ours"])
    lines += ["", "**Time to first output**: the same start, then headless Chromium opens the smoke notebook and runs "
              "its first cell (medians, seconds from the start command).", "",
              "| | " + " | ".join(parts) + " |", "|---" * (len(parts) + 1) + "|"]
    for name in ("ours", "before", "reference"):
        lines.append(f"| {names[name]} | " + " | ".join(f"{output[name][part]['median']:.2f} s" for part in parts)
                     + " |")
    targets = [
        ("download, ours / reference", f"{size['ours']['bytes'] / size['reference']['bytes']:.2f}", "at most 1.0",
         met(size["ours"]["bytes"] / size["reference"]["bytes"], 1.0)),
        ("time to Jupyter, reference / ours", f"{start['ratio']:.2f} (before: {start['ratio before']:.2f})",
         "at least 1.0", met(start["ratio"], 1.0, larger_is_better=True)),
    ]
    shown = {name: output[name]["output shown"]["median"] for name in ("ours", "reference")}
    targets += [
        ("time to first output, reference / ours", f"{shown['reference'] / shown['ours']:.2f}", "at least 1.0",
         met(shown["reference"] / shown["ours"], 1.0, larger_is_better=True)),
        ("time to first output, ours / reference", f"{shown['ours'] / shown['reference']:.2f}",
         "at most 0.8, if the page's own loading can be made lighter", met(shown["ours"] / shown["reference"], 0.8)),
    ]
    return lines + [""], targets


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"{error.cmd}: {error.stderr}") from error
