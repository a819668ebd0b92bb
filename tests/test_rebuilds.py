"""What an instructor's edits cost: BuildKit's own report of which steps ran again."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid

import pytest

from tests.support.answers import DEFAULT_ANSWERS, bake_with
from tests.support.course import Course
from tests.support.matrices import image_of

pytestmark = pytest.mark.docker

STEP = re.compile(r"^#(\d+) \[[^\]]*?(\d+)/\d+\] (.+)$", re.MULTILINE)
CACHED = re.compile(r"^#(\d+) CACHED$", re.MULTILINE)


def build(course: Course, *options: str, with_output: bool = False):
    """Build with compose and return {step: was it cached} for the Dockerfile's steps (and the output)."""
    result = course.compose("--progress=plain", "build", *options, check=False, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    cached = set(CACHED.findall(output))
    steps = {}
    for number, _, text in STEP.findall(output):
        if not text.startswith("FROM "):  # the base image is looked up, never rebuilt
            steps[text.strip()] = number in cached
    assert steps, output
    return (steps, output) if with_output else steps


def step(steps: dict[str, bool], *fragments: str) -> bool:
    """Whether the one step whose text contains every fragment was cached."""
    matches = [cached for text, cached in steps.items() if all(fragment in text for fragment in fragments)]
    assert len(matches) == 1, (fragments, list(steps))
    return matches[0]


def imports(course: Course, module: str) -> bool:
    result = subprocess.run(["docker", "run", "--rm", image_of(course.path), "python", "-c", f"import {module}"],
                            capture_output=True, text=True)
    return result.returncode == 0


def mark_new(course: Course) -> None:
    """A unique comment makes requirements.txt new to the engine's build cache, which outlives
    test runs on the same machine: the course-packages step really runs."""
    with (course.path / "requirements.txt").open("a") as pinned:
        pinned.write(f"# locked for test {uuid.uuid4().hex}\n")


def lock(course: Course) -> None:
    subprocess.run(["make", "lock"], cwd=course.path, check=True, capture_output=True, timeout=300)
    mark_new(course)


@pytest.fixture(scope="module")
def course(cookies_session, python_base):
    python_base(DEFAULT_ANSWERS["python_version"])
    project = bake_with(cookies_session, {"project_slug": "rebuild-course", "packages": "six"})
    course = Course(project)
    # Brings the build cache's environment back to this course's packages.
    mark_new(course)
    build(course)
    yield course
    course.down()
    subprocess.run(["docker", "image", "rm", "--force", image_of(project)], capture_output=True)


def test_no_change_rebuilds_nothing(course):
    steps = build(course)
    assert all(steps.values()), steps


def test_editing_a_notebook_rebuilds_only_the_images_copy_of_the_notebooks(course):
    notebook = course.path / "course" / "00-check-environment.ipynb"
    content = json.loads(notebook.read_text())
    content["cells"][0]["source"] = "# Edited by the instructor\n"
    notebook.write_text(json.dumps(content))
    (course.path / "course" / "01-new-lesson.ipynb").write_text(json.dumps(content))
    steps = build(course)
    # The image's last two layers carry the notebooks (for Binder and a hub); nothing else is rebuilt.
    rebuilt = [text for text, cached in steps.items() if not cached]
    assert len(rebuilt) == 2, steps
    assert all("/opt/course/notebooks" in text for text in rebuilt), steps


def test_adding_a_package_installs_only_that_package(course):
    with (course.path / "requirements.in").open("a") as requirements:
        requirements.write("wheel\n")
    lock(course)
    assert "\nwheel==" in (course.path / "requirements.txt").read_text()
    steps, output = build(course, with_output=True)
    # System packages, the user, uv and Jupyter itself come from the cache...
    assert step(steps, "RUN apt-get update")
    assert step(steps, "RUN useradd")
    assert step(steps, "RUN python3 -m pip install")
    assert step(steps, "COPY --from=locks /locks/jupyter.txt")
    assert step(steps, "pip sync", "jupyter-requirements.txt")
    assert step(steps, "compileall -qq -j 0 /opt/venv")
    # ...only the course's packages are installed again, and of those only the new one.
    assert not step(steps, "COPY --from=locks /locks/requirements.txt")
    assert not step(steps, "install-course-packages.sh", "/var/cache/course-venv")
    assert re.findall(r"^#\d+ [\d.]+\s+\+ (\S+)==", output, re.MULTILINE) == ["wheel"], output
    assert imports(course, "wheel")


def test_removing_a_package_takes_it_out_of_the_image(course):
    requirements = course.path / "requirements.in"
    before = requirements.read_text()
    requirements.write_text(before + "tabulate\n")
    lock(course)
    build(course)
    assert imports(course, "tabulate")
    # The build cache still holds an environment with tabulate: the image must not.
    requirements.write_text(before)
    lock(course)
    _, output = build(course, with_output=True)
    assert re.search(r"^#\d+ [\d.]+\s+- tabulate==", output, re.MULTILINE), output
    assert not imports(course, "tabulate")


def test_work_survives_a_full_rebuild(course):
    course.up()
    response = course.api("PUT", "/api/contents/essay.md", json={"type": "file", "format": "text",
                                                                  "content": "my essay"})
    assert response.status_code in (200, 201), response.text
    course.compose("down")
    build(course, "--no-cache")
    course.up()
    assert course.api("GET", "/api/contents/essay.md").json()["content"] == "my essay"
    course.down()


def test_a_pin_that_cannot_install_fails_the_build_naming_the_package(course, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(course.path, broken)
    (broken / "requirements.txt").write_text("six==99.0.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    result = Course(broken, project="broken-course").compose("--progress=plain", "build", check=False,
                                                              timeout=900)
    assert result.returncode != 0
    assert re.search(r"six==99\.0\.0", result.stdout + result.stderr)


def test_an_image_that_lost_a_pinned_package_fails_its_last_check_and_is_not_mended(course, tmp_path):
    # A later step that deletes a package (a clean-up gone too far): the check must fail, not reinstall it.
    broken = tmp_path / "pruned"
    shutil.copytree(course.path, broken)
    dockerfile = broken / "Dockerfile"
    installed = "COPY --from=course-compiled /opt/venv /opt/venv\n"
    text = dockerfile.read_text()
    assert text.count(installed) == 1, text
    dockerfile.write_text(text.replace(installed, installed + "RUN rm -r /opt/venv/lib/python3*/site-packages/six*\n"))
    result = Course(broken, project="pruned-course").compose("--progress=plain", "build", check=False,
                                                              timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "ERROR: /opt/venv does not hold exactly what /opt/course/requirements.txt pins" in output
    assert re.search(r"^#\d+ [\d.]+\s+\+ six==", output, re.MULTILINE), output
