"""Shared helpers for the benchmarks: timing, statistics, generated projects, results."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.answers import DEFAULT_ANSWERS, bake
from tests.support.base_images import ensure_python_base

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "benchmarks.json"
# The course's default Python: what an instructor gets by pressing Enter.
PYTHON_VERSION = DEFAULT_ANSWERS["python_version"]

DEFAULT_PACKAGES = "numpy pandas matplotlib"
DATA_SCIENCE_PACKAGES = "numpy pandas matplotlib scipy scikit-learn seaborn"
# A full semester's list: 25 packages a data-science course typically uses.
COURSE_25_PACKAGES = (
    "numpy pandas matplotlib scipy scikit-learn seaborn statsmodels sympy networkx requests "
    "beautifulsoup4 lxml openpyxl pyarrow plotly altair bokeh ipywidgets tqdm pillow "
    "scikit-image nltk xlrd tabulate pytest"
)
PACKAGE_SETS = {"default (3)": DEFAULT_PACKAGES, "data science (6)": DATA_SCIENCE_PACKAGES,
                "course list (25)": COURSE_25_PACKAGES}


def run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("check", True)
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(command, **kwargs)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def summary(samples: list[float]) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples),
            "samples": samples}


def ratio(reference: dict, ours: dict) -> float:
    return reference["median"] / ours["median"]


def make_project(directory: Path, answers: dict, pin: bool = True) -> Path:
    env = {} if pin else {"JUPYTER_COURSE_SKIP_LOCK": "1"}
    return bake(directory, {"python_version": PYTHON_VERSION, **answers}, env)


def base_image() -> str:
    return ensure_python_base(PYTHON_VERSION)


def versions() -> dict:
    def version_of(*command: str) -> str:
        try:
            return run(*command).stdout.strip().splitlines()[0]
        except (OSError, subprocess.CalledProcessError):
            return "not installed"
    return {
        "docker engine": run("docker", "version", "--format", "{{.Server.Version}}", check=False).stdout.strip(),
        "uv": version_of(sys.executable, "-m", "uv", "--version").split()[1],
        "pip-tools": version_of(str(Path(sys.executable).parent / "pip-compile"), "--version").split()[-1],
        "python (host)": platform.python_version(),
        "base image": f"python:{PYTHON_VERSION}-slim",
    }


def machine() -> dict:
    memory_kib = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")).split()[1])
    return {"cpus": os.cpu_count(), "memory": f"{memory_kib / 1024 / 1024:.0f} GiB",
            "kernel": platform.release(), "arch": platform.machine()}


def save(section: str, data: dict) -> None:
    """One benchmark's results, with the script, date, machine and versions of the run that made them."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[section] = {**data, "run": {"script": f"bench/{Path(sys.argv[0]).name}",
                                        "date": datetime.date.today().isoformat(),
                                        "machine": machine(), "versions": versions()}}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def report(name: str, value: float, target: str | None = None) -> None:
    """Each benchmark prints its ratio last."""
    print(f"{name}: {value:.2f}x" + (f" (target {target})" if target else ""), flush=True)


# A section is its lines and its rows of the targets table: (measure, result, target, verdict).
Section = tuple[list[str], list[tuple[str, str, str, str]]]


def seconds(stats: dict) -> str:
    return f"{stats['median']:.2f} s ({stats['min']:.2f}–{stats['max']:.2f}, n={stats['n']})"


def met(value: float, limit: float, larger_is_better: bool = False) -> str:
    return "met" if (value >= limit if larger_is_better else value < limit) else "**missed**"
