"""linux/arm64 (Apple silicon) on this amd64 machine, by emulation: what the default course costs to build and
start, and what its proof (tests/test_published_for_apple_silicon.py) costs in the suite.

Cold, as on a clean CI machine: the arm64 stand-in images are removed and the engine's build cache emptied first.
Then, in one run:
- the base: python:<version>-slim for both architectures in the engine's Docker Hub mirror (the arm64 one made
  from Debian's Python: debootstrap, then apt under emulation, its bytecode compiled natively);
- the default course built for linux/amd64 (native) and linux/arm64 (emulated), cache empty;
- each started with `docker run`, to Jupyter's /api/status answering, and its check notebook executed;
- the tests of that proof afterwards, as the suite runs them (stand-in made, build cache holding the layers above).

    uv run --group bench python -m bench.arm64
"""

from __future__ import annotations

import datetime
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import DEFAULT_PACKAGES, PYTHON_VERSION, ROOT, Section, base_image, make_project, run, save, timed
from tests.support.base_images import mirror_python_base
from tests.support.engine import docker_hub_mirror, free_port, wait_for_url
from tests.support.registry import Registry

ARCHES = ("amd64", "arm64")
TESTS = "tests/test_published_for_apple_silicon.py"
NOTEBOOK = "/opt/course/notebooks/00-check-environment.ipynb"


def empty_the_engine() -> None:
    standins = (f"jupyter-course-standin/python:{PYTHON_VERSION}-slim-arm64",
                "jupyter-course-standin/debian:trixie-arm64")
    run("docker", "image", "rm", "--force", *standins, check=False)
    run("docker", "builder", "prune", "--all", "--force")


def build(project: Path, arch: str) -> float:
    return timed(lambda: run("docker", "build", "--platform", f"linux/{arch}", "--tag", f"bench-arm64/course:{arch}",
                             str(project)))


def start(arch: str) -> tuple[float, float]:
    """`docker run` to /api/status answering, then the check notebook executed in that container."""
    port, token = free_port(), secrets.token_hex(8)
    started = time.perf_counter()
    container = run("docker", "run", "--detach", "--platform", f"linux/{arch}", "--publish", f"127.0.0.1:{port}:8888",
                    "--env", f"JUPYTER_TOKEN={token}", f"bench-arm64/course:{arch}").stdout.strip()
    try:
        wait_for_url(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=900)
        to_jupyter = time.perf_counter() - started
        execute = ["jupyter", "nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=900",
                   "--output-dir", "/tmp", NOTEBOOK]
        notebook = timed(lambda: run("docker", "exec", container, *execute))
    finally:
        run("docker", "rm", "--force", container, check=False)
    return to_jupyter, notebook


def the_tests() -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TESTS],
                            cwd=ROOT, capture_output=True, text=True)
    outcome = re.search(r"^=*\s*(\d+ (?:passed|failed).*?) in [\d.]+s", result.stdout, re.MULTILINE)
    return time.perf_counter() - started, outcome.group(1) if outcome else "unknown"


def main() -> None:
    mirror = docker_hub_mirror()
    if mirror is None:
        sys.exit("the engine has no Docker Hub mirror on 127.0.0.1: run .ci/docker-engine")
    empty_the_engine()
    with tempfile.TemporaryDirectory() as folder:
        hub = Registry(Path(folder), port=int(mirror.split(":")[1]))
        hub.start()
        try:
            base = timed(lambda: mirror_python_base(mirror, PYTHON_VERSION, amd64=base_image()))
            project = make_project(Path(folder), {"packages": DEFAULT_PACKAGES})
            builds = {arch: build(project, arch) for arch in ARCHES}
            starts = {arch: start(arch) for arch in ARCHES}
        finally:
            hub.stop()
            run("docker", "image", "rm", *(f"bench-arm64/course:{arch}" for arch in ARCHES), check=False)
    tests, outcome = the_tests()
    data = {"measured on": datetime.date.today().isoformat(), "course": DEFAULT_PACKAGES,
            "base for both, arm64 made cold": base,
            "cold build": builds, "time to jupyter": {arch: starts[arch][0] for arch in ARCHES},
            "check notebook": {arch: starts[arch][1] for arch in ARCHES},
            "the tests": tests, "outcome": outcome}
    save("arm64", data)
    for arch in ARCHES:
        print(f"linux/{arch}: cold build {builds[arch]:.0f} s, time to Jupyter {starts[arch][0]:.1f} s, "
              f"check notebook {starts[arch][1]:.1f} s", flush=True)
    print(f"base for both (arm64 stand-in made cold): {base:.0f} s; {TESTS}: {outcome} in {tests:.0f} s",
          flush=True)
    print(f"arm64 / amd64 cold build: {builds['arm64'] / builds['amd64']:.1f}x", flush=True)


# The report's section (bench/run.py writes docs/benchmarks.md from every module's).
def section(arm64: dict) -> Section:
    build, start, notebook = arm64["cold build"], arm64["time to jupyter"], arm64["check notebook"]
    lines = ["## Apple silicon (linux/arm64), by emulation", "",
             f"`bench/arm64.py`: the default course (`{arm64['course']}`) on this amd64 machine, its arm64 image "
             "built and run through QEMU's user-mode emulator as `tests/test_published_for_apple_silicon.py` does. "
             "Cold, as on a clean CI machine (arm64 stand-ins removed, build cache emptied), in one run on "
             f"{arm64['measured on']}.", "",
             "| | linux/amd64 (native) | linux/arm64 (emulated) |", "|---|---|---|",
             f"| build, cache empty | {build['amd64']:.0f} s | {build['arm64']:.0f} s |",
             f"| `docker run` to Jupyter answering | {start['amd64']:.1f} s | {start['arm64']:.1f} s |",
             f"| the check notebook executed | {notebook['amd64']:.1f} s | {notebook['arm64']:.1f} s |", "",
             "The base for both architectures, python:<version>-slim in the engine's Docker Hub mirror, the arm64 one "
             "made from Debian's Python (debootstrap, then apt under emulation, its bytecode compiled natively): "
             f"{arm64['base for both, arm64 made cold']:.0f} s. Then those tests as the suite runs them, with the "
             f"stand-in made and the build cache holding the layers above: {arm64['outcome']} in "
             f"{arm64['the tests'] / 60:.1f} min. A clean CI machine pays the stand-in and the empty cache too.", ""]
    return lines, []


if __name__ == "__main__":
    main()
