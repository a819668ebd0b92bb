"""What an instructor reads when generation ends: the next steps, and any placeholder still in the course."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import yaml

from tests.support.answers import DEFAULTS, SKIP_LOCK, bake, environment
from tests.support.git_http import git_server

OWN_REGISTRY = {"image_registry": "ghcr.io/ada-teaches"}
PLACEHOLDER = DEFAULTS["image_registry"]


def generate(tmp_path, answers: dict, capfd) -> tuple[object, str, str]:
    project = bake(tmp_path, answers, SKIP_LOCK)
    shown = capfd.readouterr()
    return project, shown.out, shown.err


def test_the_default_registry_is_the_templates_placeholder():
    # The checks below are about this default; a fork that names its own registry has no placeholder.
    assert PLACEHOLDER == "ghcr.io/your-org"


def test_generation_ends_with_where_the_course_is_and_the_next_steps(tmp_path, capfd):
    project, out, _ = generate(tmp_path, OWN_REGISTRY, capfd)
    steps = out[out.index("The course is in "):].splitlines()
    assert steps[0] == f"The course is in {project}. Next:"
    assert steps[1] == f"  cd {project}"
    assert any(line.startswith("  make test ") for line in steps)
    assert any(line.startswith("  git remote add origin ") for line in steps)


def test_on_a_computer_git_does_not_know_the_next_steps_set_its_identity_first(tmp_path, capfd):
    # A new account: git would stop the first commit with "Please tell me who you are".
    home = tmp_path / "home"
    home.mkdir()
    answers = {**OWN_REGISTRY, "instructor_name": "Ada O'Hara", "instructor_email": "ada@example.edu"}
    with environment({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}):
        project, out, _ = generate(tmp_path / "out", answers, capfd)
        steps = [line.strip().split("   #")[0] for line in out[out.index("Next:"):].splitlines()[1:]]
        identity = next(number for number, step in enumerate(steps) if step.startswith("git config --global"))
        commit = next(number for number, step in enumerate(steps) if step.startswith("git init"))
        assert identity < commit
        for step in (steps[identity], steps[commit]):
            done = subprocess.run(["sh", "-c", step], cwd=project, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
    author = subprocess.run(["git", "log", "-1", "--format=%an <%ae>"], cwd=project, capture_output=True, text=True)
    assert author.stdout.strip() == "Ada O'Hara <ada@example.edu>"
    # Then GitHub's sign-in, the push, the workflow and the package made public, in that order.
    order = ["gh auth login", "git remote add origin", "When the workflow has published the image",
             "Then check as a student would"]
    assert [next(number for number, step in enumerate(steps) if step.startswith(start)) for start in order] == sorted(
        next(number for number, step in enumerate(steps) if step.startswith(start)) for start in order)
    assert "make its package public" in out


def test_a_new_account_follows_the_printed_steps_from_generation_to_a_push(tmp_path, capfd):
    """Who commits, the commit, then the push to the empty repository: each printed line run as it is printed."""
    home = tmp_path / "home"
    home.mkdir()
    with environment({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}):
        project, out, _ = generate(tmp_path / "out", {**OWN_REGISTRY, "instructor_name": "Ada"}, capfd)
        steps = [line.strip().split("   #")[0] for line in out[out.index("Next:"):].splitlines()[1:]]
        url = next(step for step in steps if step.startswith("git remote add origin ")).split()[4]
        servers = tmp_path / "server"
        servers.mkdir()
        with git_server(servers, f"{project.name}.git") as address:
            for step in steps:
                if step.startswith(("git config --global", "git init", "git remote add origin")):
                    # The empty repository made on the git server stands where GitHub's would be.
                    done = subprocess.run(["sh", "-c", step.replace(url, address)], cwd=project,
                                          capture_output=True, text=True)
                    assert done.returncode == 0, f"{step}:\n{done.stderr}"
            clone = tmp_path / "clone"
            cloned = subprocess.run(["git", "clone", "--quiet", address, str(clone)], capture_output=True, text=True)
            assert cloned.returncode == 0, cloned.stderr
    tracked = subprocess.run(["git", "ls-files"], cwd=project, capture_output=True, text=True).stdout
    assert subprocess.run(["git", "ls-files"], cwd=clone, capture_output=True, text=True).stdout == tracked
    assert ".github/workflows/image.yml" in tracked.split()
    upstream = subprocess.run(["git", "rev-parse", "--abbrev-ref", "main@{upstream}"], cwd=project,
                              capture_output=True, text=True)
    assert upstream.stdout.strip() == "origin/main"


def run_the_printed_git_line(project, out: str) -> None:
    """The next steps' `git init ... && git commit` line, run as printed, by an instructor git knows."""
    line = next(line.strip() for line in out.splitlines() if line.startswith("  git init"))
    identity = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.edu",
                "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.edu"}
    subprocess.run(["sh", "-c", line], cwd=project, check=True, capture_output=True, env={**os.environ, **identity})


def test_the_printed_git_line_makes_the_course_a_repository_with_everything_committed(tmp_path, capfd):
    project, out, _ = generate(tmp_path, OWN_REGISTRY, capfd)
    run_the_printed_git_line(project, out)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True)
    assert status.stdout == ""
    branch = subprocess.run(["git", "branch", "--show-current"], cwd=project, capture_output=True, text=True)
    assert branch.stdout.strip() == "main"


def test_the_placeholder_registry_is_warned_about_with_the_files_it_landed_in(tmp_path, capfd):
    project, _, err = generate(tmp_path, {}, capfd)
    lines = err.splitlines()
    warnings = [number for number, line in enumerate(lines) if line.startswith("WARNING: run make set-org")]
    assert len(warnings) == 1, err
    image = f"{PLACEHOLDER}/{project.name}"
    # The fix first, then what happens until it is made: two lines.
    first, second = lines[warnings[0]], lines[warnings[0] + 1]
    assert first.startswith("WARNING: run make set-org ORG=YOUR-GITHUB-ACCOUNT (it puts your account in place of the "
                            "template's placeholder your-org in ")
    assert second == (f"  Until then each student's computer builds the course image {image} itself, and make push "
                      "refuses to publish it.")
    listed = first.rsplit(" your-org in ", 1)[1].removesuffix(").").split(", ")
    assert {"compose.yaml", "Makefile", ".github/workflows/image.yml"} <= set(listed)
    for name in listed:
        assert image in (project / name).read_text(), name


def test_an_own_registry_gets_no_warning(tmp_path, capfd):
    _, _, err = generate(tmp_path, OWN_REGISTRY, capfd)
    assert "WARNING" not in err


def test_make_push_stops_on_the_placeholder_in_one_line_before_building(tmp_path, capfd):
    project, _, _ = generate(tmp_path, {}, capfd)
    pushed = subprocess.run(["make", "push"], cwd=project, capture_output=True, text=True, timeout=120)
    assert pushed.returncode != 0
    assert pushed.stderr.splitlines()[0] == (f"{PLACEHOLDER}/{project.name} names the template's placeholder your-org: "
                                             "make set-org ORG=YOUR-GITHUB-ACCOUNT puts yours in its place.")
    assert "docker" not in pushed.stdout


def test_replacing_the_placeholder_in_every_file_then_deleting_the_override_lets_make_push_and_the_workflow_through(
        tmp_path, capfd):
    project, _, _ = generate(tmp_path, {}, capfd)
    listed = subprocess.run(["grep", "-rl", "your-org", "."], cwd=project, capture_output=True, text=True)
    for name in listed.stdout.split():
        path = project / name
        path.write_text(path.read_text().replace("your-org", "ada-teaches"))
    assert subprocess.run(["grep", "-rl", "your-org", "."], cwd=project).returncode == 1
    # The image now names a registry, but students would still build it: make push and the workflow say so.
    checked = subprocess.run(["make", "check-image"], cwd=project, capture_output=True, text=True)
    assert checked.returncode != 0
    assert checked.stderr.startswith("compose.override.yaml makes students build the image instead of pulling it")
    assert workflow_check(project).returncode != 0
    (project / "compose.override.yaml").unlink()
    checked = subprocess.run(["make", "check-image"], cwd=project, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert workflow_check(project).returncode == 0


def test_following_the_printed_next_steps_leaves_no_placeholder_for_students(tmp_path, capfd):
    project, out, _ = generate(tmp_path, {}, capfd)
    steps = [line.strip().split("   #")[0] for line in out.splitlines() if line.startswith("  make set-org ")]
    assert steps == ["make set-org ORG=YOUR-GITHUB-ACCOUNT"]
    # Pasted as printed, before putting the account in: one line that says what to write, no shell error.
    pasted = subprocess.run(["sh", "-c", steps[0]], cwd=project, capture_output=True, text=True)
    assert pasted.returncode != 0
    assert pasted.stderr.splitlines()[0] == ("Name your GitHub account or organisation, in lowercase: "
                                             "make set-org ORG=ada-lab")
    named = subprocess.run(["sh", "-c", steps[0].replace("YOUR-GITHUB-ACCOUNT", "ada-teaches")], cwd=project,
                           capture_output=True, text=True)
    assert named.returncode == 0, named.stderr
    assert named.stdout.strip() == f"The course now names ada-teaches: its image is ghcr.io/ada-teaches/{project.name}."
    assert subprocess.run(["grep", "-rl", "your-org", "."], cwd=project).returncode == 1
    instructors = (project / "INSTRUCTORS.md").read_text()
    assert "placeholder" not in instructors
    assert "<!--" not in instructors
    readme = (project / "README.md").read_text()
    assert f"```sh\ngit clone https://github.com/ada-teaches/{project.name}\ncd {project.name}\n```" in readme
    service = compose_service(project)
    assert service["image"] == f"ghcr.io/ada-teaches/{project.name}:latest"
    assert "pull_policy" not in service
    assert "COURSE_NOTICE" not in service["environment"]
    assert subprocess.run(["make", "check-image"], cwd=project).returncode == 0
    # The answers make update renders from name the account too.
    assert json.loads((project / ".cookiecutter.json").read_text())["image_registry"] == "ghcr.io/ada-teaches"
    # Then the printed git line makes it a repository with everything committed.
    run_the_printed_git_line(project, out)
    assert subprocess.run(["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True).stdout == ""


@pytest.mark.parametrize("repository", [False, True], ids=["before-git-init", "after-git-commit"])
def test_make_set_org_changes_the_courses_files_and_never_the_work_folder(tmp_path, capfd, repository):
    project, _, _ = generate(tmp_path, {}, capfd)
    mine = "see https://github.com/your-org/introduction-to-data-science/issues\n"
    (project / "work" / "my notes.md").write_text(mine)
    (project / "course" / "week 1 notes.md").write_text(mine)
    if repository:
        subprocess.run(["git", "init", "-q"], cwd=project, check=True)
        subprocess.run(["git", "add", "--all"], cwd=project, check=True)
    named = subprocess.run(["make", "set-org", "ORG=ada-teaches"], cwd=project, capture_output=True, text=True)
    assert named.returncode == 0, named.stderr
    assert (project / "work" / "my notes.md").read_text() == mine
    assert (project / "course" / "week 1 notes.md").read_text() == mine.replace("your-org", "ada-teaches")


# A docker that pulls and tags nothing and whose save breaks halfway, as with a full disk.
FAILING_SAVE = """#!/bin/sh
case "$1" in
  save) printf 'part of an image'; exit 1 ;;
  *) exit 0 ;;
esac
"""


def test_make_bundle_leaves_no_archive_or_checksum_when_the_save_fails(tmp_path, capfd):
    project, _, _ = generate(tmp_path, {}, capfd)
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "docker").write_text(FAILING_SAVE)
    (shim / "docker").chmod(0o755)
    bundled = subprocess.run(["make", "bundle", "PLATFORM=linux/amd64"], cwd=project, capture_output=True,
                             text=True, env={**os.environ, "PATH": f"{shim}:{os.environ['PATH']}"})
    assert bundled.returncode != 0
    assert not list(project.glob("*-image-*"))


@pytest.mark.parametrize("org", ["", "Ada", "-x", "a b", "a/b"], ids=["empty", "uppercase", "option", "space", "slash"])
def test_make_set_org_refuses_what_is_not_an_account_name_and_changes_nothing(tmp_path, capfd, org):
    project, _, _ = generate(tmp_path, {}, capfd)
    before = {path: path.read_bytes() for path in project.rglob("*") if path.is_file()}
    named = subprocess.run(["make", "set-org", f"ORG={org}"], cwd=project, capture_output=True, text=True)
    assert named.returncode != 0
    assert named.stderr.startswith("Name your GitHub account or organisation, in lowercase")
    assert {path: path.read_bytes() for path in project.rglob("*") if path.is_file()} == before


def compose_service(project) -> dict:
    """The service as Compose runs it: compose.yaml, and compose.override.yaml when there is one."""
    shown = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=project, capture_output=True,
                           text=True, check=True)
    return json.loads(shown.stdout)["services"]["jupyter"]


def test_a_course_with_the_placeholder_builds_its_image_and_never_asks_a_registry(tmp_path, capfd):
    project, _, _ = generate(tmp_path, {}, capfd)
    service = compose_service(project)
    assert service["pull_policy"] == "never"
    assert "built here" in service["environment"]["COURSE_NOTICE"]
    # compose.yaml itself is the same as any course's: the placeholder's lines are one file of their own.
    assert "pull_policy" not in (project / "compose.yaml").read_text()


def test_a_course_with_its_own_registry_pulls_its_image(tmp_path, capfd):
    project, _, _ = generate(tmp_path, OWN_REGISTRY, capfd)
    assert not (project / "compose.override.yaml").exists()
    service = compose_service(project)
    assert "pull_policy" not in service
    assert "COURSE_NOTICE" not in service["environment"]


def workflow_check(project) -> subprocess.CompletedProcess:
    """The workflow's check before publishing, run as the workflow runs it (the same script as make push)."""
    workflow = yaml.safe_load((project / ".github/workflows/image.yml").read_text())
    step = next(step["run"] for step in workflow["jobs"]["publish"]["steps"]
                if step.get("name", "").startswith("The course can be published"))
    return subprocess.run(["bash", "-e", "-c", step], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "IMAGE": workflow["env"]["IMAGE"], "GITHUB_ACTIONS": "true"})


@pytest.mark.parametrize(("answers", "code"), [({}, 1), (OWN_REGISTRY, 0)], ids=["placeholder", "own-registry"])
def test_the_workflow_stops_on_the_placeholder_before_publishing(tmp_path, capfd, answers, code):
    project, _, _ = generate(tmp_path, answers, capfd)
    result = workflow_check(project)
    assert result.returncode == code, result.stdout + result.stderr
    if code:
        assert re.match(r"::error file=\.github/workflows/image\.yml::\S+ names the template's "
                        r"placeholder your-org", result.stdout), result.stdout


REPOSITORIES = {
    "github-registry": ({"image_registry": "ghcr.io/ada-teaches", "project_slug": "intro"},
                        "https://github.com/ada-teaches/intro", "intro"),
    "own-git-server": ({"image_registry": "registry.example.edu/teach", "project_slug": "intro",
                        "repository_url": "https://git.example.edu/ada/intro-2027.git"},
                       "https://git.example.edu/ada/intro-2027.git", "intro-2027"),
}


@pytest.mark.parametrize(("answers", "url", "folder"), REPOSITORIES.values(), ids=REPOSITORIES.keys())
def test_the_students_readme_clones_the_courses_own_repository(tmp_path, capfd, answers, url, folder):
    project, out, _ = generate(tmp_path, answers, capfd)
    readme = (project / "README.md").read_text()
    assert f"```sh\ngit clone {url}\ncd {folder}\n```" in readme
    assert f"  git remote add origin {url} && git push --set-upstream origin main" in out.splitlines()


def test_a_repository_the_template_cannot_derive_is_warned_about(tmp_path, capfd):
    project, _, err = generate(tmp_path, {"image_registry": "registry.example.edu/teach"}, capfd)
    warnings = [line for line in err.splitlines() if line.startswith("WARNING:")]
    repository = f"https://github.com/your-org/{project.name}"
    assert len(warnings) == 1, err
    assert warnings[0].startswith(f"WARNING: put your repository's address in place of {repository} in ")
    listed = warnings[0].split(f"{repository} in ", 1)[1].split(" (")[0].split(", ")
    assert "README.md" in listed
    for name in listed:
        assert repository in (project / name).read_text(), name


# Debian's own docker.io: an engine and its CLI, without the Compose and buildx plugins.
DOCKER_WITHOUT_PLUGINS = """#!/bin/sh
case "$1" in
  compose|buildx) echo "docker: '$1' is not a docker command." >&2; exit 1 ;;
  *) exit 0 ;;
esac
"""


@pytest.mark.parametrize(("target", "plugin"), [("build", "Compose plugin (docker compose)"),
                                                ("up", "Compose plugin (docker compose)"),
                                                ("freeze", "buildx plugin (docker buildx)")])
def test_a_target_needing_a_missing_docker_plugin_says_which_and_where_to_get_it(tmp_path, capfd, target, plugin):
    project, _, _ = generate(tmp_path, OWN_REGISTRY, capfd)
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "docker").write_text(DOCKER_WITHOUT_PLUGINS)
    (shim / "docker").chmod(0o755)
    made = subprocess.run(["make", target, "SEMESTER=2027-spring"], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{shim}:{os.environ['PATH']}"})
    assert made.returncode != 0
    assert made.stderr.splitlines()[0] == (
        f"make needs Docker's {plugin}, which this computer does not have: install Docker from "
        "https://docs.docker.com/engine/install/ (Debian and Ubuntu: Docker's own apt repository, "
        "https://docs.docker.com/engine/install/debian/)")
