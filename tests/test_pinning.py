"""Pinning at generation time: real resolutions on the package index, and the offline fallback."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from cookiecutter.exceptions import FailedHookException
from packaging.version import Version

from tests.support.answers import DEFAULT_ANSWERS, DEFAULT_SLUG, TEMPLATE, bake, pins
from tests.support.git import git

pytestmark = pytest.mark.network

# An index that refuses connections at once: what an offline laptop sees.
UNREACHABLE_INDEX = {"UV_DEFAULT_INDEX": "http://127.0.0.1:9/simple", "UV_HTTP_RETRIES": "0",
                     "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0"}


@pytest.fixture(scope="module")
def requirements_for(tmp_path_factory):
    """requirements.txt of a course with numpy and six, generated once per Python version in this module."""
    made: dict[str, str] = {}

    def _pinned(version: str) -> str:
        if version not in made:
            project = bake(tmp_path_factory.mktemp("pinned"), {"python_version": version, "packages": "numpy, six"})
            made[version] = (project / "requirements.txt").read_text()
        return made[version]
    return _pinned


@pytest.fixture(scope="module", params=["3.10", "3.13"], ids=lambda v: f"python-{v}")
def pinned(request, requirements_for):
    return request.param, requirements_for(request.param)


def test_every_pin_carries_hashes(pinned):
    _, text = pinned
    blocks = re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2])
    assert len(blocks) > 20
    for block in blocks:
        assert re.search(r"==\S+(?: ; [^\n]+)? \\\n    --hash=sha256:[0-9a-f]{64}", block), block


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"], ids=["amd64", "arm64"])
def test_course_packages_and_jupyter_are_pinned_for_both_architectures(pinned, machine):
    version, text = pinned
    assert {"numpy", "six", "jupyterlab", "ipykernel", "pytest"} <= pins(text, version, machine).keys()


def test_header_names_the_command_that_repins(pinned):
    _, text = pinned
    assert text.splitlines()[1] == "#    make lock"


def test_a_course_generated_inside_another_uv_project_pins_with_its_own_settings(tmp_path):
    # README's command generates into the template's checkout, whose pyproject.toml has
    # [tool.uv]: uv would take that project's settings over the course's uv.toml.
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "department"\nversion = "1"\n\n[tool.uv]\npackage = false\n')
    project = bake(tmp_path, {"packages": "numpy, six"})
    requirements = (project / "requirements.txt").read_text()
    assert "#    make lock\n" in requirements
    for block in re.split(r"\n(?=[a-z0-9])", requirements.split("\n", 2)[2]):
        assert "--hash=sha256:" in block, block
    subprocess.run(["make", "lock", "UV=python3 -m uv"], cwd=project, check=True, capture_output=True)
    assert (project / "requirements.txt").read_text() == requirements


def test_generation_says_in_one_line_what_it_pinned_as_make_lock_does(tmp_path, capfd):
    bake(tmp_path, {"packages": "six"})
    shown = capfd.readouterr()
    # uv's note that this computer's Python is another version would read as if the wrong one was pinned.
    assert "is not available" not in shown.out + shown.err
    version = DEFAULT_ANSWERS["python_version"]
    assert re.search(rf"^requirements.txt: pinned with hashes for Python {re.escape(version)}: "
                     r"\d+ packages on linux/amd64, \d+ packages on linux/arm64.$", shown.out, re.MULTILINE), shown.out


@pytest.fixture(scope="module")
def first_summary(tmp_path_factory):
    """A course with six, as generated: its folder, and the summary and lock generation wrote."""
    project = bake(tmp_path_factory.mktemp("relocked"), {"packages": "six"})
    return project, (project / "requirements-summary.md").read_text(), (project / "requirements.txt").read_text()


@pytest.fixture(scope="module")
def relocked(first_summary):
    """That course committed, then tabulate added to requirements.in and `make lock` run: the project and its output."""
    project, _, _ = first_summary
    git("init", "--quiet", "--initial-branch=main", cwd=project)
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "-m", "Course", cwd=project)
    with (project / "requirements.in").open("a") as requirements:
        requirements.write("tabulate\n")
    locked = subprocess.run(["make", "lock", "UV=python3 -m uv"], cwd=project, capture_output=True, text=True,
                            timeout=600)
    assert locked.returncode == 0, locked.stderr
    tabulate = pins((project / "requirements.txt").read_text(), DEFAULT_ANSWERS["python_version"], "x86_64")["tabulate"]
    return project, locked.stdout.splitlines(), tabulate


def test_make_lock_prints_a_summary_and_what_changed_not_the_whole_file(relocked):
    project, lines, tabulate = relocked
    assert not [line for line in lines if "--hash" in line]
    # Counted per platform, as the image installs them: packages for macOS or Windows only are left out.
    version = DEFAULT_ANSWERS["python_version"]
    text = (project / "requirements.txt").read_text()
    amd64, arm64 = len(pins(text, version, "x86_64")), len(pins(text, version, "aarch64"))
    assert amd64 < len(set(re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", text, re.M)))
    assert (f"requirements.txt: pinned with hashes for Python {version}: {amd64} packages on linux/amd64, "
            f"{arm64} packages on linux/arm64.") in lines
    assert [line for line in lines if line.startswith("  ")] == [f"  + tabulate=={tabulate}"]


def test_generation_writes_the_summary_a_pull_request_shows(first_summary):
    _, summary, requirements = first_summary
    six = pins(requirements, DEFAULT_ANSWERS["python_version"], "x86_64")["six"]
    asked = summary.split("## Asked for by the course (`requirements.in`)", 1)[1].split("\n## ", 1)[0]
    assert f"| six | {six} | MIT | nothing more |" in asked
    assert "The first lock." in summary
    # A package without a licence in its metadata is flagged.
    assert "Without a licence in their metadata: simpervisor." in summary


def test_make_lock_rewrites_the_summary_with_what_a_new_package_changed(relocked):
    project, _, tabulate = relocked
    summary = (project / "requirements-summary.md").read_text()
    changes = summary.split("## Changes since the previous lock\n\n", 1)[1].split("\n\n", 1)[0]
    assert changes == f"- added: tabulate {tabulate}"
    assert f"| tabulate | {tabulate} | MIT | nothing more |" in summary
    assert git("diff", "--stat", "--", "requirements-summary.md", cwd=project).stdout.strip()


def test_pins_follow_the_python_version(requirements_for):
    # numpy 2.3 dropped Python 3.10, so a 3.10 course gets an older numpy.
    numpy_low = pins(requirements_for("3.10"), "3.10", "x86_64")["numpy"]
    numpy_high = pins(requirements_for("3.13"), "3.13", "x86_64")["numpy"]
    assert Version(numpy_low) < Version("2.3") <= Version(numpy_high)


def test_nonexistent_package_fails_generation_naming_it(tmp_path, capfd):
    with pytest.raises(FailedHookException):
        bake(tmp_path, {"packages": "numpy, surely-not-a-real-package-4711"})
    assert "ERROR: packages: package surely-not-a-real-package-4711 does not exist" in capfd.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_package_without_a_release_for_that_python_fails_generation(tmp_path, capfd):
    with pytest.raises(FailedHookException):
        bake(tmp_path, {"python_version": "3.10", "packages": "numpy==2.3.0"})
    assert ("ERROR: packages: numpy==2.3.0 requires Python>=3.11: it has no release for Python 3.10"
            in capfd.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_offline_generation_succeeds_unpinned_with_a_clear_message(tmp_path, capfd):
    project = bake(tmp_path, {}, UNREACHABLE_INDEX)
    err = capfd.readouterr().err
    assert "the package index could not be reached, so requirements.txt is not pinned" in err
    assert "make lock" in err
    assert (project / "requirements.txt").read_text().startswith("# NOT PINNED YET")
    assert "numpy" in (project / "requirements.in").read_text()


def test_generation_fetches_uv_when_it_is_not_installed(tmp_path):
    # An instructor's Python with cookiecutter and pip, and no uv anywhere on PATH.
    venv = tmp_path / "venv"
    subprocess.run(["uv", "venv", "--quiet", "--seed", str(venv)], check=True)
    subprocess.run(["uv", "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "cookiecutter"],
                   check=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    result = subprocess.run([str(venv / "bin" / "python"), "-m", "cookiecutter", "--no-input", str(TEMPLATE),
                             "--output-dir", str(tmp_path / "out")], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "uv is not installed: fetching it from PyPI" in result.stdout
    requirements = (tmp_path / "out" / DEFAULT_SLUG / "requirements.txt").read_text()
    assert "--hash=sha256:" in requirements
