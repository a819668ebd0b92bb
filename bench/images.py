"""Images: cold build, rebuilds, size and time to Jupyter, ours against a reference image.

The reference installs the same pinned requirements.txt on the same base the
way the Jupyter Docker Stacks' recipe does: one stage, `pip install
--no-cache-dir -r requirements.txt` as the notebook user. Prints the
reference / ours cold-build ratio last.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
import uuid
from pathlib import Path

import requests

from bench.common import (
    DATA_SCIENCE_PACKAGES,
    Section,
    base_image,
    make_project,
    met,
    ratio,
    report,
    run,
    save,
    seconds,
    summary,
    timed,
)
from tests.support.matrices import image_of

REFERENCE_DOCKERFILE = """\
FROM {base}
RUN useradd --create-home --uid 1000 jovyan
USER jovyan
ENV PATH=/home/jovyan/.local/bin:$PATH
WORKDIR /home/jovyan
COPY --chown=jovyan requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --user -r /tmp/requirements.txt
EXPOSE 8888
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser"]
"""


# One package a lesson adds, new to the data-science lock each time.
NEW_PACKAGES = ["tabulate", "tqdm", "toolz", "pyfiglet", "humanize"]


def clear_build_caches() -> None:
    """Forget every cached layer and cache mount, so the next build is cold."""
    run("docker", "builder", "prune", "--all", "--force")


def build(context: Path, tag: str, *options: str) -> float:
    return timed(lambda: run("docker", "build", "--quiet", "--tag", tag, *options, str(context)))


def image_size(tag: str) -> int:
    return int(run("docker", "image", "inspect", "--format", "{{.Size}}", tag).stdout)


def floor_size(base: str, ours: str) -> int:
    """The base image plus the installed virtual environment, as `du` counts it."""
    venv = run("docker", "run", "--rm", "--entrypoint", "du", ours, "-sb", "/opt/venv").stdout.split()[0]
    return image_size(base) + int(venv)


def seconds_to_answer(url: str, token: str, limit: float = 120) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        try:
            if requests.get(f"{url}/api/status", params={"token": token}, timeout=2).status_code == 200:
                return time.perf_counter() - start
        except requests.ConnectionError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer within {limit}s")


TOKEN = "bench"


class Ours:
    """A generated course, started the student's way: `docker compose up`."""

    def __init__(self, project: Path, port: int):
        self.project, self.port = project, port
        self.env = {**os.environ, "JUPYTER_PORT": str(port), "JUPYTER_TOKEN": TOKEN}

    def start(self) -> None:
        run("docker", "compose", "up", "--detach", cwd=self.project, env=self.env)

    def stop(self) -> None:
        run("docker", "compose", "down", "--timeout", "10", cwd=self.project, env=self.env)


class Reference:
    """The reference image, started with `docker run`; options: more `docker run` options (mounts, variables)."""

    def __init__(self, tag: str, port: int, *options: str):
        self.tag, self.port, self.options = tag, port, options
        self.container = ""

    def start(self) -> None:
        self.container = run("docker", "run", "--detach", "--env", f"JUPYTER_TOKEN={TOKEN}", "--publish",
                             f"127.0.0.1:{self.port}:8888", *self.options, self.tag).stdout.strip()

    def stop(self) -> None:
        run("docker", "rm", "--force", self.container)


def time_to_jupyter(course: Ours | Reference) -> float:
    """Seconds from the start command to /api/status answering; the course is stopped after."""
    start = time.perf_counter()
    course.start()
    try:
        return time.perf_counter() - start + seconds_to_answer(f"http://127.0.0.1:{course.port}", TOKEN)
    finally:
        course.stop()


def cold_builds(project: Path, ours_tag: str, reference: Path, reference_tag: str, runs: int) -> dict:
    """Both images built from empty build caches, alternately."""
    ours, other = [], []
    for _ in range(runs):
        clear_build_caches()
        ours.append(build(project, ours_tag))
        clear_build_caches()
        other.append(build(reference, reference_tag))
    results = {"ours": summary(ours), "reference": summary(other)}
    results["ratio"] = ratio(results["reference"], results["ours"])
    return results


def rebuilds(project: Path, tag: str, runs: int, cold_median: float) -> dict:
    """Our image rebuilt from the warm cache of the image just built: unchanged, with a notebook
    edited, with one package added (and make lock run)."""
    build(project, tag)
    results = {"rebuild, no change": summary([build(project, tag) for _ in range(runs)])}
    notebook = project / "course" / "00-check-environment.ipynb"
    edits = []
    for number in range(runs):
        notebook.write_text(notebook.read_text().replace("Check your course environment",
                                                         f"Check your course environment ({number})", 1))
        edits.append(build(project, tag))
    results["rebuild, notebook edited"] = summary(edits)
    added = []
    for package in NEW_PACKAGES[:runs]:
        with (project / "requirements.in").open("a") as requirements:
            requirements.write(f"# lesson {uuid.uuid4().hex}\n{package}\n")
        run("make", "lock", cwd=project)
        added.append(build(project, tag))
    results["rebuild, one package added"] = summary(added)
    results["rebuild, one package added"]["share of cold build"] = (
        results["rebuild, one package added"]["median"] / cold_median)
    return results


def sizes(base: str, ours_tag: str, reference_tag: str) -> dict:
    results = {"ours": image_size(ours_tag), "reference": image_size(reference_tag),
               "floor": floor_size(base, ours_tag)}
    results["ours / floor"] = results["ours"] / results["floor"]
    return results


def starts(project: Path, reference_tag: str, port: int, runs: int) -> dict:
    """Time to Jupyter of each image, `runs` starts each."""
    results = {"ours": summary([time_to_jupyter(Ours(project, port)) for _ in range(runs)]),
               "reference": summary([time_to_jupyter(Reference(reference_tag, port)) for _ in range(runs)])}
    results["ratio"] = ratio(results["reference"], results["ours"])
    return results


def show(results: dict) -> None:
    for name in ("rebuild, no change", "rebuild, notebook edited", "rebuild, one package added"):
        print(f"{name}: {results[name]['median']:.1f}s", flush=True)
    size = results["image size"]
    print(f"image size: ours {size['ours'] / 1e6:.0f} MB, reference {size['reference'] / 1e6:.0f} MB, "
          f"floor {size['floor'] / 1e6:.0f} MB", flush=True)
    start = results["time to jupyter"]
    print(f"time to Jupyter: ours {start['ours']['median']:.2f}s, reference {start['reference']['median']:.2f}s",
          flush=True)
    report("cold build, reference / ours", results["cold build"]["ratio"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, choices=range(1, len(NEW_PACKAGES) + 1),
                        help="cold builds of each image, and rebuilds (default 3)")
    parser.add_argument("--starts", type=int, default=10, help="starts for time to Jupyter (default 10)")
    parser.add_argument("--port", type=int, default=18999)
    args = parser.parse_args()
    base = base_image()
    with tempfile.TemporaryDirectory() as scratch:
        project = make_project(Path(scratch), {"project_slug": "bench-course", "packages": DATA_SCIENCE_PACKAGES,
                                               "jupyterhub": "no"})
        ours_tag, reference_tag = image_of(project), "bench-reference:latest"
        reference = Path(scratch, "reference")
        reference.mkdir()
        (reference / "Dockerfile").write_text(REFERENCE_DOCKERFILE.format(base=base))
        (reference / "requirements.txt").write_text((project / "requirements.txt").read_text())
        results: dict = {"cold build": cold_builds(project, ours_tag, reference, reference_tag, args.runs)}
        results |= rebuilds(project, ours_tag, args.runs, results["cold build"]["ours"]["median"])
        results["image size"] = sizes(base, ours_tag, reference_tag)
        results["time to jupyter"] = starts(project, reference_tag, args.port, args.starts)
        run("docker", "image", "rm", "--force", ours_tag, reference_tag, check=False)
    save("images", results)
    show(results)


# The report's section (bench/run.py writes docs/benchmarks.md from every module's).
def section(images: dict) -> Section:
    size = images["image size"]
    lines = ["## Images", "",
             "The data-science course (numpy, pandas, matplotlib, scipy, scikit-learn, seaborn) built from the "
             "generated Dockerfile, against a reference Dockerfile written the way the Jupyter Docker Stacks "
             "install pip requirements (one stage, `pip install --no-cache-dir -r requirements.txt` as the "
             "notebook user), on the same base image and the same pinned `requirements.txt`. Cold builds "
             "start with every build cache pruned.", "",
             "| measure | ours | reference | ratio |", "|---|---|---|---|",
             f"| cold build | {seconds(images['cold build']['ours'])} | "
             f"{seconds(images['cold build']['reference'])} | {images['cold build']['ratio']:.2f}x |",
             f"| image size | {size['ours'] / 1e6:.0f} MB | {size['reference'] / 1e6:.0f} MB | "
             f"{size['reference'] / size['ours']:.2f}x |",
             f"| time to Jupyter (`up` to `/api/status` answering) | "
             f"{seconds(images['time to jupyter']['ours'])} | {seconds(images['time to jupyter']['reference'])} | "
             f"{images['time to jupyter']['ratio']:.2f}x |",
             "", "This table's time to Jupyter was measured before the course stopped creating a network of its "
             "own at every first start; \"A student's first day\" below measures it again, before and after, "
             "side by side with the reference.",
             "", "| rebuild | time |", "|---|---|"]
    for name in ("rebuild, no change", "rebuild, notebook edited", "rebuild, one package added"):
        lines.append(f"| {name.split(', ', 1)[1]} | {seconds(images[name])} |")
    share = images["rebuild, one package added"]["share of cold build"]
    lines += ["", f"Image floor (base image + the virtual environment by `du`): {size['floor'] / 1e6:.0f} MB; "
              f"ours is {size['ours / floor']:.3f}x the floor.", ""]
    targets = [
        ("cold build, reference / ours", f"{images['cold build']['ratio']:.2f}x", "faster than the reference",
         met(images["cold build"]["ratio"], 1, larger_is_better=True)),
        ("rebuild after a notebook edit", f"{images['rebuild, notebook edited']['median']:.2f} s", "under 2 s",
         met(images["rebuild, notebook edited"]["median"], 2)),
        ("rebuild after adding a package", f"{share:.0%} of the cold build", "under 25%", met(share, 0.25)),
        ("rebuild with no change", f"{images['rebuild, no change']['median']:.2f} s", "under 2 s",
         met(images["rebuild, no change"]["median"], 2)),
        ("image size / floor", f"{size['ours / floor']:.3f}", "within 10%", met(size["ours / floor"], 1.10)),
        ("time to Jupyter, median", f"{images['time to jupyter']['ours']['median']:.2f} s", "under 2 s",
         met(images["time to jupyter"]["ours"]["median"], 2)),
    ]
    return lines, targets


if __name__ == "__main__":
    if not re.match(r"\d", run("docker", "version", "--format", "{{.Server.Version}}").stdout):
        raise SystemExit("the image benchmarks need a running Docker engine")
    main()
