"""The template's own answers: its defaults, and baking a project with chosen answers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cookiecutter.main import cookiecutter
from slugify import slugify

TEMPLATE = Path(__file__).resolve().parents[2]
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text())
# The answers --no-input gives, as a fork's cookiecutter.json sets them: tests
# take their expectations from here, never from copies of today's defaults.
DEFAULT_ANSWERS = {key: (value[0] if isinstance(value, list) else value) for key, value in DEFAULTS.items()
                   if not key.startswith("_") and key != "project_slug"}
DEFAULT_SLUG = slugify(DEFAULTS["course_name"])
SKIP_LOCK = {"JUPYTER_COURSE_SKIP_LOCK": "1"}


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
    """Bake into a folder of the caller's choosing (to see what a refusal leaves there), or from bench/."""
    with environment(env):
        return Path(cookiecutter(str(TEMPLATE), no_input=True, extra_context=answers or {},
                                 output_dir=str(output_dir), **options))


def requirement_lines(text: str) -> list[str]:
    """The requirement lines of a requirements file, comments and blank lines left out."""
    return [line for line in text.splitlines() if line and not line.startswith("#")]
