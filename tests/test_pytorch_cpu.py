"""A deep-learning course without GPUs: PyTorch's CPU-only builds, not gigabytes of CUDA.

PyTorch's index is played by a stand-in on 127.0.0.1 (tests/support/pytorch_index.py),
reached through the setting a department uses for a mirror of it: `_pytorch_cpu_index`.
Everything else is pinned from the real package index.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.support.answers import bake_with, hashes_pinned, pins
from tests.support.engine import docker, remove_image
from tests.support.licences import check_every_package_has_a_licence_or_unknown, written_licences
from tests.support.matrices import image_of
from tests.support.pytorch_index import DECOY, MACHINES, PYTORCH_CPU, TORCH_VERSION, serving_pytorch_index

pytestmark = [pytest.mark.network]

PYTHON = "3.13"
COURSE = {"course_name": "Deep Learning on Laptops", "packages": "numpy, torch, torchvision", "gpu": False,
          "python_version": PYTHON, "jupyterhub": False, "include_ci": False, "include_devcontainer": False}
# What PyTorch's CUDA builds pull in from PyPI.
CUDA_PACKAGE = re.compile(r"^(nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+|triton)==", re.MULTILINE)


@pytest.fixture(scope="module")
def pytorch_index(tmp_path_factory):
    with serving_pytorch_index(tmp_path_factory.mktemp("pytorch-index")) as index:
        yield index


@pytest.fixture(scope="module")
def course(cookies_session, pytorch_index):
    """The course generated (and pinned) with the stand-in as its PyTorch index."""
    return bake_with(cookies_session, {**COURSE, "_pytorch_cpu_index": pytorch_index.url})


@pytest.fixture(scope="module")
def requirements(course):
    return (course / "requirements.txt").read_text()


def build(project, tag: str) -> subprocess.CompletedProcess:
    # The host's network: the stand-in index listens on the host's 127.0.0.1.
    return docker("build", "--network", "host", "--progress", "plain", "--tag", tag, str(project),
                  check=False, timeout=1800)


@pytest.fixture(scope="module")
def image(course, python_base):
    python_base(PYTHON)
    tag = image_of(course)
    result = build(course, tag)
    assert result.returncode == 0, result.stdout + result.stderr
    yield tag
    remove_image(tag)


def test_pytorch_is_pinned_from_the_cpu_index_for_both_architectures(requirements):
    for machine in MACHINES:
        chosen = pins(requirements, PYTHON, machine)
        assert chosen["torch"] == f"{TORCH_VERSION}+cpu", machine
        assert chosen["torchvision"] == PYTORCH_CPU["torchvision"][0], machine


def test_pytorch_hashes_are_those_of_the_cpu_index_files(requirements, pytorch_index):
    for name in ("torch", "torchvision"):
        assert hashes_pinned(requirements, name) == pytorch_index.hashes_of(name), name


def test_no_cuda_package_is_pinned(requirements):
    assert not CUDA_PACKAGE.findall(requirements)


def test_other_packages_never_come_from_the_pytorch_index(requirements, pytorch_index):
    name, decoy_version = DECOY
    for machine in MACHINES:
        assert pins(requirements, PYTHON, machine)[name] != decoy_version
    assert not hashes_pinned(requirements, name) & pytorch_index.hashes_of(name)


def test_make_lock_repeats_the_index_choice(course, requirements, tmp_path):
    project = tmp_path / "course"
    shutil.copytree(course, project)
    (project / "requirements.txt").unlink()
    subprocess.run(["make", "lock", "UV=python3 -m uv"], cwd=project, check=True, capture_output=True)
    assert (project / "requirements.txt").read_text() == requirements


def test_with_gpus_pytorch_keeps_its_cuda_builds(cookies):
    project = bake_with(cookies, {**COURSE, "gpu": True})
    requirements = (project / "requirements.txt").read_text()
    assert "+" not in pins(requirements, PYTHON, "x86_64")["torch"]  # PyPI's build
    assert CUDA_PACKAGE.findall(requirements)
    assert not (project / "pytorch-cpu").exists()


@pytest.mark.docker
def test_the_image_imports_pytorch_from_the_cpu_index(image):
    result = docker("run", "--rm", "--entrypoint", "python", image, "-c",
                    "import torch, torchvision; print(torch.__version__, torchvision.__version__)")
    assert result.stdout.split() == [f"{TORCH_VERSION}+cpu", PYTORCH_CPU["torchvision"][0]]


@pytest.mark.docker
def test_the_image_has_no_cuda_package(image):
    result = docker("run", "--rm", "--entrypoint", "python", image, "-c",
                    "import importlib.metadata as m\n"
                    "for d in m.distributions(): print(d.metadata['Name'].lower() + '==' + d.version)")
    assert f"torch=={TORCH_VERSION}+cpu" in result.stdout.splitlines()
    assert not CUDA_PACKAGE.findall(result.stdout)


@pytest.mark.docker
def test_a_pytorch_pin_changed_by_one_character_fails_the_build(image, course, pytorch_index, tmp_path):
    # After a good build: the build cache holds the installed torch, which must not hide the change.
    project = tmp_path / "course"
    shutil.copytree(course, project)
    requirements = project / "requirements.txt"
    digest = pytorch_index.hash_of("torch", PYTHON, "x86_64")
    changed = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    requirements.write_text(requirements.read_text().replace(digest, changed))
    tag = f"{image}-tampered"
    result = build(project, tag)
    remove_image(tag)
    assert result.returncode != 0
    assert f"Hash mismatch for `torch=={TORCH_VERSION}+cpu`" in result.stdout + result.stderr


def test_it_md_gets_every_package_of_the_pytorch_image_with_its_licence_or_unknown(image, course, tmp_path):
    page, inventory = written_licences(course, image, tmp_path)
    check_every_package_has_a_licence_or_unknown(page, inventory)
    assert any(package["name"] == "torch" for package in inventory["python packages"])
