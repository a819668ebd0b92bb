"""The instructor publishes one image; students pull it instead of building, and follow updates.

A local registry (the CNCF distribution registry, Debian's `docker-registry`)
stands in for ghcr.io or Docker Hub: the course is generated with it as its
image_registry, published with `make push` and with the CI workflow's own
build command, then used from fresh clones the way the student README says.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
import yaml
from playwright.sync_api import expect, sync_playwright

from tests.support.answers import DEFAULT_ANSWERS, bake_with
from tests.support.browser import CHROMIUM_FLAGS, NOTEBOOK_PATH, SMOKE_NOTEBOOK, chromium_path, wait_for_idle_kernel
from tests.support.course import Course
from tests.support.engine import docker, engine, free_port, remove_local_images
from tests.support.git import git
from tests.support.registry import THIS_ARCH
from tests.support.terminal import LINK, Terminal

pytestmark = [pytest.mark.docker, pytest.mark.network]

# make push for this computer's architecture only: publishing both (the other
# one by emulation) is proven once, in tests/test_published_for_apple_silicon.py.
MAKE_PUSH_HERE = ("make", "push", f"PLATFORMS=linux/{THIS_ARCH}")

# BuildKit and the classic builder both print these for a build step.
BUILD_OUTPUT = re.compile(r"^#\d+ \[|Building|=> \[", re.MULTILINE)


def run(*command: str, cwd: Path, timeout: float = 1800, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def instructor(registry, cookies_session, python_base):
    """The instructor's course repository, generated for the local registry and committed."""
    python_base(DEFAULT_ANSWERS["python_version"])
    project = bake_with(cookies_session, {"project_slug": "published-course", "packages": "six",
                                          "image_registry": f"localhost:{registry.port}/teach"})
    assert git("init", "--quiet", "--initial-branch=main", cwd=project, check=False).returncode == 0
    git("add", "--all", cwd=project)
    assert git("commit", "--quiet", "-m", "Course", cwd=project, check=False).returncode == 0
    image = f"localhost:{registry.port}/teach/published-course"
    yield project, image
    remove_local_images(image)


@pytest.fixture(scope="module")
def published(instructor, registry):
    """`make push`, then the CI workflow's build for this machine's architecture."""
    project, image = instructor
    PUSHED["make push"] = run(*MAKE_PUSH_HERE, cwd=project).stdout
    PUSHED["labels"] = registry.labels(image.split("/", 1)[1], "latest")
    run(*workflow_publish_command(project, image), cwd=project)
    return project, image


# What `make push` printed, for the test of its words.
PUSHED: dict[str, str] = {}


def test_make_push_says_which_architectures_it_publishes(published):
    _, image = published
    assert (f"Publishing {image} for linux/{THIS_ARCH}: this computer is linux/{THIS_ARCH}; another architecture is "
            "built by emulation, which is slower.") in PUSHED["make push"].splitlines()


def workflow_outputs(project: Path) -> dict[str, str]:
    """The outputs of the workflow's publishing step (labels, the term's tag), run as the workflow runs it."""
    workflow = yaml.safe_load((project / ".github/workflows/image.yml").read_text())
    step = next(step["run"] for step in workflow["jobs"]["publish"]["steps"] if step.get("id") == "publishing")
    output = project.parent / "workflow-outputs"
    output.unlink(missing_ok=True)
    run("bash", "-e", "-c", step, cwd=project, env={
        **os.environ, "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output), "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "cs-department/course", "GITHUB_SHA": "workflow-test"})
    # key=value lines, or key<<DELIMITER, the lines, DELIMITER (GitHub's format for a value of several lines).
    outputs, lines = {}, iter(output.read_text().splitlines())
    for line in lines:
        if "<<" in line:
            key, delimiter = line.split("<<", 1)
            outputs[key] = "\n".join(iter(lines.__next__, delimiter))
        else:
            key, value = line.split("=", 1)
            outputs[key] = value
    return outputs


def workflow_publish_command(project: Path, image: str) -> list[str]:
    """The workflow's build-push step as a buildx command, for this machine's architecture only."""
    workflow = yaml.safe_load((project / ".github/workflows/image.yml").read_text())
    step = next(step for step in workflow["jobs"]["publish"]["steps"] if "build-push-action" in step.get("uses", ""))
    assert f"linux/{THIS_ARCH}" in step["with"]["platforms"].split(",")
    outputs = workflow_outputs(project)
    tags = []
    for line in filter(None, map(str.strip, step["with"]["tags"].splitlines())):
        if "steps.publishing.outputs.tag" in line:  # the term's tag, when make freeze named one
            tags += [f"{image}:{outputs['tag']}"] if outputs["tag"] else []
        else:
            tags.append(line.replace("${{ env.IMAGE }}", image).replace("${{ github.sha }}", "workflow-test"))
    assert step["with"]["labels"] == "${{ steps.publishing.outputs.labels }}"
    return ["docker", "buildx", "build", "--platform", f"linux/{THIS_ARCH}", *(f"--tag={tag}" for tag in tags),
            *(f"--label={label}" for label in outputs["labels"].splitlines()), "--push", step["with"]["context"]]


@pytest.fixture
def student(published, tmp_path):
    """A student's fresh clone on a machine that has never seen the course image."""
    project, image = published
    clone = tmp_path / "student"
    assert git("clone", "--quiet", str(project), str(clone), cwd=tmp_path, check=False).returncode == 0
    remove_local_images(image)
    course = Course(clone, project="published-course-student")
    yield course
    course.down()


def test_make_push_labels_the_image_with_where_it_comes_from(published):
    project, _ = published
    labels = PUSHED["labels"]
    answers = json.loads((project / ".cookiecutter.json").read_text())
    assert labels["org.opencontainers.image.source"] == answers["repository_url"]
    assert labels["org.opencontainers.image.revision"] == git("rev-parse", "HEAD", cwd=project).stdout.strip()
    created = datetime.datetime.fromisoformat(labels["org.opencontainers.image.created"].replace("Z", "+00:00"))
    assert abs(datetime.datetime.now(datetime.timezone.utc) - created) < datetime.timedelta(hours=1)
    assert labels["org.opencontainers.image.version"] == ""  # no make freeze yet
    base = engine().images.get(f"python:{DEFAULT_ANSWERS['python_version']}-slim").attrs["RepoDigests"]
    assert labels["org.opencontainers.image.base.digest"] == (base[0].split("@")[1] if base else "")


def test_the_workflows_labels_reach_the_published_image(published, registry):
    _, image = published
    labels = registry.labels(image.split("/", 1)[1], "workflow-test")
    assert labels["org.opencontainers.image.source"] == "https://github.com/cs-department/course"
    assert labels["org.opencontainers.image.revision"] == "workflow-test"
    created = datetime.datetime.fromisoformat(labels["org.opencontainers.image.created"].replace("Z", "+00:00"))
    assert abs(datetime.datetime.now(datetime.timezone.utc) - created) < datetime.timedelta(hours=1)
    # The term and the base image's digest, read the same way as make push reads them.
    for same in ("version", "base.digest"):
        assert labels[f"org.opencontainers.image.{same}"] == PUSHED["labels"][f"org.opencontainers.image.{same}"]


def test_the_workflow_publishes_latest_and_the_commit_tag(published, registry):
    _, image = published
    repository = image.split("/", 1)[1]
    assert registry.digest(repository, "latest") == registry.digest(repository, "workflow-test")


def test_a_students_fresh_clone_pulls_the_published_image_without_building(student, published, registry):
    _, image = published
    up = student.compose("up", "--detach")
    assert not BUILD_OUTPUT.search(up.stdout + up.stderr), up.stdout + up.stderr
    student.wait_healthy()
    repo_digests = engine().images.get(f"{image}:latest").attrs["RepoDigests"]
    assert f"{image}@{registry.digest(image.split('/', 1)[1], 'latest')}" in repo_digests
    assert student.api("GET", "/api/status").status_code == 200


def test_with_the_registry_unreachable_compose_up_stops_with_its_answer_and_builds_nothing(student, registry):
    registry.stop()
    try:
        up = student.compose("up", "--detach", check=False, timeout=300)
    finally:
        registry.start()
    output = up.stdout + up.stderr
    assert up.returncode != 0
    assert re.search(rf"127\.0\.0\.1:{registry.port}.*connection refused", output), output
    assert not BUILD_OUTPUT.search(output), output


def readme_commands(readme: str, section: str) -> list[str]:
    """The commands of a README section's first shell block, comments left out."""
    body = readme.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", body, re.DOTALL).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_a_mid_semester_update_reaches_the_student_and_leaves_their_work_alone(published, registry, student):
    project, image = published
    # The student has been working: a notebook of their own in work/.
    student.up()
    student.save_notebook("my-notes.ipynb", "my notes from week 3")
    notes = student.path / "work" / "my-notes.ipynb"
    notes_before, owner_before = notes.read_bytes(), (notes.stat().st_uid, notes.stat().st_gid)
    # The instructor adds a package and a lesson, re-locks, publishes and commits.
    with (project / "requirements.in").open("a") as requirements:
        requirements.write("tabulate\n")
    run("make", "lock", cwd=project)
    lesson = json.loads((project / "course/00-check-environment.ipynb").read_text())
    lesson["cells"] = [{"cell_type": "markdown", "metadata": {}, "source": "# Week 4"}]
    (project / "course/01-week-4.ipynb").write_text(json.dumps(lesson))
    run(*MAKE_PUSH_HERE, cwd=project)
    git("add", "--all", cwd=project)
    assert git("commit", "--quiet", "-m", "Week 4", cwd=project, check=False).returncode == 0
    # The student runs exactly what their README says, with the course in the background.
    commands = readme_commands((student.path / "README.md").read_text(), "5. Update")
    assert commands == ["git pull", "docker compose pull", "docker compose up"]
    pulled = git("pull", cwd=student.path, check=False)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert not re.search(r"conflict|would be overwritten", pulled.stdout + pulled.stderr, re.IGNORECASE)
    student.compose("pull")
    up = student.compose("up", "--detach")
    assert not BUILD_OUTPUT.search(up.stdout + up.stderr), up.stdout + up.stderr
    student.wait_healthy()
    assert student.exec("python", "-c", "import tabulate").returncode == 0
    assert student.api("GET", "/api/contents/course/01-week-4.ipynb").status_code == 200
    assert notes.read_bytes() == notes_before
    assert (notes.stat().st_uid, notes.stat().st_gid) == owner_before


# A student of their own: an ordinary uid, in the group that may use the engine, with a home of their own.
STUDENT_UID = 2345


@pytest.fixture
def student_account(instructor):
    """A home folder of the student's own, outside the suite's root-only folders, and the course's git server.

    The student's git fetches the course's address from a bare copy of the instructor's repository, which the
    instructor pushes to (the yielded function), as to GitHub.
    """
    project, _ = instructor
    shared = Path(tempfile.mkdtemp(prefix="student-", dir="/tmp"))
    shared.chmod(0o755)
    server = shared / "course.git"
    git("clone", "--quiet", "--bare", str(project), str(server), cwd=shared)
    home = shared / "home"
    home.mkdir()
    url = json.loads((project / ".cookiecutter.json").read_text())["repository_url"]
    (home / ".gitconfig").write_text(f'[url "{server}"]\n\tinsteadOf = {url}\n[safe]\n\tdirectory = *\n')
    subprocess.run(["chown", "-R", f"{STUDENT_UID}:{STUDENT_UID}", str(home)], check=True)
    docker_group = os.stat("/var/run/docker.sock").st_gid
    prefix = ["setpriv", f"--reuid={STUDENT_UID}", f"--regid={STUDENT_UID}", f"--groups={docker_group}", "--"]
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "LANG": "C.UTF-8", "JUPYTER_PORT": str(free_port())}

    def publish_commits() -> None:
        git("push", "--quiet", str(server), "main", cwd=project)

    yield home, prefix, env, publish_commits
    shutil.rmtree(shared)


def run_all_cells_in_the_browser(page, link: str) -> None:
    """Open the check notebook from the link, choose Run > Run All Cells, and wait for every cell."""
    base, token = link.split("/lab?token=")
    page.goto(link)
    expect(page.locator(".jp-LabShell").first).to_be_visible(timeout=60_000)
    page.goto(f"{base}{NOTEBOOK_PATH['lab']}?token={token}")
    expect(page.locator(".jp-CodeCell").first).to_be_visible(timeout=60_000)
    wait_for_idle_kernel(base, token, SMOKE_NOTEBOOK)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    cells = page.locator(".jp-CodeCell")
    for index in range(cells.count()):
        expect(cells.nth(index).locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]:"), timeout=120_000)


def test_a_student_follows_the_readme_from_clone_to_a_checked_environment_and_through_an_update(
        published, registry, student_account, tmp_path, request):
    project, image = published
    home, as_student, env, publish_commits = student_account
    remove_local_images(image)
    readme = (project / "README.md").read_text()

    def run_as_student(command: str, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run([*as_student, "sh", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=1800)

    def start(cwd: Path) -> tuple[subprocess.Popen, Terminal, str]:
        [command] = readme_commands(readme, "2. Start")
        # A session of its own, as a terminal window's: Ctrl+C reaches every process it started.
        up = subprocess.Popen([*as_student, "sh", "-c", command], cwd=cwd, env=env, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        terminal = Terminal(up)
        shown = terminal.lines_until(LINK, timeout=900)
        assert not BUILD_OUTPUT.search("\n".join(shown)), "\n".join(shown)
        return up, terminal, LINK.search(shown[-1]).group(0)

    def stop(up: subprocess.Popen, cwd: Path) -> None:
        # "Press Ctrl+C in the window where the course runs."
        os.killpg(up.pid, signal.SIGINT)
        up.wait(timeout=120)
        assert run_as_student("docker compose ps --quiet", cwd).stdout.strip() == ""

    # Before you start: the check of what is installed.
    for command in readme_commands(readme, "Before you start (once)"):
        checked = run_as_student(command, home)
        assert checked.returncode == 0, (command, checked.stderr)
    assert "Server:" in run_as_student("docker version", home).stdout
    # 1. Get the course files: `cd` moves the terminal into the clone.
    folder = home
    for command in readme_commands(readme, "1. Get the course files (once)"):
        if command.startswith("cd "):
            folder = folder / command.split(" ", 1)[1]
            continue
        cloned = run_as_student(command, folder)
        assert cloned.returncode == 0, cloned.stderr
    assert (folder / "compose.yaml").is_file()
    # 2. Start, 3. Open: the link on the first screen, the check notebook run to the end in the browser.
    request.addfinalizer(lambda: run_as_student("docker compose down", folder))
    up, _, link = start(folder)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            run_all_cells_in_the_browser(page, link)
            assert page.locator('[data-mime-type="application/vnd.jupyter.error"]').count() == 0
            expect(page.get_by_text("Enough memory and disk space for the course.")).to_be_visible()
        except Exception:
            page.screenshot(path=str(tmp_path / f"{request.node.name}.png"), full_page=True)
            raise
        finally:
            browser.close()
    base, token = link.split("/lab?token=")
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "my notes"}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    saved = requests.put(f"{base}/api/contents/my-notes.ipynb", params={"token": token}, timeout=30,
                         json={"type": "notebook", "format": "json", "content": notebook})
    assert saved.status_code == 201, saved.text
    # 4. Stop.
    stop(up, folder)
    notes = folder / "work" / "my-notes.ipynb"
    before = notes.read_bytes()
    assert notes.stat().st_uid == STUDENT_UID
    # The instructor announces an update: a package and a notebook, published and committed.
    with (project / "requirements.in").open("a") as requirements:
        requirements.write("more-itertools\n")
    run("make", "lock", cwd=project)
    shutil.copy(project / "course/00-check-environment.ipynb", project / "course/02-week-5.ipynb")
    run(*MAKE_PUSH_HERE, cwd=project)
    git("add", "--all", cwd=project)
    assert git("commit", "--quiet", "-m", "Week 5", cwd=project, check=False).returncode == 0
    publish_commits()
    # 5. Update, as the README says; the course starts again, updated, with the student's notes as they were.
    *update, up_again = readme_commands(readme, "5. Update")
    for command in update:
        updated = run_as_student(command, folder)
        assert updated.returncode == 0, (command, updated.stdout + updated.stderr)
    assert up_again == "docker compose up"
    up, _, link = start(folder)
    try:
        base, token = link.split("/lab?token=")
        assert requests.get(f"{base}/api/contents/course/02-week-5.ipynb", params={"token": token},
                            timeout=30).status_code == 200
        imported = run_as_student("docker compose exec -T jupyter python -c 'import more_itertools'", folder)
        assert imported.returncode == 0, imported.stderr
        assert notes.read_bytes() == before
        assert notes.stat().st_uid == STUDENT_UID
    finally:
        stop(up, folder)


@pytest.fixture
def frozen_course(registry, python_base, cookies):
    """A course whose base image is a mirror in the local registry; its images removed afterwards."""
    base = f"localhost:{registry.port}/mirror/python:{DEFAULT_ANSWERS['python_version']}-slim"
    docker("tag", python_base(DEFAULT_ANSWERS["python_version"]), base)
    docker("push", base)
    project = bake_with(cookies, {"project_slug": "frozen-course", "image_registry": f"localhost:{registry.port}/teach",
                                  "base_image": "custom", "custom_base_image": base, "packages": "six"})
    yield project, base, f"localhost:{registry.port}/teach/frozen-course"
    remove_local_images(f"localhost:{registry.port}/teach/frozen-course")
    # The mirror's tag only: its first image is the base image itself, under its own name.
    docker("image", "rm", base, check=False)


def test_a_frozen_course_builds_from_the_recorded_base_when_the_tag_moves(frozen_course, registry, tmp_path):
    project, base, image = frozen_course
    repository, tag = base.split("/", 1)[1].rsplit(":", 1)
    frozen = run("make", "freeze", "SEMESTER=2027-spring", cwd=project)
    digest = registry.digest(repository, tag)
    assert f"ARG BASE_IMAGE={base}@{digest}\n" in (project / "Dockerfile").read_text(), frozen.stdout
    assert (project / ".semester").read_text() == "2027-spring\n"
    # Week 10: the mirror's tag now names another image.
    (tmp_path / "changed").mkdir()
    (tmp_path / "changed" / "Dockerfile").write_text(f"FROM {base}\nRUN touch /changed-base\n")
    docker("build", "--quiet", "--tag", base, str(tmp_path / "changed"))
    docker("push", base)
    assert registry.digest(repository, tag) != digest
    run(*MAKE_PUSH_HERE, cwd=project)
    changed = docker("run", "--rm", "--entrypoint", "test", f"{image}:latest", "-e", "/changed-base", check=False)
    assert changed.returncode == 1, "the course image was built from the moved tag"
    term = image.split("/", 1)[1]
    assert registry.digest(term, "2027-spring") == registry.digest(term, "latest")
    # make lock says how to move on, on purpose.
    assert "make freeze' moves it to the newest" in run("make", "lock", cwd=project).stdout


def test_freezing_a_base_named_by_its_digest_alone_is_refused(frozen_course, registry):
    # Without a tag, freezing would follow :latest, whatever image that is.
    project, base, _ = frozen_course
    name, tag = base.rsplit(":", 1)
    dockerfile = project / "Dockerfile"
    before = dockerfile.read_text()
    by_digest = re.sub(r"^ARG BASE_IMAGE=.*$", f"ARG BASE_IMAGE={name}@{registry.digest(name.split('/', 1)[1], tag)}",
                       before, flags=re.MULTILINE)
    dockerfile.write_text(by_digest)
    try:
        result = subprocess.run(["make", "freeze", "SEMESTER=2027-fall"], cwd=project, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode != 0
        assert result.stderr.startswith("ARG BASE_IMAGE in the Dockerfile names no tag: write the tag before the "
                                        f"digest (e.g. {name}:3.13-slim@sha256:...)."), result.stderr
        assert dockerfile.read_text() == by_digest
    finally:
        dockerfile.write_text(before)


def test_freezing_without_the_registry_leaves_a_working_dockerfile(frozen_course, registry):
    project, _, _ = frozen_course
    before = (project / "Dockerfile").read_text()
    registry.stop()
    try:
        result = subprocess.run(["make", "freeze", "SEMESTER=2027-spring"], cwd=project, capture_output=True,
                                text=True, timeout=300)
    finally:
        registry.start()
    assert result.returncode != 0
    assert "cannot be resolved (offline, or no such image): the Dockerfile stays as it is; run make freeze again" \
        in result.stderr
    assert (project / "Dockerfile").read_text() == before
    assert not (project / ".semester").exists()
