"""Check every answer before anything is generated.

Cookiecutter renders this file, so the answers arrive as JSON data (never as
code) at the bottom; everything above is plain Python that tests import.
"""

from __future__ import annotations

import json
import re
import sys

PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
BASE_IMAGES = ("python-slim", "jupyter-minimal-notebook", "jupyter-scipy-notebook", "custom")
# quay.io/jupyter/* publishes a python-X.Y tag only for these versions.
JUPYTER_STACKS_PYTHON = ("3.11", "3.12", "3.13")
INTERFACES = ("lab", "notebook")

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# A registry host with an optional port, then lowercase path components,
# as `docker build -t` accepts them (no tag or digest: the slug is appended).
REGISTRY = re.compile(
    r"[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
# Same grammar plus an optional tag or digest.
IMAGE_REFERENCE = re.compile(REGISTRY.pattern + r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?")
EMAIL = re.compile(r"[^@\s\"'<>\\]+@[^@\s\"'<>\\]+\.[A-Za-z]{2,}")
# Debian policy 5.6.1: lowercase letters, digits, + - . ; at least two
# characters, starting with a letter or digit.
DEBIAN_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")

# PEP 508 name, optional extras, optional version specifiers; nothing else
# (no URLs, paths, markers or pip options).  Specifiers are written without
# spaces so that a space can separate requirements.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_VERSION = r"[A-Za-z0-9_.*+!-]+"
_SPECIFIER = rf"(?:~=|===|==|!=|<=|>=|<|>){_VERSION}"
REQUIREMENT = re.compile(rf"{_NAME}(?:\[{_NAME}(?:,{_NAME})*\])?(?:{_SPECIFIER}(?:,{_SPECIFIER})*)?")
# Requirements are separated by commas or white space; a comma followed by an
# operator continues the previous requirement's specifier list, and one inside
# brackets separates extras.
REQUIREMENT_SEPARATOR = re.compile(r"[\s,]+(?![~=!<>])(?![^\[]*\])")


class InvalidAnswer(ValueError):
    """An answer that cannot produce a working course repository."""


def split_requirements(packages: str) -> list[str]:
    """Split the packages answer into requirement strings, in order."""
    return [part for part in REQUIREMENT_SEPARATOR.split(packages.strip()) if part]


def check_text(name: str, value: str, *, required: bool = True) -> None:
    if required and not value.strip():
        raise InvalidAnswer(f"{name} must not be empty")
    # A control character (newline, tab, escape) could start a new line in a
    # Dockerfile label, a YAML value or the shell.
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise InvalidAnswer(f"{name} must be a single line of text")


def check_slug(slug: str) -> None:
    if not SLUG.fullmatch(slug):
        raise InvalidAnswer(
            f"project_slug {slug!r} is not valid: use lowercase letters, digits and single "
            "hyphens, e.g. intro-to-data-science"
        )


def check_email(email: str) -> None:
    if not EMAIL.fullmatch(email):
        raise InvalidAnswer(f"instructor_email {email!r} is not an email address")


def check_registry(registry: str) -> None:
    if not REGISTRY.fullmatch(registry):
        raise InvalidAnswer(
            f"image_registry {registry!r} is not valid: use a lowercase registry path "
            "such as ghcr.io/your-org or docker.io/yourname"
        )


def check_base_image(base_image: str, python_version: str, custom_base_image: str) -> None:
    if base_image not in BASE_IMAGES:
        raise InvalidAnswer(f"base_image {base_image!r} is not one of {', '.join(BASE_IMAGES)}")
    if base_image.startswith("jupyter-") and python_version not in JUPYTER_STACKS_PYTHON:
        raise InvalidAnswer(
            f"base_image {base_image} has no python-{python_version} tag: the Jupyter Docker "
            f"Stacks publish Python {', '.join(JUPYTER_STACKS_PYTHON)}; choose one of those "
            "or the python-slim base"
        )
    if base_image == "custom":
        if not IMAGE_REFERENCE.fullmatch(custom_base_image):
            raise InvalidAnswer(
                f"custom_base_image {custom_base_image!r} is not an image reference such as "
                "registry.example.edu/python:3.13-slim"
            )
    elif custom_base_image:
        raise InvalidAnswer("custom_base_image is only used with base_image=custom: leave it empty")


def check_python_version(version: str) -> None:
    if version not in PYTHON_VERSIONS:
        raise InvalidAnswer(f"python_version {version!r} is not one of {', '.join(PYTHON_VERSIONS)}")


def check_packages(packages: str) -> None:
    check_text("packages", packages, required=False)
    for requirement in split_requirements(packages):
        if not REQUIREMENT.fullmatch(requirement):
            raise InvalidAnswer(
                f"packages: {requirement!r} is not a plain requirement; write names with "
                "optional extras and versions, e.g. numpy>=2 pandas[excel] (no URLs, paths, "
                "markers or pip options)"
            )


def check_apt_packages(apt_packages: str) -> None:
    check_text("apt_packages", apt_packages, required=False)
    for name in apt_packages.split():
        if not DEBIAN_PACKAGE.fullmatch(name):
            raise InvalidAnswer(
                f"apt_packages: {name!r} is not a Debian package name (lowercase letters, "
                "digits, + - .), separate names with spaces"
            )


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidAnswer(f"{name} {value!r} is not one of {', '.join(allowed)}")


def check_flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidAnswer(f"{name} {value!r} must be yes or no")


def check_port(port: object) -> None:
    text = str(port)
    if not text.isdigit() or not 1024 <= int(text) <= 65535:
        raise InvalidAnswer(f"jupyter_port {text!r} must be a number from 1024 to 65535")


def check_answers(answers: dict) -> None:
    """Raise InvalidAnswer for the first answer that cannot work."""
    check_text("course_name", answers["course_name"])
    check_slug(answers["project_slug"])
    check_text("instructor_name", answers["instructor_name"])
    check_email(answers["instructor_email"])
    check_registry(answers["image_registry"])
    check_python_version(answers["python_version"])
    check_base_image(answers["base_image"], answers["python_version"], answers["custom_base_image"])
    check_packages(answers["packages"])
    check_apt_packages(answers["apt_packages"])
    check_choice("interface", answers["interface"], INTERFACES)
    for flag in ("gpu", "include_ci", "include_devcontainer", "jupyterhub"):
        check_flag(flag, answers[flag])
    check_port(answers["jupyter_port"])


def main(answers: dict) -> int:
    try:
        check_answers(answers)
    except InvalidAnswer as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r'''{{ cookiecutter | tojson }}''')))
