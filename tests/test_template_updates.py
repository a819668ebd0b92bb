"""An instructor follows the template for months: `make update` brings its changes in and keeps theirs.

The template is served from a git repository over the network (git daemon on
127.0.0.1), as an instructor's course is generated from GitHub; `make update`
runs the real cruft (fetched by uv) against it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from hooks.answer_rules import split_requirements
from tests.support.answers import DEFAULT_ANSWERS, PROJECT_DIR, SKIP_LOCK, TEMPLATE, requirement_lines
from tests.support.engine import docker, free_port, stop_process
from tests.support.git import git
from tests.support.git_http import served_with_password
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.docker, pytest.mark.network]



def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    def answers() -> bool:
        assert process.poll() is None, "git daemon stopped"
        return git("ls-remote", f"git://127.0.0.1:{port}/template", cwd=TEMPLATE, check=False).returncode == 0

    wait_until(answers, timeout=timeout, interval=0.2, message="git daemon did not answer")


@pytest.fixture(scope="module")
def template_repository(tmp_path_factory):
    """A git copy of this template, served at git://127.0.0.1:<port>/template; yields its folder and URL."""
    served = tmp_path_factory.mktemp("served")
    copy = served / "template"
    files = git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=TEMPLATE).stdout.split("\0")
    for name in filter(None, files):
        if (TEMPLATE / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE / name, copy / name)
    git("init", "-q", "-b", "main", cwd=copy)
    git("add", "--all", cwd=copy)
    git("commit", "-q", "-m", "The template as it is", cwd=copy)
    port = free_port()
    daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={served}",
                               "--listen=127.0.0.1", f"--port={port}", str(served)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, daemon)
        yield copy, f"git://127.0.0.1:{port}/template"
    finally:
        stop_process(daemon)


def change_template(template: Path, path: str, old: str, new: str) -> str:
    """Commit one change to a file of the template's project folder; return the new commit."""
    target = template / PROJECT_DIR / path
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))
    git("commit", "-q", "--all", "-m", f"Change {path}", cwd=template)
    return git("rev-parse", "HEAD", cwd=template).stdout.strip()


def generate_course(url: str, tmp_path: Path, slug: str, env: dict | None = None) -> Path:
    """What an instructor does: cookiecutter <template URL>, then commit the result."""
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(yaml.safe_dump({"cookiecutters_dir": str(tmp_path / "cookiecutters"),
                                      "replay_dir": str(tmp_path / "replay")}))
    result = subprocess.run([sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir",
                             str(tmp_path / "courses"), url, f"project_slug={slug}"],
                            env={**os.environ, "COOKIECUTTER_CONFIG": str(config), **(env or {})},
                            # Outside this checkout: the template's own clone must hold what it imports.
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "courses" / slug
    git("init", "-q", "-b", "main", cwd=project)
    git("add", "--all", cwd=project)
    git("commit", "-q", "-m", "Generated from the template", cwd=project)
    return project


def make(project: Path, *targets: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["make", *targets], cwd=project, capture_output=True, text=True, timeout=timeout)


def test_the_course_records_the_template_and_nothing_of_the_instructors_machine(template_repository, tmp_path):
    template, url = template_repository
    project = generate_course(url, tmp_path, "course-recorded", SKIP_LOCK)
    state = json.loads((project / ".cruft.json").read_text())
    assert state["template"] == url
    assert state["commit"] == git("rev-parse", "HEAD", cwd=template).stdout.strip()
    assert state["context"]["cookiecutter"]["project_slug"] == "course-recorded"
    for recorded in (project / ".cruft.json", project / ".cookiecutter.json"):
        text = recorded.read_text()
        assert str(tmp_path) not in text
        assert str(Path.home()) not in text


def test_a_course_made_from_a_local_checkout_follows_the_template_it_was_cloned_from(template_repository, tmp_path):
    # README's "Try it": cookiecutter run on a checkout of the template, not on its address.
    template, url = template_repository
    checkout = tmp_path / "checkout"
    git("clone", "--quiet", url, str(checkout), cwd=tmp_path)
    project = generate_course(str(checkout), tmp_path, "course-from-checkout", {**SKIP_LOCK})
    state = json.loads((project / ".cruft.json").read_text())
    assert (state["template"], state["commit"]) == (url, git("rev-parse", "HEAD", cwd=checkout).stdout.strip())
    commit = change_template(template, "README.md", "\n## ", "\nThe course was updated from its template.\n\n## ")
    update = make(project, "update")
    assert update.returncode == 0, update.stdout + update.stderr
    assert "The course was updated from its template." in (project / "README.md").read_text()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == commit


def test_a_template_cloned_with_a_password_is_recorded_without_it(template_repository, tmp_path):
    template, _ = template_repository
    (tmp_path / "served").mkdir()
    with served_with_password(template, tmp_path / "served", "instructor", "s3cret-token") as (url, fetched):
        project = generate_course(url, tmp_path, "private-course", SKIP_LOCK)
    assert fetched, "the template was not fetched with the credentials"
    assert json.loads((project / ".cruft.json").read_text())["template"] == url.replace("instructor:s3cret-token@", "")
    # Nothing git would commit holds them: not the records, not a README.
    for name in git("ls-files", cwd=project).stdout.splitlines():
        text = (project / name).read_bytes().decode(errors="replace")
        assert "s3cret-token" not in text, name
        assert "//instructor@" not in text, name  # the user name alone, as an address would carry it


@pytest.fixture
def instructors_course(template_repository, tmp_path, python_base):
    """A course generated from the served template, then edited and committed by its instructor."""
    _, url = template_repository
    python_base(DEFAULT_ANSWERS["python_version"])
    project = generate_course(url, tmp_path, "course-template-update")
    with (project / "requirements.in").open("a") as requirements:
        requirements.write("tabulate\n")
    lesson = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import tabulate\nprint('week 1')")])
    nbformat.write(lesson, project / "course" / "01-week-1.ipynb")
    dockerfile = project / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("        tini \\\n", "        tini \\\n        less \\\n", 1))
    assert make(project, "lock").returncode == 0
    git("add", "--all", cwd=project)
    git("commit", "-q", "-m", "Week 1: tabulate, a lesson, less", cwd=project)
    yield project
    docker("compose", "down", "--volumes", cwd=project, check=False)
    docker("image", "rm", "--force", *docker("compose", "config", "--images", cwd=project).stdout.split(),
           check=False)


def pinned_names(requirements_txt: str) -> set[str]:
    return {canonicalize_name(line.split("==")[0]) for line in requirements_txt.splitlines()
            if "==" in line and not line.startswith((" ", "#"))}


def test_make_update_brings_the_template_change_and_keeps_the_instructors(template_repository, instructors_course):
    template, _ = template_repository
    project = instructors_course
    lesson_before = (project / "course" / "01-week-1.ipynb").read_bytes()
    setting = "c.ServerApp.shutdown_no_activity_timeout = 0\n"
    change_template(template, "docker/container/jupyter_server_config.py", "c.ServerApp.open_browser = False\n",
                    "c.ServerApp.open_browser = False\n" + setting)
    commit = change_template(template, "README.md", "\n## ", "\nThe course was updated from its template.\n\n## ")

    update = make(project, "update")
    assert update.returncode == 0, update.stdout + update.stderr
    # It says what the update did, not generation's next steps for the folder cruft rendered into.
    assert "The course is in " not in update.stdout + update.stderr
    # The template's changes arrived...
    assert setting in (project / "docker" / "container" / "jupyter_server_config.py").read_text()
    assert "The course was updated from its template." in (project / "README.md").read_text()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == commit
    # ...the instructor's stayed...
    assert "tabulate" in requirement_lines((project / "requirements.in").read_text())
    assert (project / "course" / "01-week-1.ipynb").read_bytes() == lesson_before
    assert "        less \\\n" in (project / "Dockerfile").read_text()
    # ...requirements.txt is pinned again from requirements.in, hashes included...
    pinned = (project / "requirements.txt").read_text()
    wanted = {canonicalize_name(Requirement(line).name)
              for line in requirement_lines((project / "requirements.in").read_text()) if not line.startswith("-")}
    assert {"tabulate", "jupyterlab"} | wanted <= pinned_names(pinned)
    assert "--hash=sha256:" in pinned
    assert not list(project.rglob("*.rej"))
    # ...and the image builds and passes its own tests (the new lesson included).
    test = make(project, "test", timeout=1800)
    assert test.returncode == 0, test.stdout[-3000:] + test.stderr[-3000:]
    # Python, each course package (tabulate too) and both notebooks.
    expected = 1 + len(split_requirements(DEFAULT_ANSWERS["packages"])) + 1 + 2
    assert re.search(rf"\b{expected} passed", test.stdout), test.stdout[-3000:]
    config = docker("compose", "run", "--rm", "--no-deps", "--entrypoint", "cat", "jupyter",
                    "/opt/venv/etc/jupyter/jupyter_server_config.py", cwd=project).stdout
    assert setting in config


def test_a_conflicting_template_change_stops_with_the_files_to_resolve(template_repository, tmp_path):
    template, url = template_repository
    project = generate_course(url, tmp_path, "course-template-conflict", SKIP_LOCK)
    readme = project / "README.md"
    title = readme.read_text().splitlines()[0]
    readme.write_text(readme.read_text().replace(title, title + " (spring term)", 1))
    git("commit", "-q", "--all", "-m", "Name the term", cwd=project)
    change_template(template, "README.md", "# {{ cookiecutter.course_name }}\n",
                    "# {{ cookiecutter.course_name }}: your course environment\n")

    update = make(project, "update")
    assert update.returncode != 0
    assert "conflict with yours in these files:\n  README.md\n" in update.stderr
    assert "<<<<<<<" in readme.read_text()
    # Not pinned, not reported as done: the instructor resolves first.
    assert "Updated from the template" not in update.stdout
    assert "UU README.md" in git("status", "--porcelain", cwd=project).stdout


def contributors_change(project: Path, change) -> None:
    """A pull request that edits .cruft.json, merged: change(state) edits the parsed file."""
    state = json.loads((project / ".cruft.json").read_text())
    change(state)
    (project / ".cruft.json").write_text(json.dumps(state, indent=2) + "\n")
    git("commit", "-q", "--all", "-m", "Fix the instructor's name", cwd=project)


def test_make_update_refuses_an_answer_holding_template_code_and_runs_none_of_it(template_repository, tmp_path):
    template, url = template_repository
    project = generate_course(url, tmp_path, "course-template-answer-code", SKIP_LOCK)
    ran = tmp_path / "ran"
    attack = f"Ada Lovelace{{{{ cycler.__init__.__globals__.os.system('touch {ran}') and '' }}}}"
    contributors_change(project, lambda state: state["context"]["cookiecutter"].update(instructor_name=attack))
    # Something to update, so that cruft would render the answers.
    change_template(template, ".gitattributes", "*.ipynb text eol=lf\n", "*.ipynb text eol=lf\n*.toml text eol=lf\n")

    update = make(project, "update")
    assert update.returncode != 0
    assert update.stderr.startswith(".cruft.json: the answer cookiecutter.instructor_name holds template code "
                                    "({{, {%, {#), which the update would run;"), update.stderr
    assert not ran.exists()
    assert git("status", "--porcelain", cwd=project).stdout == ""


def test_make_update_refuses_a_template_address_the_course_was_not_made_from(template_repository, tmp_path):
    _, url = template_repository
    project = generate_course(url, tmp_path, "course-template-moved", SKIP_LOCK)
    contributors_change(project, lambda state: state.update(template="git://127.0.0.1:9/someone-elses-template"))

    update = make(project, "update")
    assert update.returncode != 0
    assert (f".cruft.json: the template is git://127.0.0.1:9/someone-elses-template, but this course was made "
            f"from {url};") in update.stderr
    assert git("status", "--porcelain", cwd=project).stdout == ""
