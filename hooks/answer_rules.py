"""The rules the answers follow, in one place.

cookiecutter.json derives its private values through `AnswerRules` (a Jinja
extension it names in `_extensions`), the pre-generation hook checks the
answers with the same functions, and the post-generation hook splits the
packages with them. Plain Python and Jinja only: cruft runs it too.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from jinja2.ext import Extension

# The template's folder, where cookiecutter.json is. Cookiecutter and cruft put
# it on the import path; the hooks, run from a temporary copy, are told it.
TEMPLATE_FOLDER = Path(__file__).resolve().parent.parent

# Newest first, as the question lists them.
PYTHON_VERSIONS = ("3.14", "3.13", "3.12", "3.11", "3.10")
BASE_IMAGES = ("python-slim", "jupyter-minimal-notebook", "jupyter-scipy-notebook", "custom")
# quay.io/jupyter/* publishes a python-X.Y tag only for these versions.
JUPYTER_STACKS_PYTHON = ("3.11", "3.12", "3.13")
INTERFACES = ("lab", "notebook")
# The packages PyTorch builds once per accelerator (CPU-only, CUDA, ...): with
# gpu=no they come from PyTorch's CPU-only index (see pytorch-cpu/pyproject.toml).
PYTORCH_PACKAGES = ("torch", "torchvision", "torchaudio")
# Set to 1 to write a course without pinning its packages (what an offline machine gets).
SKIP_LOCK_VARIABLE = "JUPYTER_COURSE_SKIP_LOCK"

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_SLUG = 63
# Requirements are separated by commas or white space; a comma followed by an
# operator continues the previous requirement's specifier list
# (numpy>=1.26,<3), and one inside brackets separates extras.
REQUIREMENT_SEPARATOR = re.compile(r"[\s,]+(?![~=!<>])(?![^\[]*\])")

# The value cookiecutter.json gives a private value (__image, ...) when the
# answers it is derived from are not there: a replay file that lacks the
# private value makes cookiecutter render it on its own, without the other
# answers. The pre-generation hook refuses a course that holds it.
MISSING_PRIVATE = "not-in-the-replay-file"


def yes_no_questions(template: Path = TEMPLATE_FOLDER) -> tuple[str, ...]:
    """The questions cookiecutter.json asks as yes/no: those whose default is true or false."""
    questions = json.loads((template / "cookiecutter.json").read_text(encoding="utf-8"))
    return tuple(name for name, default in questions.items() if isinstance(default, bool) and not name.startswith("_"))


def split_requirements(packages: str) -> list[str]:
    """Split the packages answer into requirement strings, in order."""
    return [part for part in REQUIREMENT_SEPARATOR.split(packages.strip()) if part]


def pytorch_cpu_packages(packages: str, gpu: bool) -> list[str]:
    """The PyTorch packages a course without GPUs takes from PyTorch's CPU-only index."""
    names = []
    for requirement in split_requirements(packages):
        name = re.split(r"[\[<>=!~]", requirement.lower(), maxsplit=1)[0]
        if name in PYTORCH_PACKAGES and name not in names:
            names.append(name)
    return [] if gpu else names


def is_stacks(base_image: str) -> bool:
    """A Jupyter Docker Stacks base (conda, user jovyan)."""
    return base_image.startswith("jupyter-")


def project_folder(slug: str) -> str:
    """The folder cookiecutter creates: the slug, or, for one the hook will refuse, a name that
    cannot reach outside the output folder or meet an existing one."""
    if slug and len(slug) <= MAX_SLUG and SLUG.fullmatch(slug):
        return slug
    return f"invalid-project-slug-{uuid.uuid4()}"


def base_image_reference(base_image: str, python_version: str, custom_base_image: str) -> str:
    if base_image == "python-slim":
        return f"python:{python_version}-slim"
    if base_image == "custom":
        return custom_base_image
    return f"quay.io/jupyter/{base_image.removeprefix('jupyter-')}:python-{python_version}"


def derived_answers(answers: dict) -> dict[str, str]:
    """The private values, derived from the public answers."""
    slug, base = answers["project_slug"], answers["base_image"]
    pytorch = pytorch_cpu_packages(answers["packages"], answers["gpu"])
    return {
        "__project_dir": project_folder(slug),
        "__image": f"{answers['image_registry']}/{slug}",
        "__base_image": base_image_reference(base, answers["python_version"], answers["custom_base_image"]),
        "__stacks": "yes" if is_stacks(base) else "",
        "__user": "jovyan" if is_stacks(base) else "student",
        "__default_url": "/lab" if answers["interface"] == "lab" else "/tree",
        "__pytorch_cpu": json.dumps(pytorch) if pytorch else "",
    }


def derived(answers: dict, name: str) -> str:
    """One private value, as cookiecutter.json asks for it: {{ cookiecutter | derived('__image') }}."""
    return derived_answers(answers)[name]


class AnswerRules(Extension):
    """Gives cookiecutter.json the `derived` filter, the hooks the template's folder, the
    Makefile the skip-lock variable's name."""

    def __init__(self, environment):
        super().__init__(environment)
        environment.filters["derived"] = derived
        environment.globals["answer_rules_folder"] = str(TEMPLATE_FOLDER)
        environment.globals["skip_lock_variable"] = SKIP_LOCK_VARIABLE
