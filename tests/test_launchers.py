"""The routes for a computer that cannot run Docker, started for real: repo2docker (Binder) and the Dev Containers CLI.

Both start the course image as published to a registry on 127.0.0.1, pulled
from there: nothing is built from the course's Dockerfile, nothing installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import requests

from tests.support.answers import DEFAULT_ANSWERS, bake_with
from tests.support.engine import docker, engine, free_port, remove_image, remove_local_images, stop_process
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def launcher_course(cookies_session, python_base, registry):
    """A course whose image is published; this computer then has no copy of it."""
    python_base(DEFAULT_ANSWERS["python_version"])
    project = bake_with(cookies_session, {"project_slug": "launcher-course", "packages": "six",
                                          "image_registry": f"127.0.0.1:{registry.port}/teach"})
    image = f"127.0.0.1:{registry.port}/teach/launcher-course:latest"
    built = subprocess.run(["docker", "compose", "build", "course-image"], cwd=project, capture_output=True, text=True,
                           timeout=1800)
    assert built.returncode == 0, built.stderr
    docker("push", "--quiet", image)
    layers = engine().images.get(image).attrs["RootFS"]["Layers"]
    remove_local_images(image.rsplit(":", 1)[0])
    try:
        yield project, layers
    finally:
        remove_local_images(image.rsplit(":", 1)[0])


def built_nothing(published: list[str], image: str) -> None:
    """The image's file system is the published one's: no layer built on top, or only the dev container's uid."""
    layers = engine().images.get(image).attrs["RootFS"]["Layers"]
    assert layers[:len(published)] == published
    assert len(layers) - len(published) <= 1, "a launcher built layers on the published image"


def test_repo2docker_starts_the_published_image_without_installing_and_serves_jupyter(launcher_course, tmp_path):
    project, published = launcher_course
    image = "launcher-course-repo2docker:test"
    port = free_port()
    log = (tmp_path / "repo2docker.log").open("w+")
    # As Binder does: repo2docker passes NB_USER/NB_UID, then starts `jupyter notebook`.
    process = subprocess.Popen(
        [shutil.which("jupyter-repo2docker"), "--user-id", "1000", "--user-name", "jovyan",
         "--image-name", image, "--publish", f"127.0.0.1:{port}:{port}", str(project)],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        def printed_token() -> str | None:
            output = (tmp_path / "repo2docker.log").read_text()
            assert process.poll() is None, output
            found = re.search(rf"127\.0\.0\.1:{port}/\S*\?token=([0-9a-f]+)", output)
            return found and found.group(1)

        token = wait_until(printed_token, timeout=900, interval=1,
                           message=lambda: (tmp_path / "repo2docker.log").read_text())
        status = requests.get(f"http://127.0.0.1:{port}/api/status", params={"token": token}, timeout=10)
        assert status.status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/api/contents", timeout=10).status_code == 403
        # Nothing is mounted: the course's notebooks come with the image.
        course = requests.get(f"http://127.0.0.1:{port}/api/contents/course", params={"token": token}, timeout=10)
        assert course.status_code == 200, course.text
        assert "00-check-environment.ipynb" in {item["name"] for item in course.json()["content"]}
        user = engine().images.get(image).attrs["Config"]["User"]
        assert user in ("1000", "jovyan")
        assert engine().images.get(image).attrs["RootFS"]["Layers"] == published
        # One step, the published image pulled: the course's own Dockerfile (cached or not) was not built.
        built = (tmp_path / "repo2docker.log").read_text()
        assert re.search(r"\[1/1\] FROM 127\.0\.0\.1:\d+/teach/launcher-course:latest", built), built
    finally:
        stop_process(process)
        log.close()
        for container in engine().containers.list(all=True, filters={"ancestor": image}):
            container.remove(force=True)
        remove_image(image)


def test_dev_container_cli_starts_the_published_image_and_jupyter_answers_with_the_course_packages(
        launcher_course):
    devcontainer = shutil.which("devcontainer")
    if not devcontainer:
        pytest.fail("the dev container test needs the Dev Containers CLI (npm install -g @devcontainers/cli)")
    project, published = launcher_course
    folder = str(project)
    try:
        up = subprocess.run([devcontainer, "up", "--workspace-folder", folder, "--remove-existing-container"],
                            capture_output=True, text=True, timeout=1200)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        result = subprocess.run(
            [devcontainer, "exec", "--workspace-folder", folder, "python", "-c",
             "import getpass, jupyterlab, six, sys; print(getpass.getuser(), '%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.split()[-2:] == ["student", DEFAULT_ANSWERS["python_version"]]
        container = engine().containers.list(filters={"label": f"devcontainer.local_folder={folder}"})[0]
        built_nothing(published, container.attrs["Config"]["Image"])
        # Jupyter, as the course starts it, answers inside the dev container.
        answered = subprocess.run(
            [devcontainer, "exec", "--workspace-folder", folder, "sh", "-c",
             "jupyter-lab --no-browser --port 8899 --IdentityProvider.token=check > /tmp/jupyter.log 2>&1 & "
             "for attempt in $(seq 60); do python -c \"import urllib.request; print(urllib.request.urlopen("
             "'http://127.0.0.1:8899/api/status?token=check').status)\" 2>/dev/null && exit; sleep 1; done; "
             "cat /tmp/jupyter.log; exit 1"],
            capture_output=True, text=True, timeout=300)
        assert answered.stdout.split()[-1:] == ["200"], answered.stdout + answered.stderr
    finally:
        containers = engine().containers.list(all=True, filters={"label": f"devcontainer.local_folder={folder}"})
        images = {container.attrs["Config"]["Image"] for container in containers}
        for container in containers:
            container.remove(force=True)
        for image in images:
            remove_image(image)
        for image in [tag for local in engine().images.list() for tag in local.tags]:
            if image.startswith("vsc-launcher-course"):
                remove_image(image)
