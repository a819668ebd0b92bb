"""Checks of the course environment, for course/00-check-environment.ipynb and tests/.

The notebook calls check_python(), check_packages() and check_resources(); tests/test_image.py
uses the same functions, so the two never disagree about what "works" means.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from importlib.metadata import packages_distributions, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# The image keeps a copy of requirements.in: the course's packages are always the current ones.
REQUIREMENTS = Path("/opt/course/requirements.in")
# What a student's computer must give the course (the Dockerfile sets them).
GB = 1024**3


def course_python_version() -> str:
    return os.environ["COURSE_PYTHON_VERSION"]


def running_python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def requirement_names(path: Path) -> list[str]:
    """The packages a requirements file names (not the files its -r lines include)."""
    lines = (line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [Requirement(line).name for line in lines if line and not line.startswith("-")]


def course_packages() -> list[str]:
    """The packages requirements.in names (its -r line, Jupyter itself, aside)."""
    return requirement_names(REQUIREMENTS)


def uses(package: str) -> bool:
    """Whether the course installs this package."""
    return canonicalize_name(package) in {canonicalize_name(name) for name in course_packages()}


def module_of(package: str) -> str:
    """The module a package is imported as (scikit-learn -> sklearn), from its metadata."""
    wanted = canonicalize_name(package)
    modules = sorted(
        module
        for module, distributions in packages_distributions().items()
        if wanted in (canonicalize_name(d) for d in distributions) and not module.startswith("_")
    )
    same_name = package.replace("-", "_").lower()
    return same_name if same_name in modules else (modules[0] if modules else same_name)


def check_python() -> None:
    """Print the Python version; fail if it is not the course's."""
    expected = course_python_version()
    print("Python", sys.version.split()[0])
    if running_python_version() != expected:
        raise AssertionError(f"this course uses Python {expected}: ask your instructor which image to use")
    print(f"This is the course's Python ({expected}).")


def check_packages() -> None:
    """Import every course package and print its version; fail naming those that do not import."""
    failed = []
    for package in course_packages():
        module = module_of(package)
        try:
            importlib.import_module(module)
        except Exception as error:  # any import failure is what the student should report
            failed.append(f"{package}: {error!r}")
            continue
        print(f"{package:<20} {version(package):<12} imports as {module}")
    if failed:
        raise AssertionError("these packages do not import:\n" + "\n".join(failed))
    print("Every course package works.")


def memory_bytes() -> int:
    """The memory the course may use: its container's limit, else the machine's (Docker Desktop's share)."""
    with open("/proc/meminfo") as meminfo:
        total = next(int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemTotal:"))
    # cgroup v2 (Docker Desktop, current Linux), else v1; "max" or a huge number means no limit.
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = Path(limit_file).read_text().strip()
        except OSError:
            continue
        return min(int(limit), total) if limit.isdigit() else total
    return total


def check_resources() -> None:
    """Print the memory and free disk space the course has; say what to do when they are below its needs."""
    memory_needed = float(os.environ.get("COURSE_MEMORY_GB", "2"))
    disk_needed = float(os.environ.get("COURSE_DISK_GB", "1"))
    memory = memory_bytes() / GB
    work = Path.home() / "work"
    free = shutil.disk_usage(work if work.is_dir() else Path.home()).free / GB
    print(f"Memory for the course:     {memory:.1f} GB (it needs {memory_needed:g} GB)")
    print(f"Free space for your work:  {free:.1f} GB (it needs {disk_needed:g} GB)")
    problems = []
    if memory < memory_needed:
        problems.append(
            "Too little memory: a notebook working on a large file may stop with "
            "\"The kernel appears to have died\". On a Mac, open Docker Desktop's Settings > Resources > "
            f"Advanced, set Memory limit to {memory_needed:g} GB or more, then click Apply & restart. "
            "On Windows, Windows sets Docker's memory: the course's README says how to raise it "
            "(Troubleshooting, \"Windows: more memory for Docker\")."
        )
    if free < disk_needed:
        problems.append(
            "Too little free disk space: saving your work may fail. Delete files you no longer need, and "
            "images no course uses (docker image prune, in a terminal)."
        )
    print("\n".join(problems) if problems else "Enough memory and disk space for the course.")
