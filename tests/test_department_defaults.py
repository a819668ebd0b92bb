"""A department's defaults: a cookiecutter config file with default_context, and replaying earlier answers."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.support.answers import SKIP_LOCK, TEMPLATE, bake

DEPARTMENT = {
    "instructor_email": "teaching@cs.example.edu",
    "image_registry": "registry.cs.example.edu:5000/courses",
    "python_version": "3.12",
    "packages": "numpy scipy sympy",
}


def department_config(tmp_path: Path) -> Path:
    """The file a department hands its instructors (README.md shows it)."""
    config = tmp_path / "department.yaml"
    config.write_text(yaml.safe_dump({
        "default_context": DEPARTMENT,
        "cookiecutters_dir": str(tmp_path / "cookiecutters"),
        "replay_dir": str(tmp_path / "replay"),
    }))
    return config


def assert_department_answers_landed(project: Path) -> None:
    slug = project.name
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    assert compose["services"]["jupyter"]["image"] == f"{DEPARTMENT['image_registry']}/{slug}:latest"
    assert "ARG BASE_IMAGE=python:3.12-slim\n" in (project / "Dockerfile").read_text()
    assert (project / "requirements.in").read_text().splitlines()[-3:] == ["numpy", "scipy", "sympy"]
    assert DEPARTMENT["instructor_email"] in (project / "README.md").read_text()
    recorded = json.loads((project / ".cookiecutter.json").read_text())
    assert {key: recorded[key] for key in DEPARTMENT} == DEPARTMENT


def test_a_department_config_file_sets_the_defaults_of_every_course(tmp_path):
    project = bake(tmp_path / "out", {"course_name": "Numerical Methods"}, SKIP_LOCK,
                   config_file=str(department_config(tmp_path)))
    assert project.name == "numerical-methods"
    assert_department_answers_landed(project)


def test_replaying_last_years_answers_makes_the_same_course(tmp_path):
    config = department_config(tmp_path)
    first = bake(tmp_path / "2026", {"course_name": "Numerical Methods"}, SKIP_LOCK, config_file=str(config))
    replayed = bake(tmp_path / "2027", env=SKIP_LOCK, replay=True, config_file=str(config))
    assert replayed.name == first.name
    assert_department_answers_landed(replayed)
    assert (replayed / ".cookiecutter.json").read_text() == (first / ".cookiecutter.json").read_text()


def test_replaying_answers_saved_before_the_template_had_its_extension_makes_the_same_course(tmp_path):
    # Last year's replay file, written by a template whose cookiecutter.json had no _extensions.
    config = department_config(tmp_path)
    first = bake(tmp_path / "2026", {"course_name": "Numerical Methods"}, SKIP_LOCK, config_file=str(config))
    replay = json.loads((tmp_path / "replay" / f"{TEMPLATE.name}.json").read_text())
    del replay["cookiecutter"]["_extensions"]
    (tmp_path / "last-year.json").write_text(json.dumps(replay))
    replayed = bake(tmp_path / "2027", env=SKIP_LOCK, replay=str(tmp_path / "last-year.json"),
                    config_file=str(config))
    assert_department_answers_landed(replayed)
    assert (replayed / ".cookiecutter.json").read_text() == (first / ".cookiecutter.json").read_text()


def test_a_department_config_may_write_the_hub_version_as_a_yaml_number(tmp_path):
    config = tmp_path / "department.yaml"
    config.write_text("default_context:\n  _jupyterhub_version: 6\n")
    project = bake(tmp_path / "out", env=SKIP_LOCK, config_file=str(config))
    assert "jupyterhub>=6,<7" in (project / "requirements-jupyter.in").read_text().splitlines()
