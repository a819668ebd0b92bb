"""A classroom without internet: the instructor's `make bundle`, then a student's machine that loads it."""

from __future__ import annotations

import datetime
import json
import platform
import re
import shutil
import subprocess

import pytest

from tests.support.course import Course
from tests.support.engine import docker, engine
from tests.support.matrices import image_of

pytestmark = pytest.mark.docker

# BuildKit and the classic builder print these for a build step; compose prints "Pulling".
BUILD_OR_PULL = re.compile(r"^#\d+ \[|Building|=> \[|Pulling", re.MULTILINE)


# Docker's name for this machine's architecture, as the bundle's file name carries it.
ENGINE_ARCHITECTURE = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


@pytest.fixture(scope="module")
def bundle(built_course):
    """`make bundle` in the default course: the archive, its checksum file and what make printed."""
    project = built_course("default")
    made = subprocess.run(["make", "bundle"], cwd=project, capture_output=True, text=True, timeout=1800)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    archive = project / f"{project.name}-image-{ENGINE_ARCHITECTURE}.tar.gz"
    yield archive, archive.with_name(archive.name + ".sha256"), made.stdout
    archive.unlink(missing_ok=True)
    archive.with_name(archive.name + ".sha256").unlink(missing_ok=True)


def test_the_bundle_says_its_architecture_and_how_to_bundle_the_other(bundle, built_course):
    _, _, output = bundle
    other = "arm64" if ENGINE_ARCHITECTURE == "amd64" else "amd64"
    assert (f"Bundling {image_of(built_course('default')).removesuffix(':latest')} for linux/{ENGINE_ARCHITECTURE}; "
            f"for the other laptops: make bundle PLATFORM=linux/{other}") in output.splitlines()


def test_the_bundle_is_compressed_and_says_its_size(bundle, built_course):
    archive, checksum, output = bundle
    image = engine().images.get(image_of(built_course("default")))
    assert archive.stat().st_size < image.attrs["Size"]
    assert re.search(rf"{archive.name}: [\d.,]+[KMG]", output), output
    assert checksum.read_text().split() == [subprocess.run(["sha256sum", str(archive)], capture_output=True,
                                                           text=True, check=True).stdout.split()[0], archive.name]


def test_the_bundled_image_says_where_it_comes_from(bundle, built_course):
    project = built_course("default")
    labels = engine().images.get(image_of(project)).labels
    assert labels["org.opencontainers.image.source"] == json.loads(
        (project / ".cookiecutter.json").read_text())["repository_url"]
    created = datetime.datetime.fromisoformat(labels["org.opencontainers.image.created"].replace("Z", "+00:00"))
    assert abs(datetime.datetime.now(datetime.timezone.utc) - created) < datetime.timedelta(hours=1)


def test_a_student_without_internet_loads_the_bundle_and_starts_the_course(bundle, built_course, tmp_path):
    archive, checksum, _ = bundle
    project = built_course("default")
    image = image_of(project)
    image_id = engine().images.get(image).id
    # The student's copy of the course and of the two files, on an engine without the image.
    student = tmp_path / "student"
    shutil.copytree(project, student, ignore=shutil.ignore_patterns("*-image-*.tar.gz*"))
    shutil.copy(archive, student)
    shutil.copy(checksum, student)
    docker("image", "rm", image)
    readme = (student / "README.md").read_text()
    commands = re.search(r"^### Without internet.*?```sh\n(.*?)```", readme, re.MULTILINE | re.DOTALL).group(1)
    steps = [line.split("#")[0].strip() for line in commands.splitlines()]
    assert steps == [f"sha256sum -c {checksum.name}", f"docker load -i {archive.name}", "docker compose up"]
    checked = subprocess.run(["sha256sum", "-c", checksum.name], cwd=student, capture_output=True, text=True)
    assert checked.stdout.strip() == f"{archive.name}: OK", checked.stdout + checked.stderr
    loaded = subprocess.run(["docker", "load", "-i", archive.name], cwd=student, capture_output=True, text=True,
                            timeout=900)
    assert loaded.returncode == 0, loaded.stderr
    course = Course(student, project="offline-classroom")
    try:
        up = course.compose("up", "--detach")
        # Nothing pulled (the registry is out of reach here) and nothing built.
        assert not BUILD_OR_PULL.search(up.stdout + up.stderr), up.stdout + up.stderr
        course.wait_answering()
        assert course.container().image.id == image_id
        smoke = course.exec("jupyter", "nbconvert", "--to", "notebook", "--execute", "--output-dir", "/tmp",
                            "/home/student/work/course/00-check-environment.ipynb", check=False)
        assert smoke.returncode == 0, smoke.stderr
    finally:
        course.down()
