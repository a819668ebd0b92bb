"""What an instructor gets: the files of each combination, valid and lint-clean."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from hooks import post_gen_project as post
from hooks.answer_rules import (
    PYTORCH_PACKAGES,
    SKIP_LOCK_VARIABLE,
    holds_placeholder,
    pytorch_cpu_packages,
    split_requirements,
)
from tests.support.answers import DEFAULT_SLUG, DEFAULTS, PROJECT_DIR, SKIP_LOCK, TEMPLATE, requirement_lines
from tests.support.engine import docker, engine
from tests.support.git import git
from tests.support.hub import config_function
from tests.support.matrices import CHOICES, COMBINATIONS, FLAGS

ALWAYS = {
    ".cookiecutter.json", ".dockerignore", ".env.example", ".gitattributes", ".gitignore", "Dockerfile",
    "INSTRUCTORS.md", "IT.md", "Makefile", "README.md", "build-requirements.txt", "compose.yaml",
    "course/00-check-environment.ipynb", "work/.gitkeep", "requirements-jupyter.in", "requirements.in",
    "requirements.txt", "tests/test_image.py", "uv.toml", "binder/Dockerfile",
    # By where each runs: through make, while the image is built, in the students' container.
    "docker/instructor/lock.py", "docker/instructor/write-sizes.sh",
    "docker/instructor/check-update.py", "docker/instructor/publishing.py", "docker/instructor/write-licences.py",
    "docker/build/install-course-packages.sh", "docker/build/lock-jupyter.sh", "docker/build/course_inventory.py",
    "docker/container/start-course.sh", "docker/container/healthcheck.py", "docker/container/jupyter_server_config.py",
    "docker/container/jupyterlab-overrides.json", "docker/container/jupyterlab-page-config.json",
    "docker/container/course_check.py", "docker/container/course_banner.py", "docker/container/course_saving.py",
}
# What the template is, at its root: what a zip or a copy of it holds.
TEMPLATE_PARTS = {"cookiecutter.json", "hooks", PROJECT_DIR}
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{\{|\{%|%\}|\{#")


@pytest.fixture(scope="module", params=list(COMBINATIONS), ids=list(COMBINATIONS))
def project(request, bake_static) -> Path:
    return bake_static(COMBINATIONS[request.param])


def answers_of(project: Path) -> dict:
    return json.loads((project / ".cookiecutter.json").read_text())


def files_of(project: Path, under: str = ".") -> set[str]:
    """The files of a project (or of one of its folders, or one file), as paths relative to it."""
    top = project / under
    paths = [top] if top.is_file() else top.rglob("*")
    return {path.relative_to(project).as_posix() for path in paths
            if path.is_file() and "__pycache__" not in path.parts}


# The suite bakes from this checkout: where it was cloned from a repository, courses record that (.cruft.json).
RECORDS_ITS_SOURCE = post.template_source({"_template": str(TEMPLATE), "_repo_dir": str(TEMPLATE)}) is not None


def test_exactly_the_chosen_files_exist(project):
    answers = answers_of(project)
    expected = set(ALWAYS) | ({".cruft.json"} if RECORDS_ITS_SOURCE else set())
    for question, paths in post.QUESTION_FILES.items():
        if answers[question]:
            expected |= {name for path in paths for name in files_of(TEMPLATE / PROJECT_DIR, under=path)}
    if pytorch_cpu_packages(answers["packages"], answers["gpu"]):
        expected |= {"pytorch-cpu/pyproject.toml"}
    if holds_placeholder(answers["__image"]):
        expected |= {post.BUILD_HERE}
    assert files_of(project) == expected


def test_pytorch_without_gpus_is_pinned_and_installed_through_its_cpu_index(project):
    answers = answers_of(project)
    uses = pytorch_cpu_packages(answers["packages"], answers["gpu"])
    dockerfile = (project / "Dockerfile").read_text()
    assert ("--sources /opt/course/pytorch-cpu/pyproject.toml" in dockerfile) == bool(uses)
    assert ("!pytorch-cpu/pyproject.toml" in (project / ".dockerignore").read_text()) == bool(uses)
    if uses:
        settings = tomllib.loads((project / "pytorch-cpu" / "pyproject.toml").read_text())
        assert settings["project"]["dependencies"] == uses
        assert settings["tool"]["uv"]["index"] == [
            {"name": "pytorch-cpu", "url": DEFAULTS["_pytorch_cpu_index"], "explicit": True}]
        assert set(settings["tool"]["uv"]["sources"]) == set(PYTORCH_PACKAGES)


def test_answers_given_are_the_answers_used(project, request):
    # cookiecutter silently ignores misspelt keys: prove each answer arrived.
    answers = answers_of(project)
    for key, value in COMBINATIONS[request.node.callspec.params["project"]].items():
        assert answers[key] == value, key


def test_every_choice_and_both_yes_no_values_are_baked():
    for key, values in CHOICES.items():
        assert {answers[key] for answers in COMBINATIONS.values()} == set(values), key
    for flag in FLAGS:
        assert {answers[flag] for answers in COMBINATIONS.values()} == {True, False}, flag
    # Every question of cookiecutter.json is answered in every combination (or derived: the slug, the repository).
    questions = {key for key in DEFAULTS if not key.startswith("_") and key not in ("project_slug", "repository_url")}
    for name, answers in COMBINATIONS.items():
        assert questions <= answers.keys(), name


def test_no_template_syntax_is_left(project):
    # Files copied without rendering keep their braces on purpose (docker's Go templates).
    for name in files_of(project) - {"docker/instructor/write-sizes.sh"}:
        text = (project / name).read_text(encoding="utf-8")
        assert not LEFTOVER_JINJA.search(text), name


def test_no_line_ends_in_spaces_and_no_blank_line_runs(project):
    for name in files_of(project) - {"course/00-check-environment.ipynb"}:
        text = (project / name).read_text(encoding="utf-8")
        assert not re.search(r"[ \t]+$", text, re.MULTILINE), name
        # Two blank lines are Python's style; more, or two elsewhere, are template litter.
        assert ("\n\n\n\n" if name.endswith(".py") else "\n\n\n") not in text, name
        assert text.endswith("\n"), name
        assert not text.endswith("\n\n"), name


def test_yaml_and_json_files_parse(project):
    for name in files_of(project):
        text = (project / name).read_text(encoding="utf-8")
        if name.endswith((".yaml", ".yml")):
            assert isinstance(yaml.safe_load(text), dict), name
        elif name.endswith(".json"):
            assert isinstance(json.loads(text), dict), name


def test_notebook_is_valid(project):
    nbformat.validate(nbformat.read(project / "course/00-check-environment.ipynb", as_version=4))


def test_dockerfile_passes_hadolint(project):
    result = subprocess.run(["hadolint", "--failure-threshold", "info", "Dockerfile", "binder/Dockerfile"],
                            cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.docker
def test_compose_file_is_accepted_by_docker_compose(project):
    # `config` only reads the file: it needs the compose plugin, not a running engine.
    result = subprocess.run(["docker", "compose", "config", "--quiet"], cwd=project,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.docker
def test_compose_publishes_on_localhost_only(project):
    config = yaml.safe_load(subprocess.run(["docker", "compose", "config"], cwd=project, check=True,
                                           capture_output=True, text=True).stdout)
    port = answers_of(project)["jupyter_port"]
    published = config["services"]["jupyter"]["ports"]
    assert published == [{"mode": "ingress", "host_ip": "127.0.0.1", "target": int(port),
                          "published": port, "protocol": "tcp"}]


def test_compose_requests_gpus_only_when_chosen(project):
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    devices = compose["services"]["jupyter"].get("deploy", {}).get("resources", {}).get("reservations", {})
    if answers_of(project)["gpu"]:
        assert devices == {"devices": [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]}
    else:
        assert devices == {}


@pytest.mark.parametrize("combination", [name for name, answers in COMBINATIONS.items() if answers["include_ci"]])
def test_workflow_passes_actionlint(combination, bake_static):
    project = bake_static(COMBINATIONS[combination])
    result = subprocess.run(["actionlint", "-shellcheck=", "-pyflakes=", ".github/workflows/image.yml"], cwd=project,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_yaml_passes_yamllint(project):
    names = [name for name in files_of(project) if name.endswith((".yml", ".yaml"))]
    config = ("{extends: default, rules: {line-length: {max: 120}, document-start: disable,"
              " truthy: {check-keys: false}}}")
    result = subprocess.run(["yamllint", "--strict", "-d", config, *names], cwd=project,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_generated_python_passes_ruff(project):
    result = subprocess.run(["ruff", "check", "--no-cache", "--isolated", "--select", "E,F,W,I,UP,B",
                             "--line-length", "110", "."], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_shell_scripts_pass_shellcheck(project):
    scripts = sorted(str(path.relative_to(project)) for path in (project / "docker").rglob("*.sh"))
    desktop = ["docker/build/install-desktop.sh"] if answers_of(project)["desktop"] else []
    assert scripts == ["docker/build/install-course-packages.sh", *desktop, "docker/build/lock-jupyter.sh",
                       "docker/container/start-course.sh", "docker/instructor/write-sizes.sh"]
    if answers_of(project)["jupyterhub"]:
        scripts.append("deploy/jupyterhub/students-firewall.sh")
    result = subprocess.run(["shellcheck", *scripts], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_every_make_target_parses(project):
    phony = re.search(r"^\.PHONY: (.*)$", (project / "Makefile").read_text(), re.MULTILINE).group(1).split()
    for target in phony:
        shown = subprocess.run(["make", "-n", target, "SEMESTER=2027-spring"], cwd=project, capture_output=True,
                               text=True, timeout=60)
        assert shown.returncode == 0, (target, shown.stderr)


def test_every_dockerfile_has_the_apt_line_instructors_md_points_to(project):
    dockerfile = (project / "Dockerfile").read_text()
    assert "the `apt-get install` line of the `Dockerfile`" in (project / "INSTRUCTORS.md").read_text()
    install = re.search(r"apt-get install -y --no-install-recommends -o APT::Cmd::Pattern-Only=true \\\n(.*?)"
                        r"    && apt-get clean", dockerfile,
                        re.DOTALL)
    assert install, dockerfile
    assert "# the course's system packages" in install.group(1)
    assert set(answers_of(project)["apt_packages"].split()) <= set(install.group(1).split())


def test_base_image_follows_the_answers(project):
    answers = answers_of(project)
    base_line = next(line for line in (project / "Dockerfile").read_text().splitlines()
                     if line.startswith("ARG BASE_IMAGE="))
    version = answers["python_version"]
    expected = {
        "python-slim": f"python:{version}-slim",
        "jupyter-minimal-notebook": f"quay.io/jupyter/minimal-notebook:python-{version}",
        "jupyter-scipy-notebook": f"quay.io/jupyter/scipy-notebook:python-{version}",
        "custom": answers["custom_base_image"],
    }[answers["base_image"]]
    assert base_line == f"ARG BASE_IMAGE={expected}"


def test_only_an_assignments_course_has_otter_make_assign_and_masters_beside_it(project):
    answers = answers_of(project)
    masters = post.masters_folder(project, answers)
    makefile = (project / "Makefile").read_text()
    assert ("otter-grader" in (project / "requirements-jupyter.in").read_text()) == answers["assignments"]
    assert ("\nassign: " in makefile, "\ngrade: " in makefile) == (answers["assignments"],) * 2
    assert masters.is_dir() == answers["assignments"]
    assert not (project / post.MASTERS).exists()
    if answers["assignments"]:
        assert f"MASTERS ?= ../{masters.name}" in makefile
        assert (masters / "01-example" / "01-example.ipynb").is_file()


def test_requirements_include_jupyter_and_the_course_packages(project):
    answers = answers_of(project)
    major = answers["_jupyterhub_version"]
    hub = [f"jupyterhub>={major},<{int(major) + 1}", "nbgitpuller"] if answers["jupyterhub"] else []
    assert requirement_lines((project / "requirements.in").read_text()) == [
        "-r requirements-jupyter.in", *split_requirements(answers["packages"])]
    otter = ["otter-grader"] if answers["assignments"] else []
    assert requirement_lines((project / "requirements-jupyter.in").read_text()) == [
        "jupyterlab", "notebook", "ipykernel", "jupyter-server-proxy", *otter, *hub, "pytest", "rfc3987"]


def test_uv_toml_pins_for_both_architectures_with_hashes_for_the_course_python(project):
    settings = tomllib.loads((project / "uv.toml").read_text())
    assert settings == {"python-downloads": "never", "pip": {
        "universal": True, "generate-hashes": True, "python-version": answers_of(project)["python_version"],
        "custom-compile-command": "make lock"}}


AWKWARD = {
    "course_name": 'Ciência de "Dados" — l\'été \\ $HOME 📊',
    "project_slug": "awkward-course",
    "instructor_name": "Zoë O'Brien-Łukasz",
}


@pytest.fixture(scope="module")
def awkward_project(bake_static) -> Path:
    return bake_static(AWKWARD)


def test_awkward_course_name_survives_in_the_readmes(awkward_project):
    for name in ("README.md", "INSTRUCTORS.md"):
        assert f"# {'Maintaining ' if name == 'INSTRUCTORS.md' else ''}{AWKWARD['course_name']}\n" in (
            awkward_project / name).read_text(encoding="utf-8")


def test_awkward_course_name_survives_in_json(awkward_project):
    devcontainer = json.loads((awkward_project / ".devcontainer/devcontainer.json").read_text())
    assert devcontainer["name"] == AWKWARD["course_name"]
    assert answers_of(awkward_project)["course_name"] == AWKWARD["course_name"]


@pytest.mark.docker
def test_awkward_names_survive_in_the_image_labels(awkward_project, docker_engine, tmp_path):
    # Docker's own parser reads the LABEL instruction: build it on an empty image.
    dockerfile = (awkward_project / "Dockerfile").read_text(encoding="utf-8")
    label = re.search(r"^LABEL .*?[^\\]\n(?!\s)", dockerfile, re.MULTILINE | re.DOTALL).group(0)
    (tmp_path / "Dockerfile").write_text(f"FROM scratch\n{label}", encoding="utf-8")
    tag = "jupyter-course-test/labels:latest"
    docker("build", "--quiet", "--tag", tag, str(tmp_path))
    try:
        labels = engine().images.get(tag).labels
    finally:
        docker("image", "rm", tag, check=False)
    assert labels["org.opencontainers.image.title"] == AWKWARD["course_name"]
    assert labels["org.opencontainers.image.authors"] == f"{AWKWARD['instructor_name']} <ada@example.edu>"


def test_readme_generate_command_makes_the_default_project(tmp_path):
    template = Path(__file__).resolve().parents[1]
    readme = (template / "README.md").read_text(encoding="utf-8")
    command = re.search(r"python3 -m cookiecutter [^\n`]*", readme).group(0)
    checkout = tmp_path / "checkout"
    # The template itself, without what a checkout may also hold (a course already generated in it, .venv).
    shutil.copytree(template, checkout, ignore=lambda folder, names: [
        name for name in names if (Path(folder) == template and name not in TEMPLATE_PARTS) or name == "__pycache__"])
    # Run as written, with this Python in place of python3 and without pinning.
    subprocess.run([sys.executable, *shlex.split(command)[1:]], cwd=checkout, check=True,
                   env={**os.environ, **SKIP_LOCK})
    assert (checkout / DEFAULT_SLUG / "compose.yaml").is_file()


def test_the_contributing_guide_names_the_variable_that_skips_pinning():
    assert f"`{SKIP_LOCK_VARIABLE}=1`" in (TEMPLATE / "CONTRIBUTING.md").read_text(encoding="utf-8")


def test_a_zip_of_the_template_makes_the_default_course(tmp_path):
    # Cookiecutter unpacks a zip into a folder of its own: the hooks and cookiecutter.json's private
    # values must find the answer rules there, not in this checkout (the run starts outside it).
    archive = tmp_path / "cookiecutter-jupyter-course.zip"
    with zipfile.ZipFile(archive, "w") as bundle:  # as GitHub's "Download ZIP" lays it out
        bundle.write(TEMPLATE, "cookiecutter-jupyter-course")
        for path in sorted(TEMPLATE.rglob("*")):
            relative = path.relative_to(TEMPLATE)
            if relative.parts[0] in TEMPLATE_PARTS and "__pycache__" not in relative.parts:
                bundle.write(path, Path("cookiecutter-jupyter-course") / relative)
    config = tmp_path / "cookiecutter.yaml"  # cookiecutter unpacks into cookiecutters_dir
    config.write_text(yaml.safe_dump({"cookiecutters_dir": str(tmp_path / "unpacked"),
                                      "replay_dir": str(tmp_path / "replay")}))
    subprocess.run([sys.executable, "-m", "cookiecutter", "--no-input", str(archive)], cwd=tmp_path, check=True,
                   env={**os.environ, **SKIP_LOCK, "COOKIECUTTER_CONFIG": str(config)})
    compose = yaml.safe_load((tmp_path / DEFAULT_SLUG / "compose.yaml").read_text(encoding="utf-8"))
    assert compose["services"]["jupyter"]["image"] == f"{DEFAULTS['image_registry']}/{DEFAULT_SLUG}:latest"


@pytest.mark.parametrize("combination", [name for name, answers in COMBINATIONS.items() if answers["jupyterhub"]])
def test_zero_to_jupyterhub_values_have_the_keys_the_chart_reads(combination, bake_static):
    # Checked statically: no Kubernetes cluster is deployed by the tests.
    project = bake_static(COMBINATIONS[combination])
    text = (project / "deploy/z2jh/values.yaml").read_text()
    assert re.search(r"jupyterhub/jupyterhub --version \d+\.\d+\.\d+", text)
    values = yaml.safe_load(text)
    single = values["singleuser"]
    answers = answers_of(project)
    assert single["image"] == {"name": f"{answers['image_registry']}/{answers['project_slug']}", "tag": "latest",
                               "pullPolicy": "Always"}
    assert single["uid"] == 1000
    assert single["fsGid"] == (100 if answers["base_image"].startswith("jupyter-") else 1000)
    assert single["cmd"] == "jupyterhub-singleuser"
    assert single["storage"]["type"] == "dynamic"
    assert re.fullmatch(r"\d+Gi", single["storage"]["capacity"])
    assert single["storage"]["homeMountPath"].endswith("/work")
    assert isinstance(single["memory"]["limit"], str)
    assert isinstance(single["cpu"]["limit"], (int, float))
    assert values["cull"] == {"enabled": True, "timeout": 3600, "every": 300}
    assert values["hub"]["config"]["Authenticator"]["allowed_users"] == []
    assert ("extraResource" in single) == answers["gpu"]


def test_jupyterhub_config_is_safe_by_default(bake_static):
    config = (bake_static({}) / "deploy/jupyterhub/jupyterhub_config.py").read_text()
    assert "STUDENTS: set[str] = set()" in config
    assert "c.Authenticator.allowed_users = STUDENTS | INSTRUCTORS" in config
    # JupyterHub's default login: accounts on the server, and only the listed ones.
    assert "authenticator_class" not in config


LINK_TARGETS = {
    "a-folder": ("week-3", None),
    "a-folder-in-a-folder": ("lessons/week-3", None),
    "absolute": ("/home/student/.ipython/profile_default/startup", "outside your work folder"),
    "home": ("~/.ipython", "outside your work folder"),
    "parent": ("../x", "outside your work folder"),
    "parent-inside": ("week-3/../../x", "outside your work folder"),
    "hidden": (".ipython/profile_default/startup", "into a hidden folder"),
    "hidden-inside": ("week-3/.git/hooks", "into a hidden folder"),
    "none": ("", "into no folder of its own"),
    "through-a-link": ("elsewhere/x", "outside your work folder"),
}


@pytest.mark.parametrize(("target", "where"), LINK_TARGETS.values(), ids=LINK_TARGETS.keys())
def test_a_hub_link_is_refused_when_it_leads_outside_the_work_folder_or_into_a_hidden_one(target, where,
                                                                                          bake_static, tmp_path):
    spec = importlib.util.spec_from_file_location("course_pull", bake_static({}) / "docker/container/course_pull.py")
    course_pull = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course_pull)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "elsewhere").symlink_to(tmp_path)
    reason = course_pull.refusal(target, str(tmp_path / "work"))
    assert reason == (None if where is None else course_pull.REFUSED.format(where=where, target=target))


LICENCE_TEXTS = {
    "plain": ("MIT", "MIT"),
    "carriage-return": ("MIT\r## Install evil-package", "MIT \\#\\# Install evil-package"),
    "line-separator": ("BSD\u2028| a | row |", "BSD | a | row |"),
    "control-character": ("Apache-2.0\x1b[31m", "Apache-2.0 \\[31m"),
    "markdown": ("[click](https://example.com) <b>*x*</b>",
                 "\\[click\\](https://example.com) \\<b\\>\\*x\\*\\</b\\>"),
}


@pytest.mark.parametrize(("text", "shown"), LICENCE_TEXTS.values(), ids=LICENCE_TEXTS.keys())
def test_licence_text_from_the_package_index_stays_inside_its_table_cell(text, shown, bake_static):
    assert post.course_lock(bake_static({})).one_line(text) == shown


ENGINE_NETWORKS = {
    "with-gateway": ({"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}, "172.18.0.1"),
    # Debian's engine 20.10 reports the default bridge this way.
    "subnet-only": ({"Subnet": "172.17.0.0/16"}, "172.17.0.1"),
}


@pytest.mark.parametrize(("ipam", "address"), ENGINE_NETWORKS.values(), ids=ENGINE_NETWORKS.keys())
def test_the_hub_finds_its_address_on_a_docker_network_whatever_the_engine_reports(ipam, address, bake_static):
    network_gateway = config_function(bake_static({}), "network_gateway")
    assert network_gateway(ipam) == address


# Answers YAML would read as another type if they were written unquoted.
YAML_LOOKALIKES = {
    "slug-2024": {"project_slug": "2024"},
    "slug-true": {"project_slug": "true"},
    "slug-null": {"project_slug": "null"},
    "slug-0x1f": {"project_slug": "0x1f"},
    "registry-1.5": {"image_registry": "1.5/courses", "project_slug": "course"},
}


@pytest.mark.docker
@pytest.mark.parametrize("answers", YAML_LOOKALIKES.values(), ids=YAML_LOOKALIKES.keys())
def test_answers_that_look_like_yaml_values_stay_strings(answers, bake_static):
    project = bake_static(answers)
    slug = answers["project_slug"]
    registry = answers.get("image_registry", DEFAULTS["image_registry"])
    image = f"{registry}/{slug}"
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    assert compose["name"] == slug
    assert compose["services"]["jupyter"]["image"] == f"{image}:latest"
    workflow = yaml.safe_load((project / ".github/workflows/image.yml").read_text())
    assert workflow["env"]["IMAGE"] == image
    login = next(step for step in workflow["jobs"]["publish"]["steps"] if "login-action" in step.get("uses", ""))
    assert login["with"]["registry"] == registry.split("/")[0]
    values = yaml.safe_load((project / "deploy/z2jh/values.yaml").read_text())
    assert values["singleuser"]["image"]["name"] == image
    config = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=project,
                            capture_output=True, text=True)
    assert config.returncode == 0, config.stderr
    assert json.loads(config.stdout)["name"] == slug


def test_recorded_answers_hold_no_paths_of_this_machine(project):
    recorded = answers_of(project)
    assert not {"_output_dir", "_repo_dir", "_checkout"} & recorded.keys()
    # Baked from a folder here: the template's location means nothing elsewhere.
    assert "_template" not in recorded
    text = (project / ".cookiecutter.json").read_text()
    assert str(project.parent) not in text
    assert str(Path(__file__).resolve().parents[1]) not in text
    # What a template update replays is all there.
    assert {key for key in DEFAULTS if not key.startswith("_")} <= recorded.keys()


PINNED_ACTION = re.compile(r"^\s+(?:- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40}  # v\d+\.\d+\.\d+$")


def test_workflow_actions_are_pinned_by_commit_with_their_version(bake_static):
    workflow = (bake_static({}) / ".github/workflows/image.yml").read_text()
    uses = [line for line in workflow.splitlines() if "uses:" in line]
    for line in uses:
        assert PINNED_ACTION.match(line), line
    # Every step that runs an action was found: both jobs check out the course.
    assert {line.split("uses: ")[1].split("@")[0] for line in uses} == {
        "actions/checkout", "docker/setup-qemu-action", "docker/setup-buildx-action", "docker/login-action",
        "docker/build-push-action", "actions/attest", "actions/upload-artifact"}
    assert sum("actions/checkout@" in line for line in uses) == 2


def test_workflow_checkouts_keep_the_token_out_of_the_git_config(bake_static):
    workflow = yaml.safe_load((bake_static({}) / ".github/workflows/image.yml").read_text())
    checkouts = [step for job in workflow["jobs"].values() for step in job["steps"]
                 if step.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == 2
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)


def test_workflow_publishes_latest_from_the_default_branch_only(bake_static):
    workflow = yaml.safe_load((bake_static({}) / ".github/workflows/image.yml").read_text())
    condition = " ".join(workflow["jobs"]["publish"]["if"].split())
    assert "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)" in condition
    assert condition.startswith("(github.event_name == 'push' || github.event_name == 'workflow_dispatch') &&")


# What the image build, the container and Docker Compose read.
READ_BY_THE_ENGINE = re.compile(r"(\.sh|\.py|\.ya?ml|\.in|^requirements.*\.txt|^Dockerfile|^Makefile|^docker/.*"
                                r"|^\.dockerignore|^\.env.*|\.ipynb)$")


def test_a_windows_checkout_keeps_lf_in_every_file_the_engine_reads(bake_static, tmp_path):
    origin = tmp_path / "course"
    shutil.copytree(bake_static({}), origin)
    git("init", "--quiet", "--initial-branch=main", cwd=origin)
    git("add", "--all", cwd=origin)
    git("commit", "--quiet", "-m", "Course", cwd=origin)
    # Git for Windows' default: check text files out with CRLF.
    subprocess.run(["git", "-c", "core.autocrlf=true", "clone", "--quiet", str(origin), str(tmp_path / "clone")],
                   check=True)
    clone = tmp_path / "clone"
    files = git("ls-files", cwd=clone).stdout.split()
    engine_files = [name for name in files if READ_BY_THE_ENGINE.search(name)]
    assert {"Dockerfile", "compose.yaml", "docker/container/start-course.sh", ".env.example"} <= set(engine_files)
    for name in engine_files:
        assert b"\r\n" not in (clone / name).read_bytes(), name
    # The conversion did happen where no rule asks for LF: the check above can fail.
    assert b"\r\n" in (clone / "README.md").read_bytes()


def test_the_readme_fix_restores_lf_in_a_copy_with_windows_line_endings(bake_static, tmp_path):
    repo = tmp_path / "course"
    shutil.copytree(bake_static({}), repo)
    git("init", "--quiet", cwd=repo)
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "Course", cwd=repo)
    # A copy whose engine files an editor converted to CRLF.
    converted = [repo / "Dockerfile", *sorted(path for path in (repo / "docker").rglob("*") if path.is_file())]
    for path in converted:
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    readme = (repo / "README.md").read_text()
    assert "Delete the `docker` folder and the `Dockerfile`. Then type `git checkout -- docker Dockerfile`" in readme
    shutil.rmtree(repo / "docker")
    (repo / "Dockerfile").unlink()
    git("checkout", "--", "docker", "Dockerfile", cwd=repo)
    for path in converted:
        assert b"\r" not in path.read_bytes(), path



GLOSSARY = ["image", "registry", "tag", "digest", "manifest list", "lock file", "universal lock", "buildx", "cruft",
            "a public GitHub package"]


def test_instructors_md_explains_the_words_it_uses(bake_static):
    instructors = (bake_static({}) / "INSTRUCTORS.md").read_text()
    glossary = instructors.split("\n## Words used here\n", 1)[1]
    explained = re.findall(r"^- \*\*(.+?)\*\*: ", glossary, re.MULTILINE)
    assert explained == GLOSSARY


def test_the_workflow_attests_the_images_provenance_and_actions_are_proposed_for_update(bake_static):
    project = bake_static({})
    workflow = yaml.safe_load((project / ".github/workflows/image.yml").read_text())
    publish = workflow["jobs"]["publish"]
    assert {"id-token": "write", "attestations": "write"}.items() <= publish["permissions"].items()
    steps = [step.get("uses", "").split("@")[0] for step in publish["steps"]]
    attest = publish["steps"][steps.index("actions/attest")]
    # The image just pushed, by the digest the build step gives, kept beside it in the registry.
    assert steps.index("actions/attest") > steps.index("docker/build-push-action")
    assert attest["with"]["subject-name"] == "${{ env.IMAGE }}"
    assert attest["with"]["subject-digest"] == "${{ steps.build.outputs.digest }}"
    assert attest["with"]["push-to-registry"] is True
    dependabot = yaml.safe_load((project / ".github/dependabot.yml").read_text())
    assert [(update["package-ecosystem"], update["directory"]) for update in dependabot["updates"]] == [
        ("github-actions", "/")]
    lint = subprocess.run(["yamllint", "-d", "relaxed", "--strict", ".github/dependabot.yml"], cwd=project,
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


@pytest.fixture
def course_inventory(bake_static, monkeypatch):
    """The image build's inventory script, from a generated course, with the image's course_check beside it."""
    project = bake_static({})
    monkeypatch.syspath_prepend(str(project / "docker/container"))
    monkeypatch.syspath_prepend(str(project / "docker/build"))
    return importlib.import_module("course_inventory")


def test_a_debian_packages_licences_are_read_from_its_machine_readable_copyright_file(course_inventory, tmp_path):
    inventory = course_inventory
    (tmp_path / "tidy").mkdir()
    (tmp_path / "tidy" / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nLicense: GPL-2+\n\nFiles: lib/*\nLicense: LGPL-2.1+ or BSD-3-clause\n\n"
        "License: GPL-2+\n This program is free software...\n")
    (tmp_path / "old-style").mkdir()
    (tmp_path / "old-style" / "copyright").write_text("This package was debianized by someone in 1999.\n")
    assert inventory.debian_licence("tidy", tmp_path) == "GPL-2+, LGPL-2.1+, BSD-3-clause"
    assert inventory.debian_licence("old-style", tmp_path) == ""
    assert inventory.debian_licence("absent", tmp_path) == ""


def test_a_python_licence_is_an_spdx_expression_only_when_it_is_one(course_inventory):
    inventory = course_inventory
    assert inventory.spdx("mit") == "MIT"
    assert inventory.spdx("BSD-3-Clause AND MIT") == "BSD-3-Clause AND MIT"
    assert inventory.spdx("BSD License") is None
    assert inventory.spdx("") is None


def test_the_desktops_novnc_keeps_what_its_page_loads_and_its_licences_and_nothing_else(bake_static, tmp_path):
    script = bake_static({"desktop": True}) / "docker/build/install-novnc.py"
    spec = importlib.util.spec_from_file_location("install_novnc", script)
    install_novnc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(install_novnc)
    release = io.BytesIO()
    with tarfile.open(fileobj=release, mode="w:gz") as archive:
        for name in ("core/rfb.js", "vendor/pako/lib/zlib/inflate.js", "docs/LICENSE.MPL-2.0", "package.json",
                     "app/ui.js", "vnc.html", "core/../../outside.js"):
            member = tarfile.TarInfo(f"package/{name}")
            member.size = len(name)
            archive.addfile(member, io.BytesIO(name.encode()))
    install_novnc.install(release.getvalue(), tmp_path / "novnc")
    assert sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file()) == [
        "novnc/core/rfb.js", "novnc/docs/LICENSE.MPL-2.0", "novnc/package.json",
        "novnc/vendor/pako/lib/zlib/inflate.js"]
