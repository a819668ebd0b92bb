"""Every combination of answers the tests bake or build, in one place."""

from __future__ import annotations

from pathlib import Path

from hooks.answer_rules import JUPYTER_STACKS_PYTHON, PYTHON_VERSIONS, is_stacks, yes_no_questions
from tests.support.answers import DEFAULT_ANSWERS, DEFAULTS
from tests.support.base_images import DEBIAN_SUITE_FOR_PYTHON

# The answers that are a choice in cookiecutter.json, and the yes/no ones.
CHOICES = {key: value for key, value in DEFAULTS.items() if isinstance(value, list) and not key.startswith("_")}
FLAGS = list(yes_no_questions())
# Answers that change the files' shape, rotated through the combinations.
APT_PACKAGES = "graphviz libgl1"
REGISTRY_WITH_PORT = "registry.example.edu:5000/courses"
MIRROR = "registry.example.edu:5000/mirror"
PYTORCH = "numpy, torch, torchvision"


def combination_name(answers: dict) -> str:
    """A readable id: the Python, base and interface, then what differs from the defaults."""
    parts = [f"py{answers['python_version']}", answers["base_image"], answers["interface"]]
    for flag in FLAGS:
        if answers[flag] != DEFAULTS[flag]:
            parts.append(flag.replace("_", "-") if answers[flag] else f"no-{flag.replace('_', '-')}")
    if answers["apt_packages"]:
        parts.append("apt")
    if answers["packages"] == PYTORCH:
        parts.append("pytorch")
    if answers["jupyter_port"] != DEFAULTS["jupyter_port"]:
        parts.append(f"port-{answers['jupyter_port']}")
    if answers["image_registry"] == REGISTRY_WITH_PORT:
        parts.append("registry-port")
    return "-".join(parts)


def with_base(answers: dict) -> dict:
    """The answers made to fit their base image: a Python the base has, a name for a custom base."""
    if is_stacks(answers["base_image"]) and answers["python_version"] not in JUPYTER_STACKS_PYTHON:
        answers["python_version"] = JUPYTER_STACKS_PYTHON[-1]
    if answers["base_image"] == "custom":
        answers["custom_base_image"] = f"{MIRROR}/python:{answers['python_version']}-slim"
        answers["image_registry"] = REGISTRY_WITH_PORT
    return answers


def generate_combinations() -> dict[str, dict]:
    """Complete answers (defaults merged in) from cookiecutter.json's own options.

    The defaults first; then one combination per other value of each choice,
    the other answers rotated through them: yes/no answers flipped in every
    combination (alternate halves), system packages, PyTorch, another port and a registry with a
    port in some. So every choice value and both values of every yes/no answer are
    baked, and a new option or value is baked as soon as cookiecutter.json has it.
    """
    rows = [dict(DEFAULT_ANSWERS)]
    for key, values in CHOICES.items():
        for value in values[1:]:
            row = len(rows)
            answers = with_base({**DEFAULT_ANSWERS, key: value})
            # Half the yes/no answers flipped, the other half in the next combination.
            answers.update({flag: not DEFAULTS[flag] for number, flag in enumerate(FLAGS) if (row + number) % 2})
            if row % 3:
                answers["apt_packages"] = APT_PACKAGES
            if row % 4 == 3:
                answers["jupyter_port"] = "9999"
            if row % 3 == 2:
                answers["packages"] = PYTORCH
            rows.append(answers)
    # The desktop installs its packages in each base's own way: baked on every base.
    for base in CHOICES["base_image"]:
        if not any(row["desktop"] and row["base_image"] == base for row in rows):
            rows.append(with_base({**DEFAULT_ANSWERS, "base_image": base, "desktop": True}))
    return {("default" if answers == DEFAULT_ANSWERS else combination_name(answers)): answers for answers in rows}


# Baked and checked statically (test_generation.py): files, lint, answers.
COMBINATIONS = generate_combinations()


# Courses built and run for real. Multiply what changes the image (Python and
# its base, interface, package set, system packages); everything else is
# checked statically in test_generation.py.
SMALL = "numpy"
DATA_SCIENCE = "numpy pandas matplotlib scipy scikit-learn seaborn"
DESKTOP_COURSE = "py3.13-lab-desktop-flask"
CUSTOM_BASE = f"registry.example.edu/mirror/python:{DEFAULT_ANSWERS['python_version']}-slim"
BUILT_COURSES = {
    "default": {},
    "py3.11-notebook-small-no-hub": {"python_version": "3.11", "interface": "notebook", "packages": "requests",
                                     "jupyterhub": False},
    "py3.13-lab-data-science-graphviz": {"packages": DATA_SCIENCE, "apt_packages": "graphviz"},
    "py3.14-lab-small": {"python_version": "3.14", "packages": SMALL},
    "py3.13-custom-base-notebook": {"base_image": "custom", "custom_base_image": CUSTOM_BASE,
                                    "interface": "notebook", "packages": SMALL},
    DESKTOP_COURSE: {"desktop": True, "packages": "matplotlib, flask, pygame"},
}
# Generated and linted by test_generation.py but never built by the suite, and why.
CHECKED_STATICALLY = {
    "Jupyter Docker Stacks bases (minimal-notebook, scipy-notebook)":
        "the suite builds stand-ins only for python:*-slim; the conda-based images have none",
    f"Python {' and '.join(sorted(set(PYTHON_VERSIONS) - set(DEBIAN_SUITE_FOR_PYTHON)))} bases":
        "no Debian release ships these Pythons to build a stand-in from",
    "gpu=yes": "it needs an NVIDIA GPU and the NVIDIA container toolkit",
}


def answers_for(name: str) -> dict:
    """The answers of a built course, defaults included; each gets its own slug, so its own image and project."""
    answers = {**DEFAULT_ANSWERS, **BUILT_COURSES[name]}
    if name != "default":
        answers["project_slug"] = f"course-{name.replace('.', '')}"
    return answers


def image_of(project: Path) -> str:
    return f"{DEFAULTS['image_registry']}/{project.name}:latest"


def makefile_image(project: Path) -> str:
    """The image a course's Makefile names (IMAGE :=), without a tag: whatever registry it was generated with."""
    return next(line.split(":= ", 1)[1] for line in (project / "Makefile").read_text().splitlines()
                if line.startswith("IMAGE := "))
