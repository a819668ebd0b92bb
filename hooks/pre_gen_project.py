"""Check every answer before anything is generated.

Cookiecutter renders this file, so the answers arrive as JSON data (never as
code) at the bottom; everything above is plain Python that tests import. The
rules shared with cookiecutter.json and the other hook are in answer_rules.py.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata

if __name__ == "__main__":
    # Cookiecutter runs a rendered copy of this file from a temporary folder:
    # the template's folder, where the rules are, comes as data.
    sys.path.insert(0, json.loads(r'''{{ answer_rules_folder | tojson }}'''))

from hooks.answer_rules import (  # noqa: E402
    DEBIAN_PACKAGE,
    EMAIL,
    EMOJI_PRESENTATION,
    HUB_URL,
    IMAGE_REFERENCE,
    INDEX_URL,
    JUPYTER_STACKS_PYTHON,
    MAX_LENGTH,
    MISSING_PRIVATE,
    PACKAGE_FILE_SUFFIXES,
    PORT,
    PYTHON_VERSIONS,
    REFUSED_CATEGORIES,
    REGISTRY,
    REPOSITORY_URL,
    REQUIREMENT,
    SLUG,
    ZERO_WIDTH_JOINER,
    choices,
    derived_answers,
    is_stacks,
    run_again,
    split_requirements,
    yes_no_questions,
)


class InvalidAnswer(ValueError):
    """An answer that cannot produce a working course repository."""


def joins_an_emoji(text: str, index: int) -> bool:
    """True for a zero-width joiner inside an emoji sequence (👩‍🏫), the one place it belongs."""
    before = text[index - 1] if index > 0 else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    emoji_before = before == EMOJI_PRESENTATION or unicodedata.category(before or " ") in ("So", "Sk")
    return emoji_before and unicodedata.category(after or " ") == "So"


def check_text(name: str, value: object, *, required: bool = True) -> None:
    if not isinstance(value, str):
        raise InvalidAnswer(f"{name} {value!r} must be text")
    if required and not value.strip():
        raise InvalidAnswer(f"{name} must not be empty")
    limit = MAX_LENGTH.get(name)
    if limit is not None and len(value) > limit:
        raise InvalidAnswer(f"{name} is {len(value)} characters long: at most {limit} are allowed")
    # A control character (newline, tab, escape, U+2028) could start a new line
    # in a Dockerfile label, a YAML value or the shell; bidi overrides and
    # invisible characters make text read differently from what it is.
    for index, char in enumerate(value):
        if unicodedata.category(char) in REFUSED_CATEGORIES and not (
            char == ZERO_WIDTH_JOINER and joins_an_emoji(value, index)
        ):
            raise InvalidAnswer(
                f"{name} must be a single line of visible text: it contains U+{ord(char):04X} "
                f"({unicodedata.name(char, 'a control character').lower()})"
            )


def check_slug(slug: str) -> None:
    if not SLUG.fullmatch(slug):
        raise InvalidAnswer(
            f"project_slug {slug!r} is not valid: use lowercase letters, digits and single "
            "hyphens, e.g. intro-to-data-science"
        )


def check_email(email: str) -> None:
    if not EMAIL.fullmatch(email):
        raise InvalidAnswer(
            f"instructor_email {email!r} is not a plain email address such as ada@example.edu "
            "(letters, digits, . _ % + - before the @)"
        )


def check_registry(registry: str) -> None:
    if not REGISTRY.fullmatch(registry):
        raise InvalidAnswer(
            f"image_registry {registry!r} is not valid: use a lowercase registry path "
            "such as ghcr.io/your-org or docker.io/yourname"
        )
    # Docker reads the first part as a host only when it has a dot or a port
    # (or is localhost); otherwise the image would go to Docker Hub while the
    # CI workflow logs in to a host of that name.
    host = registry.split("/", 1)[0]
    if not ("." in host or ":" in host or host == "localhost"):
        raise InvalidAnswer(
            f"image_registry {registry!r} does not start with a registry host: write "
            f"docker.io/{registry} for Docker Hub, or e.g. ghcr.io/{registry}"
        )


def check_repository_url(url: str, name: str = "repository_url") -> None:
    if not REPOSITORY_URL.fullmatch(url):
        raise InvalidAnswer(
            f"{name} {url!r} is not a plain https address such as https://github.com/your-org/course "
            "(no user name, password, spaces or ?query)"
        )


def check_hub_url(url: str, jupyterhub: bool) -> None:
    if not url:
        return
    if not HUB_URL.fullmatch(url):
        raise InvalidAnswer(
            f"hub_url {url!r} is not a plain https address such as https://hub.example.edu "
            "(no user name, password, spaces or ?query), or empty for no hub"
        )
    if not jupyterhub:
        raise InvalidAnswer(
            "hub_url names a hub, but jupyterhub is no: answer yes to make the image JupyterHub-ready, "
            "or leave hub_url empty"
        )


def check_base_image(base_image: str, python_version: str, custom_base_image: str) -> None:
    if base_image not in choices("base_image"):
        raise InvalidAnswer(f"base_image {base_image!r} is not one of {', '.join(choices('base_image'))}")
    if is_stacks(base_image) and python_version not in JUPYTER_STACKS_PYTHON:
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
        name = custom_base_image.split("@", 1)[0]
        if "@" in custom_base_image and ":" not in name.rsplit("/", 1)[-1]:
            # make freeze moves the digest to the newest build of the tag: without a
            # tag that would be :latest, whatever it is.
            raise InvalidAnswer(
                f"custom_base_image {custom_base_image!r} names a digest without a tag: name both, "
                f"e.g. {name}:3.13-slim@{custom_base_image.split('@', 1)[1]}"
            )
    elif custom_base_image:
        raise InvalidAnswer("custom_base_image is only used with base_image=custom: leave it empty")


def check_python_version(version: str) -> None:
    if version not in PYTHON_VERSIONS:
        hint = ""
        if f"{version}0" in PYTHON_VERSIONS:
            # YAML reads python_version: 3.10 as the number 3.1.
            hint = f' (in a YAML file, quote it: python_version: "{version}0")'
        raise InvalidAnswer(f"python_version {version!r} is not one of {', '.join(PYTHON_VERSIONS)}{hint}")


def check_packages(packages: str) -> None:
    check_text("packages", packages, required=False)
    for requirement in split_requirements(packages):
        if not REQUIREMENT.fullmatch(requirement) or requirement.lower().endswith(PACKAGE_FILE_SUFFIXES):
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
    if not PORT.fullmatch(text) or not 1024 <= int(text) <= 65535:
        raise InvalidAnswer(f"jupyter_port {text!r} must be a number from 1024 to 65535 (digits 0-9, no leading zero)")


def check_jupyterhub_version(major: object) -> None:
    # A department's config file may write it as a YAML number: 6, not "6".
    if isinstance(major, int) and not isinstance(major, bool):
        major = str(major)
    if not (isinstance(major, str) and re.fullmatch(r"[1-9][0-9]?", major)):
        raise InvalidAnswer(f"_jupyterhub_version {major!r} must be a major version number such as 6")


def check_chart_version(version: object) -> None:
    if not (isinstance(version, str) and re.fullmatch(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", version)):
        raise InvalidAnswer(f"_z2jh_chart_version {version!r} must be a chart version such as 4.4.0")


def check_index_url(name: str, url: object) -> None:
    if not (isinstance(url, str) and INDEX_URL.fullmatch(url)):
        raise InvalidAnswer(
            f"{name} {url!r} must be the address of a package index, such as "
            "https://download.pytorch.org/whl/cpu or a mirror of it"
        )


def check_derived(answers: dict) -> None:
    """Refuse private values given on the command line: they bypass every check above."""
    for name, expected in derived_answers(answers).items():
        if answers.get(name) != expected:
            raise InvalidAnswer(
                f"{name} is derived from the other answers and cannot be set: leave it out "
                f"(from these answers it is {expected!r})"
            )


def check_replay_complete(answers: dict) -> None:
    """A replay file without some values: cookiecutter derives each alone, without the answers it needs."""
    missing = [name for name, value in answers.items() if value == MISSING_PRIVATE]
    if missing:
        raise InvalidAnswer(
            f"the replay file has no {', '.join(missing)} (it was written by another version of the "
            "template): put its public answers under default_context in a config file and run "
            "cookiecutter --config-file FILE --no-input instead"
        )


def check_answers(answers: dict) -> None:
    """Raise InvalidAnswer for the first answer that cannot work."""
    check_replay_complete(answers)
    check_text("course_name", answers["course_name"])
    check_text("project_slug", answers["project_slug"], required=False)
    check_slug(answers["project_slug"])
    check_text("instructor_name", answers["instructor_name"])
    check_text("instructor_email", answers["instructor_email"])
    check_email(answers["instructor_email"])
    check_text("image_registry", answers["image_registry"])
    check_registry(answers["image_registry"])
    check_text("repository_url", answers["repository_url"])
    check_repository_url(answers["repository_url"])
    check_python_version(answers["python_version"])
    check_text("custom_base_image", answers["custom_base_image"], required=False)
    check_base_image(answers["base_image"], answers["python_version"], answers["custom_base_image"])
    check_packages(answers["packages"])
    check_apt_packages(answers["apt_packages"])
    check_choice("interface", answers["interface"], choices("interface"))
    for flag in yes_no_questions():
        check_flag(flag, answers[flag])
    check_text("hub_url", answers["hub_url"], required=False)
    check_hub_url(answers["hub_url"], answers["jupyterhub"])
    check_port(answers["jupyter_port"])
    check_jupyterhub_version(answers["_jupyterhub_version"])
    check_chart_version(answers["_z2jh_chart_version"])
    check_index_url("_pytorch_cpu_index", answers["_pytorch_cpu_index"])
    check_text("_template_repository", answers["_template_repository"])
    check_repository_url(answers["_template_repository"], "_template_repository")
    check_derived(answers)


# Cookiecutter reports every failed hook after it, with a traceback: the rules
# frame the reason so that it stands out above that report.
RULE = "=" * 72


def refusal(error: InvalidAnswer, answers: dict) -> str:
    # Every message starts with the answer it is about.
    refused = str(error).split(" ", 1)[0].rstrip(":")
    return "\n".join([
        "", RULE, f"ERROR: {error}",
        "Nothing was generated. To keep your other answers, run this with the corrected answer in place of ...:",
        f"  {run_again(answers, refused)}",
        "(The report below, cookiecutter's own, only repeats that generation stopped.)", RULE, "",
    ])


def main(answers: dict) -> int:
    try:
        check_answers(answers)
    except InvalidAnswer as error:
        print(refusal(error, answers), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r'''{{ cookiecutter | tojson }}''')))
