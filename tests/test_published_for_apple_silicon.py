"""Apple-silicon students: the default course for linux/arm64, published and run on this amd64 machine.

The engine builds and runs arm64 images through QEMU's user-mode emulator
(.ci/arm64-emulation). The base image, python:<version>-slim for both
architectures, is served where the engine looks for Docker Hub's images: the
registry mirror it is configured with (.ci/docker-engine), which holds the
amd64 base and an arm64 stand-in made from Debian's Python of the same
version. The generated Dockerfile is built unchanged, by `make push`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.support.answers import DEFAULT_ANSWERS, bake_with
from tests.support.base_images import mirror_python_base
from tests.support.course import Course
from tests.support.engine import docker, docker_hub_mirror, engine, remove_local_images
from tests.support.git import git
from tests.support.kernel import execute, in_its_own_loop, run_cell
from tests.support.registry import Registry

pytestmark = [pytest.mark.docker, pytest.mark.network]

VERSION = DEFAULT_ANSWERS["python_version"]
# A host user of their own: the uid a student's files must keep.
STUDENT_UID = 2345
# Jupyter's start and a first kernel are many times slower under emulation.
EMULATED_START = 900


def run(*command: str, cwd: Path, timeout: float = 3600) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def emulation():
    status = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    if not status.exists() or not status.read_text().startswith("enabled"):
        pytest.fail("linux/arm64 images need QEMU's emulator registered with the kernel: run .ci/arm64-emulation")


@pytest.fixture(scope="module")
def docker_hub(emulation, python_base, tmp_path_factory):
    """python:<version>-slim as one tag for amd64 and arm64, where the engine looks for Docker Hub's images."""
    mirror = docker_hub_mirror()
    if mirror is None:
        pytest.fail("the arm64 tests serve python:<version>-slim from a Docker Hub mirror on 127.0.0.1, and the "
                    "engine has none: run .ci/docker-engine")
    running = Registry(tmp_path_factory.mktemp("docker-hub"), port=int(mirror.split(":")[1]))
    running.start()
    mirror_python_base(mirror, VERSION, amd64=python_base(VERSION))
    yield running
    running.stop()


PUSHED: dict[str, str] = {}


@pytest.fixture(scope="module")
def published(docker_hub, registry, cookies_session):
    """The default course, committed and published with `make push`: amd64, and arm64 by emulation."""
    # The default course under a name of its own, so that it builds and runs beside the suite's default course.
    project = bake_with(cookies_session, {"image_registry": f"127.0.0.1:{registry.port}/teach",
                                          "project_slug": "apple-silicon-course"})
    assert git("init", "--quiet", "--initial-branch=main", cwd=project, check=False).returncode == 0
    git("add", "--all", cwd=project)
    assert git("commit", "--quiet", "-m", "Course", cwd=project, check=False).returncode == 0
    image = f"127.0.0.1:{registry.port}/teach/{project.name}"
    try:
        PUSHED["make push"] = run("make", "push", cwd=project).stdout
        yield project, image
    finally:
        remove_local_images(image)


def student_clone(project: Path, folder: Path, arch: str) -> Course:
    """A student's clone, whose work folder is theirs, on a laptop of that architecture."""
    clone = folder / f"student-{arch}"
    assert git("clone", "--quiet", str(project), str(clone), cwd=folder, check=False).returncode == 0
    subprocess.run(["chown", "-R", f"{STUDENT_UID}:{STUDENT_UID}", str(clone / "work")], check=True)
    return Course(clone, project=f"apple-course-{arch}", env={"DOCKER_DEFAULT_PLATFORM": f"linux/{arch}"})


def test_make_push_publishes_one_tag_with_an_image_for_each_architecture(published, registry):
    _, image = published
    assert set(registry.platforms(image.split("/", 1)[1], "latest")) == {"amd64", "arm64"}
    assert PUSHED["make push"].startswith(f"Publishing {image} for linux/amd64 linux/arm64: this computer is ")


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_each_laptop_pulls_the_image_of_its_architecture_by_digest_without_building(
        published, registry, tmp_path, arch):
    project, image = published
    student = student_clone(project, tmp_path, arch)
    remove_local_images(image)
    student.compose("pull")
    pulled = engine().images.get(f"{image}:latest")
    assert pulled.attrs["Architecture"] == arch
    assert pulled.id == registry.image_manifest(image.split("/", 1)[1], "latest", arch)["config"]["digest"]


@pytest.fixture(scope="module")
def bundled(published):
    """`make bundle PLATFORM=linux/arm64` on the instructor's computer, which has its own amd64 image."""
    project, image = published
    run("make", "build", cwd=project)
    own = engine().images.get(f"{image}:latest").id
    output = run("make", "bundle", "PLATFORM=linux/arm64", cwd=project).stdout
    return project / f"{project.name}-image-arm64.tar.gz", own, output


def test_make_bundle_for_arm64_writes_an_archive_and_its_checksum_and_keeps_this_computers_image(
        published, bundled):
    _, image = published
    archive, own, output = bundled
    digest, name = Path(f"{archive}.sha256").read_text().split()
    assert (name, digest) == (archive.name, hashlib.sha256(archive.read_bytes()).hexdigest()), output
    assert engine().images.get(f"{image}:latest").id == own


@pytest.fixture(scope="module")
def apple_student(published, bundled, registry, tmp_path_factory):
    """A student on an Apple-silicon laptop, offline: the arm64 bundle loaded, then `docker compose up`.

    The bundle holds the published arm64 image, so this is also the image an
    online student pulls. It runs by emulation, where Docker's 5 s health probe
    times out (a Python start alone takes seconds): wait on Jupyter itself.
    """
    project, image = published
    archive, _, _ = bundled
    student = student_clone(project, tmp_path_factory.mktemp("apple"), "arm64")
    remove_local_images(image)
    registry.stop()
    try:
        docker("load", "--input", str(archive))
        assert engine().images.get(f"{image}:latest").attrs["Architecture"] == "arm64"
        student.compose("up", "--detach", "--no-build")
        student.wait_answering(timeout=EMULATED_START)
    except BaseException:
        student.down()
        raise
    finally:
        registry.start()
    yield student
    student.down()


def test_a_student_starts_the_arm64_bundle_offline_and_jupyter_answers_only_with_its_token(apple_student):
    machine = apple_student.exec("python", "-c", "import platform; print(platform.machine())").stdout.strip()
    assert machine == "aarch64"
    assert apple_student.api("GET", "/api/status").status_code == 200
    assert apple_student.api("GET", "/api/contents", token=None).status_code == 403


def test_the_check_notebook_runs_clean_in_a_kernel_on_aarch64(apple_student):
    """Every code cell of the check notebook, in one kernel, as Run All Cells runs them; first, where it runs."""
    notebook = json.loads((apple_student.path / "course" / "00-check-environment.ipynb").read_text())
    cells = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    kernel, reply = run_cell(apple_student.url, apple_student.token,
                             "import platform\nassert platform.machine() == 'aarch64', platform.machine()",
                             timeout=EMULATED_START)
    assert reply["status"] == "ok", reply
    channels = f"{apple_student.url.replace('http', 'ws', 1)}/api/kernels/{kernel}/channels"
    for code in cells:
        reply = in_its_own_loop(execute(channels, apple_student.token, code), EMULATED_START)
        # check_packages() imports every package of the course's requirements.in.
        assert reply["status"] == "ok", (code, reply.get("ename"), reply.get("evalue"))


def test_a_students_notebook_on_arm64_belongs_to_them_on_the_host(apple_student):
    apple_student.save_notebook("my-notes.ipynb", "week 1")
    saved = apple_student.path / "work" / "my-notes.ipynb"
    assert (saved.stat().st_uid, saved.stat().st_gid) == (STUDENT_UID, STUDENT_UID)
