"""The one-server hub set up as deploy/jupyterhub/README.md says, on a clean Debian machine, to a hub that answers.

The machine is a container of Debian 12's own packages with nothing of the hub
installed, sharing this host's network and Docker engine as a server does. The
README's set-up lines run there as written (`docker pull` aside: the hub
answers before any student's image is needed), then the hub starts with the
command of `course-hub.service`, the systemd unit the README installs.
"""

from __future__ import annotations

import configparser
import re
import textwrap

import pytest
import requests

from tests.support.base_images import debian_machine, debian_rootfs_image
from tests.support.engine import docker, engine, free_port
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.docker, pytest.mark.network]

MACHINE = "jupyter-course-standin/hub-server:bookworm"
SLUG = "hub-server-course"


@pytest.fixture(scope="module")
def hub_server(docker_engine) -> str:
    """Debian 12 with sudo and this network's certificate authorities, nothing else."""
    dockerfile = textwrap.dedent(f"""\
            FROM {debian_rootfs_image("bookworm")}
            RUN apt-get update \\
                && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends sudo ca-certificates \\
                && apt-get clean && rm -rf /var/lib/apt/lists/*
            # This network's certificate authorities (a campus proxy's), as the server's own settings.
            COPY ca-certificates.crt /usr/local/share/ca-certificates/host-bundle.crt
            # pip and npm trust them too, through sudo as well.
            RUN update-ca-certificates \\
                && echo 'Defaults env_keep += "PIP_CERT NODE_EXTRA_CA_CERTS DEBIAN_FRONTEND"' > /etc/sudoers.d/certs
            ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \\
                DEBIAN_FRONTEND=noninteractive
            """)
    return debian_machine(MACHINE, dockerfile)


def set_up_lines(readme: str) -> list[str]:
    block = re.search(r"^## On the server .*?```sh\n(.*?)```", readme, re.MULTILINE | re.DOTALL)
    assert block, "deploy/jupyterhub/README.md has no set-up block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_readmes_lines_set_up_a_hub_that_answers_on_a_clean_debian_machine(hub_server, bake_static):
    project = bake_static({"project_slug": SLUG})
    hub = project / "deploy" / "jupyterhub"
    lines = set_up_lines((hub / "README.md").read_text())
    assert lines[0].startswith("sudo apt-get update && sudo apt-get install -y python3-venv nodejs npm")
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.read_string((hub / "course-hub.service").read_text())
    start = unit["Service"]["ExecStart"]
    assert start == "/opt/course-hub/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py"
    port, proxy_api, hub_api = free_port(), free_port(), free_port()
    started = docker("run", "--detach", "--network", "host",
                     "--volume", "/var/run/docker.sock:/var/run/docker.sock",
                     "--volume", f"{project}:/srv/{SLUG}", "--workdir", f"/srv/{SLUG}",
                     hub_server, "sleep", "infinity")
    machine = started.stdout.strip()
    try:
        for line in lines:
            if line.startswith("docker pull"):
                continue
            done = docker("exec", machine, "bash", "-e", "-c", line, check=False, timeout=1800)
            assert done.returncode == 0, f"{line}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        # The unit's command, with ports of the test's own (the hub's address comes from the environment).
        docker("exec", "--detach", "--env", f"COURSE_HUB_URL=http://127.0.0.1:{port}", machine, "bash", "-c",
               f"{start} --ConfigurableHTTPProxy.api_url=http://127.0.0.1:{proxy_api} "
               f"--JupyterHub.hub_port={hub_api} > /tmp/hub.log 2>&1")

        def answers() -> bool:
            return requests.get(f"http://127.0.0.1:{port}/hub/api", timeout=5).status_code == 200

        wait_until(answers, timeout=180, interval=1, ignoring=(requests.ConnectionError,),
                   message=lambda: docker("exec", machine, "cat", "/tmp/hub.log", check=False).stdout[-3000:])
        version = requests.get(f"http://127.0.0.1:{port}/hub/api", timeout=5).json()["version"]
        assert version.split(".")[0] == "5"
    finally:
        docker("rm", "--force", machine, check=False)
        for network in engine().networks.list(names=[f"{SLUG}-students"]):
            network.remove()
