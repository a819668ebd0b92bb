"""Finish the generated course repository: drop unchosen files, write and pin the requirements.

Cookiecutter renders this file, so the answers arrive as JSON data (never as
code) at the bottom; everything above is plain Python that tests import.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

if __name__ == "__main__":
    # Cookiecutter runs a rendered copy of this file from a temporary folder:
    # the template's folder, where the rules are, comes as data.
    sys.path.insert(0, json.loads(r'''{{ answer_rules_folder | tojson }}'''))

# The pre-generation hook has already checked every requirement; this only splits them.
from hooks.answer_rules import (  # noqa: E402
    PLACEHOLDER_ORGANISATION,
    SKIP_LOCK_VARIABLE,
    holds_placeholder,
    split_requirements,
)

UNPINNED_MARKER = "# NOT PINNED YET"

# How pip says it could not reach the index while fetching uv.
PIP_NETWORK_FAILURES = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "from versions: none",
)
ANSWERS_FILE = ".cookiecutter.json"
# What cookiecutter (or cruft) adds to the answers about where the template
# came from: paths of the instructor's machine, or the template's source,
# which .cruft.json records. The answers file holds the answers only.
SOURCE_KEYS = ("_output_dir", "_repo_dir", "_checkout", "_template", "_commit")
# Where cruft looks for the template's URL and commit (`make update`).
CRUFT_FILE = ".cruft.json"
# Files a template update leaves alone: `make update` pins them again itself.
UPDATE_SKIPS = ["requirements.txt"]
# The course's Makefile target that puts the instructor's account in its place.
SET_ORG = "make set-org ORG=YOUR-GITHUB-ACCOUNT"


class PinningFailed(RuntimeError):
    """The requirements cannot be resolved: a package is wrong, not the network."""


class UvUnavailable(RuntimeError):
    """uv is neither installed nor installable: the message says why."""


# Where a course without GPUs takes PyTorch from (kept only when it uses PyTorch).
PYTORCH_CPU = PurePosixPath("pytorch-cpu/pyproject.toml")
LOCK_SCRIPT = PurePosixPath("docker/instructor/lock.py")

# A template file (with its one choice: JupyterHub's server) that requirements.in includes.
JUPYTER_REQUIREMENTS = "requirements-jupyter.in"


def requirements_in(packages: str) -> str:
    """The instructor-facing requirements file: Jupyter (included), then the course's packages."""
    lines = [
        "# The course's Python packages. Edit this file, then run `make lock`",
        "# to pin them (with hashes) into requirements.txt.",
        "",
        f"-r {JUPYTER_REQUIREMENTS}",
        "",
        "# Course packages",
        *split_requirements(packages),
    ]
    return "\n".join(lines) + "\n"


def unpinned_requirements_txt(reason: str) -> str:
    return (
        f"{UNPINNED_MARKER}: {reason}\n"
        "# The image build pins requirements.in on the fly until you run `make lock`\n"
        "# and commit the result, so that every build installs the same versions.\n"
    )


# Only while the image names the placeholder: students build the image, nobody having published it.
BUILD_HERE = "compose.override.yaml"
# The files each yes/no question adds: deleted when its answer is no.
QUESTION_FILES = {
    "include_ci": (".github",),
    "include_devcontainer": (".devcontainer",),
    "jupyterhub": ("deploy", "docker/container/course_pull.py"),
    "desktop": ("docker/container/course_desktop.py", "docker/container/course_desktop.html",
                "docker/build/install-desktop.sh", "docker/build/install-novnc.py",
                "docker/container/ipython_kernel_config.py"),
    "assignments": ("docker/instructor/assignments.py",),
}
# The assignments' masters (solutions, hidden tests): generated with the course,
# then moved beside it, since everything in the course is published.
MASTERS = "assignments"


def masters_folder(project: Path, answers: dict) -> Path:
    """Where the masters live: the folder the course's Makefile names (MASTERS)."""
    return project.parent / f"{answers['project_slug']}-assignments"


def place_masters(project: Path, answers: dict) -> Path | None:
    """Move the example master beside the course; an instructor's existing masters folder is kept as it is."""
    generated = project / MASTERS
    target = masters_folder(project, answers)
    # cruft renders make update's copy into a folder of its own: nothing to place there.
    if not answers["assignments"] or "_commit" in answers or target.exists():
        shutil.rmtree(generated)
        return target if answers["assignments"] and target.exists() else None
    shutil.move(generated, target)
    return target


def remove_unchosen(project: Path, answers: dict) -> None:
    """Delete the files of options the instructor did not choose."""
    for question, paths in QUESTION_FILES.items():
        if not answers[question]:
            for path in paths:
                if (project / path).is_dir():
                    shutil.rmtree(project / path)
                else:
                    (project / path).unlink()
    if not answers["__pytorch_cpu"]:
        shutil.rmtree(project / PYTORCH_CPU.parent)
    if not holds_placeholder(answers["__image"]):
        (project / BUILD_HERE).unlink()


def find_uv() -> list[str] | None:
    """The uv command, if this Python or the PATH has one."""
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]

        return [find_uv_bin()]
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    return [found] if found else None


def install_uv(target: Path) -> list[str] | None:
    """Fetch uv from PyPI into a temporary folder.

    Returns None when the index cannot be reached; raises UvUnavailable, with
    pip's own words, when the install fails for another reason.
    """
    print("uv is not installed: fetching it from PyPI for this run...", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", str(target), "uv"],
        capture_output=True,
        text=True,
    )
    binary = target / "bin" / ("uv.exe" if os.name == "nt" else "uv")
    if result.returncode == 0 and binary.exists():
        return [str(binary)]
    output = (result.stderr + result.stdout).strip()
    if any(message in output for message in PIP_NETWORK_FAILURES):
        return None
    last_line = output.splitlines()[-1] if output else f"pip exited with code {result.returncode}"
    raise UvUnavailable(f"uv could not be installed with {sys.executable} -m pip: {last_line}")


def course_lock(project: Path):
    """The course's own lock script (docker/instructor/lock.py), which make lock runs too, as a module."""
    spec = importlib.util.spec_from_file_location("course_lock", project / LOCK_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pin(project: Path, python_version: str) -> bool:
    """Pin requirements.in with make lock's own script; False if the index cannot be reached.

    Raises PinningFailed when the index answered but the packages cannot be resolved (the script has said why).
    """
    print(
        f"Pinning the course packages for Python {python_version} "
        "(linux/amd64 and linux/arm64, with hashes)...",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as scratch:
        uv = find_uv() or install_uv(Path(scratch))
        if uv is None:
            print("WARNING: the package index could not be reached, so requirements.txt is not pinned.",
                  file=sys.stderr)
            return False
        lock = course_lock(project)
        code = lock.main(uv)
    if code == lock.UNREACHABLE:
        return False
    if code != 0:
        raise PinningFailed
    return True


def write_requirements(project: Path, answers: dict) -> None:
    (project / "requirements.in").write_text(requirements_in(answers["packages"]), encoding="utf-8")
    if os.environ.get(SKIP_LOCK_VARIABLE) == "1":
        reason = f"{SKIP_LOCK_VARIABLE}=1 was set"
    else:
        try:
            if pin(project, answers["python_version"]):
                return
            reason = "the package index could not be reached when the project was generated"
        except UvUnavailable as error:
            reason = str(error)
            print(f"WARNING: requirements.txt is not pinned: {reason}.", file=sys.stderr)
        print("  The project still builds (the image build pins on the fly); run `make lock` when uv and the "
              "package index are available, and commit requirements.txt.", file=sys.stderr)
    (project / "requirements.txt").write_text(unpinned_requirements_txt(reason), encoding="utf-8")


def answers_to_record(answers: dict) -> dict:
    """The answers a template update replays, without paths of the instructor's machine."""
    return {key: value for key, value in answers.items() if key not in SOURCE_KEYS}


def without_credentials(url: str) -> str:
    """The address without a user name or password (an access token often stands in either).

    The course repository is often public. An ssh address keeps its user
    (git@host:org/repo, ssh://git@host/...), which is no secret and which ssh
    needs; only a password is dropped from it. git's credential helper gives
    the rest back when `make update` fetches the template.
    """
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:  # a path, or git@host:org/repo
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    if parts.scheme == "ssh" or parts.scheme.startswith("git+ssh"):
        host = f"{userinfo.split(':', 1)[0]}@{host}"
    return urlunsplit(parts._replace(netloc=host))


def template_source(answers: dict) -> tuple[str, str] | None:
    """The template's repository URL and commit, when cookiecutter cloned it from one.

    A local git checkout records the repository it was cloned from (its
    origin). None for a local folder without one or a zip file (`cruft link`
    records those later, see INSTRUCTORS.md), and when cruft is generating: it
    writes its own record.
    """
    if "_commit" in answers:
        return None
    from cookiecutter.config import get_user_config
    from cookiecutter.repository import expand_abbreviations, is_repo_url

    url = expand_abbreviations(str(answers.get("_template", "")), get_user_config()["abbreviations"])
    if not answers.get("_repo_dir"):
        return None
    try:
        if not is_repo_url(url):
            # A local checkout of the template (README's "Try it"): updates come from where it was
            # cloned from. Only a checkout of the template itself, not a folder inside another
            # repository (a dotfiles home, a department's monorepo): that one's origin is not ours.
            top = subprocess.run(["git", "-C", answers["_repo_dir"], "rev-parse", "--show-toplevel"],
                                 capture_output=True, text=True)
            origin = subprocess.run(["git", "-C", answers["_repo_dir"], "remote", "get-url", "origin"],
                                    capture_output=True, text=True)
            url = origin.stdout.strip()
            if (top.returncode != 0 or Path(top.stdout.strip()).resolve() != Path(answers["_repo_dir"]).resolve()
                    or origin.returncode != 0 or not is_repo_url(url)):
                return None
        head = subprocess.run(["git", "-C", answers["_repo_dir"], "rev-parse", "HEAD"],
                              capture_output=True, text=True)
    except FileNotFoundError:  # no git: nothing to record a commit with
        return None
    return (without_credentials(url), head.stdout.strip()) if head.returncode == 0 else None


def cruft_state(recorded: dict, url: str, commit: str, checkout: str | None) -> dict:
    """What `cruft create` would have written: the template, its commit and the answers."""
    return {
        "template": url,
        "commit": commit,
        "checkout": checkout,
        "context": {"cookiecutter": {**recorded, "_template": url, "_commit": commit}},
        "directory": None,
        "skip": UPDATE_SKIPS,
    }


def record_answers(project: Path) -> None:
    path = project / ANSWERS_FILE
    answers = json.loads(path.read_text(encoding="utf-8"))
    recorded = answers_to_record(answers)
    path.write_text(json.dumps(recorded, indent=4, sort_keys=True) + "\n", encoding="utf-8")
    source = template_source(answers)
    if source:
        state = cruft_state(recorded, *source, checkout=answers.get("_checkout"))
        # cruft's own layout, so that its later rewrites change only what changed.
        text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": ")) + "\n"
        (project / CRUFT_FILE).write_text(text, encoding="utf-8")


def files_naming(project: Path, text: str) -> list[str]:
    """The generated files that contain text, as paths relative to the project."""
    found = []
    for path in sorted(project.rglob("*")):
        if path.is_file() and text in path.read_text(encoding="utf-8", errors="replace"):
            found.append(path.relative_to(project).as_posix())
    return found


def placeholder_warnings(project: Path, answers: dict) -> list[str]:
    """A warning for each address that still holds the template's placeholder: the fix, then what happens meanwhile."""
    warnings = []
    image, repository = answers["__image"], answers["repository_url"]
    if holds_placeholder(image):
        warnings.append(
            f"WARNING: run {SET_ORG} (it puts your account in place of the template's placeholder "
            f"{PLACEHOLDER_ORGANISATION} in {', '.join(files_naming(project, image))}).\n"
            f"  Until then each student's computer builds the course image {image} itself, and make push refuses "
            "to publish it."
        )
    if holds_placeholder(repository):
        warnings.append(
            f"WARNING: put your repository's address in place of {repository} in "
            f"{', '.join(files_naming(project, repository))} (on GitHub, {SET_ORG} does it).\n"
            f"  Until then students are told to clone it, and {PLACEHOLDER_ORGANISATION} is the template's "
            "placeholder, not a repository."
        )
    return warnings


def git_knows_who_you_are() -> bool:
    """Whether git has a name and email for commits here (a new account has neither: "Please tell me who you are")."""
    try:
        return all(subprocess.run(["git", "config", key], capture_output=True, text=True).stdout.strip()
                   for key in ("user.name", "user.email"))
    except FileNotFoundError:
        return False


def next_steps(project: Path, answers: dict, placeholder: bool = False) -> str:
    """What the instructor does after generation, in the order it happens, each step once."""
    # The hook runs inside the project; PWD is still the folder the instructor ran cookiecutter in.
    relative = os.path.relpath(project, os.environ.get("PWD", project))
    where = str(project) if relative.startswith("..") else relative
    repository_url = answers["repository_url"].replace(f"/{PLACEHOLDER_ORGANISATION}/", "/YOUR-GITHUB-ACCOUNT/")
    on_github = repository_url.startswith("https://github.com/")
    identity = (f"  git config --global user.name {shlex.quote(answers['instructor_name'])} && "
                f"git config --global user.email {shlex.quote(answers['instructor_email'])}   # once: who commits")
    if answers["__image"].startswith("ghcr.io/"):
        public = ("make its package public (GitHub: your profile > Packages > "
                  f"{answers['project_slug']} > Package settings > Change visibility), or students' pulls are denied")
    else:
        public = "let students pull it without signing in"
    return "\n".join([
        f"The course is in {where}. Next:",
        f"  cd {where}",
        *([f"  {SET_ORG}   # in place of the template's placeholder {PLACEHOLDER_ORGANISATION}, everywhere"]
          if placeholder else []),
        "  make test            # build the course image and check it: packages import, notebooks run",
        *([identity] if not git_knows_who_you_are() else []),
        '  git init --initial-branch=main && git add --all && git commit -m "Generate the course"',
        *([f"  gh auth login        # once: sign in to GitHub (or a token as password, with the repo"
           f"{' and workflow scopes: the course has a workflow' if answers.get('include_ci') else ' scope'})"]
          if on_github else []),
        f"  Then create the empty repository {repository_url}"
        + (" (on GitHub: New repository)" if on_github else "") + " and push to it:",
        f"  git remote add origin {repository_url} && git push --set-upstream origin main",
        *([f"  When the workflow has published the image (the repository's Actions tab), {public}."]
          if answers.get("include_ci") else []),
        "  Then check as a student would: README.md is what your students read and follow.",
        "INSTRUCTORS.md explains the rest.",
    ])


def main(answers: dict, project: Path) -> int:
    remove_unchosen(project, answers)
    masters = place_masters(project, answers)
    record_answers(project)
    try:
        write_requirements(project, answers)
    except PinningFailed:  # the lock script has said why
        return 1
    if "_commit" in answers:
        # cruft rendering the template for make update, into a folder of its own: the update says what it did.
        return 0
    warnings = placeholder_warnings(project, answers)
    print(next_steps(project, answers, placeholder=bool(warnings)), flush=True)
    if masters:
        print(f"The assignments' masters (solutions, hidden tests) are in {os.path.relpath(masters, project)}, "
              "beside the course: keep them private, never in the course (INSTRUCTORS.md, Assignments).", flush=True)
    for warning in warnings:
        print(warning, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r'''{{ cookiecutter | tojson }}'''), Path.cwd()))
