"""The template's own answers: its defaults, and baking a project with chosen answers."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cookiecutter.environment import StrictEnvironment
from cookiecutter.main import cookiecutter
from packaging.markers import Marker
from slugify import slugify

from hooks.answer_rules import SKIP_LOCK_VARIABLE, derived_answers

TEMPLATE = Path(__file__).resolve().parents[2]
# The course repository's folder in the template, named by the slug.
PROJECT_DIR = "{{cookiecutter.__project_dir|slugify}}"
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text())
# The answers --no-input gives, as a fork's cookiecutter.json sets them: tests
# take their expectations from here, never from copies of today's defaults.
# Answers whose default is derived from others (project_slug, repository_url) are left to cookiecutter.
DEFAULT_ANSWERS = {key: (value[0] if isinstance(value, list) else value) for key, value in DEFAULTS.items()
                   if not key.startswith("_") and not (isinstance(value, str) and "{{" in value)}
DEFAULT_SLUG = slugify(DEFAULTS["course_name"])


def rendered_default(name: str, answers: dict) -> str:
    """An answer's default as cookiecutter derives it from the other answers (cookiecutter.json's Jinja)."""
    return StrictEnvironment(context={"cookiecutter": DEFAULTS}).from_string(DEFAULTS[name]).render(
        cookiecutter=answers)


DEFAULT_REPOSITORY = rendered_default("repository_url", {**DEFAULT_ANSWERS, "project_slug": DEFAULT_SLUG})
SKIP_LOCK = {SKIP_LOCK_VARIABLE: "1"}


def hook_answers(**changes) -> dict:
    """The answers as the hooks receive them: the defaults with these changes, the slug and the
    repository derived from them as cookiecutter derives them, then the derived private values."""
    answers = {key: value for key, value in DEFAULTS.items() if key.startswith("_") and not key.startswith("__")
               and not isinstance(value, dict)}
    answers.update({**DEFAULT_ANSWERS, **{key: value for key, value in changes.items() if not key.startswith("__")}})
    for name in ("project_slug", "repository_url"):
        answers.setdefault(name, rendered_default(name, answers))
    answers.update(derived_answers(answers))
    answers.update({key: value for key, value in changes.items() if key.startswith("__")})
    return answers


@contextmanager
def environment(variables: dict | None) -> Iterator[None]:
    """Set environment variables for the hooks cookiecutter runs, and restore them after."""
    saved = {key: os.environ.get(key) for key in (variables or {})}
    os.environ.update(variables or {})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def bake_with(cookies, answers: dict | None = None, env: dict | None = None) -> Path:
    """Bake through pytest-cookies' cookies or cookies_session fixture; raise what generation raised."""
    with environment(env):
        result = cookies.bake(extra_context=answers or {}, template=str(TEMPLATE))
    if result.exception is not None:
        raise result.exception
    return result.project_path


def bake(output_dir: Path, answers: dict | None = None, env: dict | None = None, **options) -> Path:
    """Bake into a folder of the caller's choosing (to see what a refusal leaves there), or from bench/.

    Other options go to cookiecutter() as they are (config_file, replay); without replay, no prompt is asked.
    """
    if not options.get("replay"):
        options = {"no_input": True, "extra_context": answers or {}, **options}
    with environment(env):
        return Path(cookiecutter(str(TEMPLATE), output_dir=str(output_dir), **options))


def requirement_lines(text: str) -> list[str]:
    """The requirement lines of a requirements file, comments and blank lines left out."""
    return [line for line in text.splitlines() if line and not line.startswith("#")]


PIN = re.compile(r"^([a-z0-9][a-z0-9._-]*)==(\S+)(?: ; (.*))? \\$", re.MULTILINE)


def pins(requirements_txt: str, python: str, machine: str) -> dict[str, str]:
    """The version of each package that installs on Linux with that Python and CPU."""
    environment = {"python_version": python, "python_full_version": f"{python}.0",
                   "sys_platform": "linux", "platform_system": "Linux", "platform_machine": machine,
                   "implementation_name": "cpython", "platform_python_implementation": "CPython",
                   "os_name": "posix"}
    chosen: dict[str, str] = {}
    for name, version, marker in PIN.findall(requirements_txt):
        if not marker or Marker(marker).evaluate(environment):
            assert name not in chosen, f"two pins of {name} apply to {python} on {machine}"
            chosen[name] = version
    return chosen


def hashes_pinned(requirements_txt: str, name: str) -> set[str]:
    """Every sha256 requirements.txt accepts for name's files (all its pins)."""
    blocks = re.findall(rf"^{re.escape(name)}==.*?(?=^\S|\Z)", requirements_txt, re.MULTILINE | re.DOTALL)
    return {digest for block in blocks for digest in re.findall(r"--hash=sha256:([0-9a-f]{64})", block)}
