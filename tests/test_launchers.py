"""The same repository started by other launchers: repo2docker (Binder) and the Dev Containers CLI."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import requests

from tests.support.answers import DEFAULT_ANSWERS, bake_with
from tests.support.engine import engine, free_port, remove_image, stop_process
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def launcher_course(cookies_session, python_base):
    python_base(DEFAULT_ANSWERS["python_version"])
    return bake_with(cookies_session, {"project_slug": "launcher-course", "packages": "six"})


def test_repo2docker_builds_the_repository_and_its_container_serves_jupyter(launcher_course, tmp_path):
    image = "launcher-course-repo2docker:test"
    port = free_port()
    log = (tmp_path / "repo2docker.log").open("w+")
    # As Binder does: repo2docker passes NB_USER/NB_UID, then starts `jupyter notebook`.
    process = subprocess.Popen(
        [shutil.which("jupyter-repo2docker"), "--user-id", "1000", "--user-name", "jovyan",
         "--image-name", image, "--publish", f"127.0.0.1:{port}:{port}", str(launcher_course)],
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
    finally:
        stop_process(process)
        log.close()
        for container in engine().containers.list(all=True, filters={"ancestor": image}):
            container.remove(force=True)
        remove_image(image)


def test_dev_container_cli_brings_up_the_course_and_imports_its_packages(launcher_course):
    devcontainer = shutil.which("devcontainer")
    if not devcontainer:
        pytest.fail("the dev container test needs the Dev Containers CLI (npm install -g @devcontainers/cli)")
    folder = str(launcher_course)
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
