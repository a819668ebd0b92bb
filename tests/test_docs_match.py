"""The generated docs name only what the course has: its files, folders and make targets."""

from __future__ import annotations

import ast
import json
import re

import pytest
import yaml

from hooks.answer_rules import PYTHON_VERSIONS
from tests.support.answers import DEFAULTS, TEMPLATE
from tests.support.git import git

COURSES = {
    "default": {},
    "pytorch": {"packages": "numpy, torch"},
    "docker-stacks": {"base_image": "jupyter-scipy-notebook", "python_version": "3.13"},
    "desktop": {"desktop": True},
    "no-hub": {"jupyterhub": False},
    "no-hub-no-devcontainer-no-ci": {"jupyterhub": False, "include_devcontainer": False, "include_ci": False},
}
DOCS = ("README.md", "INSTRUCTORS.md", "IT.md", "deploy/jupyterhub/README.md")
# Named by the docs but made later, by someone: generation from a repository (.cruft.json), a running course
# (work/course), the student (.env), make freeze (.semester), a running hub (its state folder), make lock or
# generation when it pins (requirements-summary.md).
MADE_LATER = {".cruft.json", "work/course", ".env", ".semester", "deploy/jupyterhub/state/", "requirements-summary.md"}
# A backticked path: a file with a known ending, or something with a slash (not an address or an image).
PATH = re.compile(r"\.?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]*)*/?")
FILE_ENDINGS = (".md", ".txt", ".in", ".yaml", ".yml", ".toml", ".json", ".py", ".sh", ".ipynb")


@pytest.fixture(scope="module", params=list(COURSES), ids=list(COURSES))
def course(request, bake_static):
    return bake_static({**COURSES[request.param], "image_registry": "ghcr.io/ada-teaches"})


def named_paths(text: str) -> set[str]:
    names = set()
    for token in re.findall(r"`([^`\n]+)`", text):
        if not PATH.fullmatch(token) or token.startswith(("ghcr.io/", "quay.io/", "registry.", "localhost")):
            continue
        if "/" in token or token.endswith(FILE_ENDINGS) or token in ("Dockerfile", "Makefile"):
            names.add(token)
    return names


def test_every_file_and_folder_the_docs_name_is_in_the_course(course):
    missing = []
    for doc in DOCS:
        if not (course / doc).exists():
            continue
        for name in named_paths((course / doc).read_text()) - MADE_LATER:
            found = (course / name.rstrip("/")).exists() or (
                "/" not in name and any(course.rglob(name)))  # a file named inside its folder's row
            if not found:
                missing.append(f"{doc}: {name}")
    assert missing == []


def test_every_make_target_the_docs_name_is_in_the_makefile(course):
    targets = set(re.findall(r"^([a-z-]+):", (course / "Makefile").read_text(), re.MULTILINE))
    for doc in DOCS:
        if (course / doc).exists():
            named = set(re.findall(r"\bmake ([a-z][a-z-]*)", (course / doc).read_text()))
            assert named <= targets, (doc, named - targets)


def test_the_mirror_example_is_the_courses_own_base_image(course):
    base = re.search(r"^ARG BASE_IMAGE=(\S+)$", (course / "Dockerfile").read_text(), re.MULTILINE).group(1)
    example = f"--build-arg BASE_IMAGE=registry.example.edu/{base.split('/')[-1]}"
    assert example in (course / "INSTRUCTORS.md").read_text()
    assert example in (course / "Dockerfile").read_text()


def test_the_dev_container_is_mentioned_exactly_when_the_course_has_one(course):
    has_one = (course / ".devcontainer").is_dir()
    assert ("`.devcontainer/`" in (course / "INSTRUCTORS.md").read_text()) == has_one



def test_the_templates_address_is_written_once_and_every_doc_names_that_one(bake_static):
    address = DEFAULTS["_template_repository"]
    owner_and_name = address.removeprefix("https://github.com/")
    readme = (TEMPLATE / "README.md").read_text()
    assert set(re.findall(r"\bgh:([\w.-]+/[\w.-]*\w)", readme)) == {owner_and_name}
    assert set(re.findall(r"https://github\.com/[\w.-]+/cookiecutter-[\w.-]*\w", readme)) == {address}
    course = bake_static({})
    assert f"uvx cruft link {address}`" in (course / "INSTRUCTORS.md").read_text()


def readme_table(heading: str, doc: str = "README.md") -> list[tuple[str, str]]:
    """The rows (first column, rest) of the table under a heading of this repository's README (or another doc)."""
    section = (TEMPLATE / doc).read_text().split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [tuple(row.strip("| ").split(" | ", 1)) for row in rows]


def test_the_readmes_questions_table_has_a_row_for_each_question_of_cookiecutter_json():
    listed = [name for first, _ in readme_table("## The questions") for name in re.findall(r"`(\w+)`", first)]
    assert listed == [name for name in DEFAULTS if not name.startswith("_")]


def test_every_path_the_readmes_layout_table_names_exists_and_every_top_level_part_is_named():
    named = set()
    for first, what in readme_table("## Layout of this repository", "CONTRIBUTING.md"):
        paths = [path.rstrip("/").replace("\\|", "|") for path in re.findall(r"`([^`]+)`", first)]
        named |= {path.split("/")[0] for path in paths}
        for path in paths:
            assert (TEMPLATE / path).exists(), path
            for file in re.findall(r"`([\w.-]+\.(?:py|json))`", what):  # a file of that folder
                assert (TEMPLATE / path / file).exists() or (TEMPLATE / file).exists(), f"{path}: {file}"
    tracked = set(git("ls-files", cwd=TEMPLATE).stdout.split("\n")) - {""}
    assert {name.split("/")[0] for name in tracked} - {"README.md", "CONTRIBUTING.md", ".gitignore"} == named


def test_the_readme_gives_the_python_versions_the_hook_takes():
    row = dict(readme_table("## The questions"))["`python_version`"]
    assert row.startswith(f"{DEFAULTS['python_version']} | {PYTHON_VERSIONS[-1]} to {PYTHON_VERSIONS[0]}:"), row


def test_the_desktops_cost_is_the_measured_one_in_the_question_and_instructors_md(bake_static):
    # bench/desktop.py measures it (docs/benchmarks.json); the figures people read are those, to 10 MB.
    measured = json.loads((TEMPLATE / "docs" / "benchmarks.json").read_text())["desktop"]
    disk = round((measured["image size"]["desktop=yes"] - measured["image size"]["desktop=no"]) / 1e6, -1)
    download = round((measured["download"]["desktop=yes"]["bytes"] - measured["download"]["desktop=no"]["bytes"])
                     / 1e6, -1)
    assert DEFAULTS["__prompts__"]["desktop"].endswith(f"About {disk:.0f} MB more on disk, {download:.0f} MB more "
                                                        "to download")
    instructors = (bake_static({"desktop": True}) / "INSTRUCTORS.md").read_text()
    assert f"about {disk:.0f} MB more on disk and {download:.0f} MB more to download" in instructors


def test_the_readme_is_for_instructors_and_reads_in_a_few_minutes():
    readme = (TEMPLATE / "README.md").read_text()
    assert len(readme.split()) < 1500
    # Its two commands: the default course generated, the whole suite run (.ci/run checks the second too).
    assert "uvx cookiecutter --no-input .\n" in readme
    assert "python3 -m pip install uv && python3 -m uv run pytest\n" in readme
    assert "(CONTRIBUTING.md)" in readme


IT_COURSES = {
    "default": {},
    "desktop": {"desktop": True},
    "pytorch-docker-hub": {"packages": "numpy, torch", "image_registry": "docker.io/adateaches"},
    "stacks-own-git-server": {"base_image": "jupyter-scipy-notebook", "python_version": "3.13",
                              "image_registry": "registry.example.edu/teach",
                              "repository_url": "https://git.example.edu/ada/intro"},
    "custom-base-no-hub": {"base_image": "custom", "custom_base_image": "mirror.example.edu/python:3.13-slim",
                           "jupyterhub": False, "include_ci": False},
}


@pytest.mark.parametrize("answers", IT_COURSES.values(), ids=IT_COURSES.keys())
def test_the_it_page_names_every_host_the_courses_files_reach(bake_static, answers):
    project = bake_static(answers)
    page = (project / "IT.md").read_text()
    compose = (project / "compose.yaml").read_text()
    hosts = {re.search(r'image: "([^/"]+)/', compose).group(1), "pypi.org", "files.pythonhosted.org"}
    base = re.search(r"^ARG BASE_IMAGE=(\S+)", (project / "Dockerfile").read_text(), re.MULTILINE).group(1)
    first = base.split("/")[0]
    hosts.add(first if "/" in base and ("." in first or ":" in first) else "docker.io")
    hosts.add(re.search(r"git clone https://([^/]+)/", (project / "README.md").read_text()).group(1))
    pytorch = project / "pytorch-cpu" / "pyproject.toml"
    if pytorch.exists():
        hosts.add(re.search(r'url = "https?://([^/"]+)', pytorch.read_text()).group(1))
    novnc = project / "docker/build/install-novnc.py"
    if novnc.exists():
        hosts.add(re.search(r'^URL = f?"https://([^/"]+)/', novnc.read_text(), re.MULTILINE).group(1))
    missing = {host for host in hosts if f"`{host}`" not in page}
    assert not missing, page


def test_the_it_pages_class_of_200_uses_the_limits_the_hub_configurations_set(bake_static):
    project = bake_static({})
    page = (project / "IT.md").read_text()
    # The hub config's settings written as plain constants (MEMORY_LIMIT = "2G", ...).
    config = {node.targets[0].id: node.value.value
              for node in ast.parse((project / "deploy/jupyterhub/jupyterhub_config.py").read_text()).body
              if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
              and isinstance(node.value, ast.Constant)}
    values = yaml.safe_load((project / "deploy/z2jh/values.yaml").read_text())["singleuser"]
    assert f"at most {config['MEMORY_LIMIT'].removesuffix('G')} GB of memory and {config['CPU_LIMIT']:g} CPU" in page
    assert f"at {config['STUDENT_MEMORY_GB']:g} GB each, keeping 1 GB" in page
    assert f"about {200 * config['STUDENT_MEMORY_GB'] + 1:g} GB of memory" in page
    guarantee, limit = (float(values["memory"][key].removesuffix("G")) for key in ("guarantee", "limit"))
    assert f"guarantees {guarantee:g} GB and {values['cpu']['guarantee']:g} CPU" in page
    assert (f"{200 * guarantee:g} GB of memory guaranteed ({200 * limit:g} GB at the limits) and "
            f"{200 * values['cpu']['guarantee']:g} CPUs guaranteed, and "
            f"{200 * int(values['storage']['capacity'].removesuffix('Gi'))} GiB") in page
