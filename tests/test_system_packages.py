"""The course's Debian packages are installed by their exact names, never read as patterns."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.answers import DEFAULT_ANSWERS

pytestmark = pytest.mark.docker


# apt would read each as a regular expression and install whatever matches
# (thousands of packages for a.b) rather than say it does not know the name.
@pytest.mark.parametrize("name", ["zsh.co", "a.b"])
def test_a_name_apt_does_not_know_fails_the_build_with_apts_own_message(name, bake_static, python_base):
    python_base(DEFAULT_ANSWERS["python_version"])
    project = bake_static({"project_slug": f"apt-{name.replace('.', '-')}", "apt_packages": name,
                           "packages": "six", "jupyterhub": False})
    build = subprocess.run(["docker", "compose", "--progress=plain", "build"], cwd=project, capture_output=True,
                           text=True, timeout=1800)
    assert build.returncode != 0
    assert f"E: Unable to locate package {name}" in build.stdout + build.stderr, build.stderr[-3000:]
