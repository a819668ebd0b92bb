"""Pinning at generation time: real resolutions on the package index, and the offline fallback."""

from __future__ import annotations

import re

import pytest
from cookiecutter.exceptions import FailedHookException

from tests.conftest import bake

pytestmark = pytest.mark.network

# An index that refuses connections at once: what an offline laptop sees.
UNREACHABLE_INDEX = {"UV_DEFAULT_INDEX": "http://127.0.0.1:9/simple", "UV_HTTP_RETRIES": "0",
                     "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0"}


def pins(requirements_txt: str) -> dict[str, str]:
    return dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+) \\$", requirements_txt, re.MULTILINE))


@pytest.fixture(scope="module", params=["3.10", "3.13"], ids=lambda v: f"python-{v}")
def pinned(request, tmp_path_factory):
    project = bake(tmp_path_factory.mktemp("pinned"),
                   {"python_version": request.param, "packages": "numpy, six"})
    return request.param, (project / "requirements.txt").read_text()


def test_every_pin_carries_hashes(pinned):
    _, text = pinned
    blocks = re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2])
    assert len(blocks) > 20
    for block in blocks:
        assert re.search(r"==\S+ \\\n    --hash=sha256:[0-9a-f]{64}", block), block


def test_course_packages_and_jupyter_are_pinned(pinned):
    _, text = pinned
    assert {"numpy", "six", "jupyterlab", "ipykernel", "pytest"} <= pins(text).keys()


def test_pins_cover_amd64_and_arm64_wheels(pinned):
    # A universal lock keeps every wheel's hash; numpy ships a wheel per architecture.
    _, text = pinned
    numpy_block = text[text.index("\nnumpy=="):].split("\n    # via")[0]
    assert numpy_block.count("--hash=sha256:") >= 20
    assert "make lock" in text.splitlines()[1]


def test_pins_differ_by_python_where_releases_do(tmp_path):
    # numpy 2.3 dropped Python 3.10: the same request resolves differently.
    low = bake(tmp_path / "a", {"python_version": "3.10", "packages": "numpy"})
    high = bake(tmp_path / "b", {"python_version": "3.13", "packages": "numpy"})
    numpy_low = pins((low / "requirements.txt").read_text())["numpy"]
    numpy_high = pins((high / "requirements.txt").read_text())["numpy"]
    assert numpy_low.startswith(("1.", "2.0", "2.1", "2.2"))
    assert numpy_low != numpy_high


def test_nonexistent_package_fails_generation_naming_it(tmp_path, capfd):
    with pytest.raises(FailedHookException):
        bake(tmp_path, {"packages": "numpy, surely-not-a-real-package-4711"})
    assert "ERROR: packages: package surely-not-a-real-package-4711 does not exist" in capfd.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_package_without_a_release_for_that_python_fails_generation(tmp_path, capfd):
    with pytest.raises(FailedHookException):
        bake(tmp_path, {"python_version": "3.10", "packages": "numpy==2.3.0"})
    err = capfd.readouterr().err
    assert "numpy==2.3.0" in err
    assert "ERROR: packages: the packages cannot be installed together on Python 3.10" in err


def test_offline_generation_succeeds_unpinned_with_a_clear_message(tmp_path, capfd):
    project = bake(tmp_path, {}, UNREACHABLE_INDEX)
    err = capfd.readouterr().err
    assert "the package index could not be reached, so requirements.txt is not pinned" in err
    assert "make lock" in err
    assert (project / "requirements.txt").read_text().startswith("# NOT PINNED YET")
    assert "numpy" in (project / "requirements.in").read_text()
