"""JupyterHub on one server: every student gets their own container of the course image.

Run it with `jupyterhub -f deploy/jupyterhub/jupyterhub_config.py` (see README.md beside this file).
"""

import os
import sys

# --- Settings to adapt --------------------------------------------------------
COURSE_IMAGE = "{{ cookiecutter.__image }}:latest"
# Where students open the hub. Put it behind HTTPS (a reverse proxy, or
# c.JupyterHub.ssl_cert / ssl_key) before real students log in.
HUB_URL = os.environ.get("COURSE_HUB_URL", "http://:8000")
# Per student.
MEMORY_LIMIT = "2G"
CPU_LIMIT = 1.0
# Processes and threads: enough for Jupyter, several kernels and their
# threads, not for a fork bomb that would take the server down.
PIDS_LIMIT = 1024
# A server nobody has used for this long (seconds) is stopped; the student's
# files stay in their volume.
IDLE_TIMEOUT = 3600
# Who may log in: nobody until you say so. With the default authenticator these
# are accounts on this server; to use your university's login instead, see
# https://jupyterhub.readthedocs.io/en/stable/reference/authenticators.html
STUDENTS: set[str] = set()
INSTRUCTORS: set[str] = set()
# ------------------------------------------------------------------------------

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

c.JupyterHub.bind_url = HUB_URL
c.Authenticator.allowed_users = STUDENTS | INSTRUCTORS
c.Authenticator.admin_users = INSTRUCTORS

c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.image = COURSE_IMAGE
c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
c.DockerSpawner.default_url = "{{ cookiecutter.__default_url }}"
# One volume per student, mounted where the image keeps the student's work.
c.DockerSpawner.notebook_dir = "/home/{{ cookiecutter.__user }}/work"
c.DockerSpawner.volumes = {"{{ cookiecutter.project_slug }}-{username}": "/home/{{ cookiecutter.__user }}/work"}
c.DockerSpawner.remove = True
c.DockerSpawner.mem_limit = MEMORY_LIMIT
c.DockerSpawner.cpu_limit = CPU_LIMIT
c.DockerSpawner.extra_host_config = {"pids_limit": PIDS_LIMIT}
c.DockerSpawner.name_template = "{{ cookiecutter.project_slug }}-{username}"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120


def docker_bridge_gateway() -> str:
    """This server's address on Docker's default network, where the students' containers are."""
    import ipaddress

    import docker  # installed with dockerspawner

    ipam = docker.from_env().networks.get("bridge").attrs["IPAM"]["Config"][0]
    # Older engines leave the gateway out: it is the subnet's first address.
    return ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))


# The students' containers reach the hub's API there; it listens nowhere else.
c.JupyterHub.hub_ip = os.environ.get("COURSE_HUB_API_IP") or docker_bridge_gateway()

c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={IDLE_TIMEOUT}"],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
