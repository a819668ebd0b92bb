"""The term's name (.semester, or SEMESTER=) becomes an image tag and nothing else, wherever it is read."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

INJECTED = "2027-spring; touch {marker}"
REFUSAL = "The term name must be letters, digits, . _ - (e.g. 2027-spring)"


@pytest.fixture
def course(bake_static, tmp_path):
    return bake_static({"image_registry": "registry.example.edu/teach"}), tmp_path / "injected"


def make(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", *args], cwd=project, capture_output=True, text=True, timeout=120)


def test_a_command_in_semester_is_not_part_of_make_pushs_commands(course):
    project, marker = course
    (project / ".semester").write_text(INJECTED.format(marker=marker) + "\n")
    try:
        shown = make(project, "-n", "push")
    finally:
        (project / ".semester").unlink()
    assert "touch" not in shown.stdout, shown.stdout


def test_make_push_refuses_a_term_name_that_is_not_a_tag_before_building(course):
    project, marker = course
    (project / ".semester").write_text(INJECTED.format(marker=marker) + "\n")
    try:
        pushed = make(project, "push")
    finally:
        (project / ".semester").unlink()
    assert pushed.returncode != 0
    assert pushed.stderr.splitlines()[0] == f"{REFUSAL}; check .semester or SEMESTER=."
    assert "docker" not in pushed.stdout  # nothing was built or pushed
    assert not marker.exists()


@pytest.mark.parametrize("term", ["2027-spring; touch {marker}", "`touch {marker}`", "-rf", "spring\nfall"],
                         ids=["semicolon", "backticks", "option", "two-lines"])
def test_make_freeze_refuses_a_term_name_that_is_not_a_tag(course, term):
    project, marker = course
    before = (project / "Dockerfile").read_text()
    frozen = make(project, "freeze", f"SEMESTER={term.format(marker=marker)}")
    assert frozen.returncode != 0
    assert REFUSAL in frozen.stderr
    assert not marker.exists()
    assert not (project / ".semester").exists()
    assert (project / "Dockerfile").read_text() == before


def publishing_step(project, tmp_path) -> tuple[subprocess.CompletedProcess, Path]:
    """The workflow's step that reads the term and writes the labels, run as the workflow runs it."""
    workflow = yaml.safe_load((project / ".github/workflows/image.yml").read_text())
    step = next(step["run"] for step in workflow["jobs"]["publish"]["steps"] if step.get("id") == "publishing")
    output = tmp_path / "output"
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output),
           "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "ada/course", "GITHUB_SHA": "0" * 40}
    env.pop("SEMESTER", None)
    return subprocess.run(["bash", "-e", "-c", step], cwd=project, capture_output=True, text=True, env=env), output


@pytest.mark.parametrize(("content", "tag"), [("2027-spring\n", "2027-spring"), ("", "")], ids=["named", "none"])
def test_the_workflow_reads_a_plain_term_name_as_its_tag(course, content, tag, tmp_path):
    project, _ = course
    if content:
        (project / ".semester").write_text(content)
    result, output = publishing_step(project, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    written = output.read_text().splitlines()
    assert written[-1] == f"tag={tag}"
    assert f"org.opencontainers.image.version={tag}" in written


def test_the_workflow_refuses_a_term_name_that_would_add_outputs(course, tmp_path):
    project, _ = course
    (project / ".semester").write_text("spring\nlatest=evil\n")
    result, output = publishing_step(project, tmp_path)
    assert result.returncode == 1
    assert f"::error file=.semester::{REFUSAL}" in result.stdout
    assert not output.exists()


# A registry that answers make freeze's question about the base image, as Docker Hub does.
DOCKER_WITH_A_DIGEST = """#!/bin/sh
if [ "$1 $2 $3" = "buildx imagetools inspect" ]; then
  printf 'Name:      %s\\nMediaType: application/vnd.oci.image.index.v1+json\\nDigest:    sha256:%s\\n' "$4" \\
    "1111111111111111111111111111111111111111111111111111111111111111"
fi
exit 0
"""


def test_make_freeze_names_the_terms_tag_for_the_hub_so_students_keep_one_environment(course, tmp_path):
    project, _ = course
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "docker").write_text(DOCKER_WITH_A_DIGEST)
    (shim / "docker").chmod(0o755)
    frozen = subprocess.run(["make", "freeze", "SEMESTER=2027-spring"], cwd=project, capture_output=True, text=True,
                            env={**os.environ, "PATH": f"{shim}:{os.environ['PATH']}"})
    assert frozen.returncode == 0, frozen.stderr
    image = yaml.safe_load((project / "deploy/z2jh/values.yaml").read_text())["singleuser"]["image"]
    assert (image["tag"], image["pullPolicy"]) == ("2027-spring", "IfNotPresent")
    assert "@sha256:" + "1" * 64 in (project / "Dockerfile").read_text()
    hub_config = (project / "deploy/jupyterhub/jupyterhub_config.py").read_text()
    course_image = re.search(r'^COURSE_IMAGE = "(.+)"$', hub_config, re.MULTILINE).group(1)
    assert course_image == "registry.example.edu/teach/" + project.name + ":2027-spring"
    assert "the hubs' settings in deploy/ now name" in frozen.stdout
