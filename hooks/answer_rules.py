"""The rules the answers follow, in one place.

cookiecutter.json derives its private values through `AnswerRules` (a Jinja
extension it names in `_extensions`), the pre-generation hook checks the
answers with `check_answers`, and the post-generation hook splits the
packages with the same functions. Choices and yes/no questions are read from
cookiecutter.json itself. Plain Python and Jinja only: cruft runs it too.
"""

from __future__ import annotations

import json
import re
import shlex
import unicodedata
import uuid
from pathlib import Path

from jinja2.ext import Extension

# The template's folder, where cookiecutter.json is. Cookiecutter and cruft put
# it on the import path; the hooks, run from a temporary copy, are told it.
TEMPLATE_FOLDER = Path(__file__).resolve().parent.parent

# Newest first, as the question lists them.
PYTHON_VERSIONS = ("3.14", "3.13", "3.12", "3.11", "3.10")
# quay.io/jupyter/* publishes a python-X.Y tag only for these versions.
JUPYTER_STACKS_PYTHON = ("3.11", "3.12", "3.13")
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

# The organisation cookiecutter.json's default addresses name: no registry has
# a course image under it, and no course repository is there.
PLACEHOLDER_ORGANISATION = "your-org"

# The value cookiecutter.json gives a private value (__image, ...) when the
# answers it is derived from are not there: a replay file that lacks the
# private value makes cookiecutter render it on its own, without the other
# answers. The pre-generation hook refuses a course that holds it.
MISSING_PRIVATE = "not-in-the-replay-file"

# ASCII digits only (str.isdigit() also takes "٨٨٨٨" and "²²²²"), no leading zero.
PORT = re.compile(r"[1-9][0-9]{3,4}")
# A registry host with an optional port, then lowercase path components,
# as `docker build -t` accepts them (no tag or digest: the slug is appended).
REGISTRY = re.compile(
    r"[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
# Same grammar plus an optional tag or digest.
IMAGE_REFERENCE = re.compile(REGISTRY.pattern + r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?")
# What real addresses use, nothing a shell, a Dockerfile or YAML would read:
# dot-separated atoms of letters, digits and _ % + - before the @, host name
# labels after it.
EMAIL = re.compile(
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
# Debian policy 5.6.1: lowercase letters, digits, + - . ; at least two
# characters, starting with a letter or digit. Not ending in -: apt reads
# `tini-` as "remove tini". (A trailing + is part of real names such as g++;
# the image build installs exact names only, see the Dockerfile.)
DEBIAN_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]*[a-z0-9+.]")

# PEP 508 name, optional extras, optional version specifiers; nothing else
# (no URLs, paths, markers or pip options).  Specifiers are written without
# spaces so that a space can separate requirements.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_VERSION = r"[A-Za-z0-9_.*+!-]+"
_SPECIFIER = rf"(?:~=|===|==|!=|<=|>=|<|>){_VERSION}"
REQUIREMENT = re.compile(rf"{_NAME}(?:\[{_NAME}(?:,{_NAME})*\])?(?:{_SPECIFIER}(?:,{_SPECIFIER})*)?")
# What pip and uv read as a file beside requirements.in, not a name on the index.
PACKAGE_FILE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".egg")


# A package index address: https, a host, then path characters only (no
# quotes, spaces, backslashes or fragments), as TOML and uv read it. Plain
# http only on this computer (a local mirror): elsewhere anyone on the way
# could serve other files.
INDEX_URL = re.compile(
    r"(?:https://[A-Za-z0-9.-]+|http://(?:127\.0\.0\.1|localhost))(?::[0-9]+)?(?:/[A-Za-z0-9._~%+-]*)*"
)

# Where students clone the course from: https, a host, then path characters
# only. No user name or password (the address is printed in the students'
# README), no query or fragment.
_HTTPS_HOST = r"https://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]+)?"
_PATH_SEGMENT = r"/[A-Za-z0-9._~%+-]+"
REPOSITORY_URL = re.compile(rf"{_HTTPS_HOST}(?:{_PATH_SEGMENT})+/?")
# The department's hub, printed as a link in the students' README: the same
# characters, a path not required.
HUB_URL = re.compile(rf"{_HTTPS_HOST}(?:{_PATH_SEGMENT})*/?")

# Longest answers accepted: a slug is also a DNS label (compose network names,
# Kubernetes), and Docker refuses image names (<registry>/<slug>) over 255
# characters.
MAX_LENGTH = {
    "course_name": 120,
    "project_slug": MAX_SLUG,
    "instructor_name": 120,
    "instructor_email": 254,
    "image_registry": 180,
    "repository_url": 300,
    "hub_url": 300,
    "custom_base_image": 255,
    "packages": 2000,
    "apt_packages": 1000,
}
MAX_IMAGE_NAME = 255
# Unicode categories that never belong in a one-line answer: controls (C0 and
# C1), format characters (bidi overrides, zero-width spaces), surrogates,
# private use, and line and paragraph separators.
REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
ZERO_WIDTH_JOINER = "\u200d"
EMOJI_PRESENTATION = "\ufe0f"


def questions(template: Path = TEMPLATE_FOLDER) -> dict:
    """cookiecutter.json: the questions, their defaults and their choices."""
    return json.loads((template / "cookiecutter.json").read_text(encoding="utf-8"))


def yes_no_questions(template: Path = TEMPLATE_FOLDER) -> tuple[str, ...]:
    """The questions cookiecutter.json asks as yes/no: those whose default is true or false."""
    return tuple(name for name, default in questions(template).items()
                 if isinstance(default, bool) and not name.startswith("_"))


def choices(question: str, template: Path = TEMPLATE_FOLDER) -> tuple[str, ...]:
    """The values cookiecutter.json offers for a multiple-choice question (base_image, interface)."""
    return tuple(questions(template)[question])


def holds_placeholder(address: str) -> bool:
    """Whether an image or repository address still names the template's placeholder organisation."""
    return f"/{PLACEHOLDER_ORGANISATION}/" in f"{address}/"


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


def derived_default(template: str, answers: dict) -> str | None:
    """A default cookiecutter.json derives from the other answers (project_slug from course_name), as it does."""
    from cookiecutter.environment import StrictEnvironment

    try:
        environment = StrictEnvironment(context={"cookiecutter": questions()})
        return environment.from_string(template).render(cookiecutter=answers)
    except Exception:  # an answer the template cannot derive from: the answer itself is then printed
        return None


def run_again(answers: dict, refused: str) -> str:
    """cookiecutter's command with the answers given (those that are not the defaults), the refused one to fill in.

    Each value is quoted for the shell; one with invisible characters is left out (it would be asked again).
    """
    defaults = questions()
    given = []
    for name, value in answers.items():
        if name.startswith("_") or name == refused or name not in defaults:
            continue
        default = defaults[name][0] if isinstance(defaults[name], list) else defaults[name]
        if isinstance(default, str) and "{{" in default:
            default = derived_default(default, answers)
        if isinstance(default, bool):
            value, default = ("yes" if value else "no"), ("yes" if default else "no")
        if str(value) != str(default) and str(value).isprintable():
            given.append(f"{name}={shlex.quote(str(value))}")
    if refused in defaults:
        given.append(f"{refused}=...")
    template = shlex.quote(str(answers.get("_template") or "gh:ORG/cookiecutter-jupyter-course"))
    return " ".join(["uvx cookiecutter --no-input", template, *given])


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


class AnswerRules(Extension):
    """Gives cookiecutter.json the `derived` filter, the hooks the template's folder, the
    Makefile the skip-lock variable's name and whether the course names the placeholder."""

    def __init__(self, environment):
        super().__init__(environment)
        environment.filters["derived"] = derived
        environment.globals["answer_rules_folder"] = str(TEMPLATE_FOLDER)
        environment.globals["skip_lock_variable"] = SKIP_LOCK_VARIABLE
        environment.globals["holds_placeholder"] = holds_placeholder
