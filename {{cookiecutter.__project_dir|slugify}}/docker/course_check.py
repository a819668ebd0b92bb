"""Checks of the course environment, for course/00-check-environment.ipynb and tests/.

The notebook calls check_python() and check_packages(); tests/test_image.py
uses the same functions, so the two never disagree about what "works" means.
"""

from __future__ import annotations

import importlib
import os
import sys
from importlib.metadata import packages_distributions, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# The image keeps a copy of requirements.in: the course's packages are always the current ones.
REQUIREMENTS = Path("/opt/course/requirements.in")


def course_python_version() -> str:
    return os.environ["COURSE_PYTHON_VERSION"]


def running_python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def course_packages() -> list[str]:
    """The packages requirements.in names (its -r line, Jupyter itself, aside)."""
    lines = (line.split("#")[0].strip() for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines())
    return [Requirement(line).name for line in lines if line and not line.startswith("-")]


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
