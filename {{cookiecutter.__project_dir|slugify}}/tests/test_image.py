"""Checks the course image from inside it: `make test` runs this file in the container."""

import importlib
import shutil
from pathlib import Path

import nbformat
import pytest
from course_check import course_packages, course_python_version, module_of, running_python_version
from nbclient import NotebookClient

NOTEBOOKS = Path.home() / "work" / "course"


def test_python_is_the_course_version():
    assert running_python_version() == course_python_version()


@pytest.mark.parametrize("package", course_packages())
def test_package_imports(package):
    importlib.import_module(module_of(package))


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.name)
def test_notebook_runs_without_error(notebook, tmp_path):
    # In a copy of course/, as a student runs it from their work folder: course/ is
    # read-only, and a notebook may write files (an assignment's export does).
    folder = shutil.copytree(notebook.parent, tmp_path / "work")
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
