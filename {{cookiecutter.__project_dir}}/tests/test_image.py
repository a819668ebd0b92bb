"""Checks the course image from inside it: `make test` runs this file in the container."""

import importlib
import os
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REQUIREMENTS = Path("/opt/course/requirements.in")
NOTEBOOKS = Path.home() / "work" / "course"


def course_packages() -> list[str]:
    lines = (line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines())
    # "-r requirements-jupyter.in" includes Jupyter itself, which the notebooks test.
    return [Requirement(line).name for line in lines if line and not line.startswith("-")]


def module_of(package: str) -> str:
    """The module a distribution is imported as (scikit-learn -> sklearn), from its metadata."""
    wanted = canonicalize_name(package)
    modules = sorted(
        module
        for module, distributions in packages_distributions().items()
        if wanted in (canonicalize_name(d) for d in distributions) and not module.startswith("_")
    )
    same_name = package.replace("-", "_").lower()
    return same_name if same_name in modules else (modules[0] if modules else same_name)


def test_python_is_the_course_version():
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == os.environ["COURSE_PYTHON_VERSION"]


@pytest.mark.parametrize("package", course_packages())
def test_package_imports(package):
    importlib.import_module(module_of(package))


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.name)
def test_notebook_runs_without_error(notebook):
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
