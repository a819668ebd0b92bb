"""JupyterHub on one server: every student gets their own container of the course image.

Run it with `jupyterhub -f deploy/jupyterhub/jupyterhub_config.py` (see README.md beside this file).
"""

import os
import sys
from pathlib import Path

# --- Settings to adapt --------------------------------------------------------
# The newest image until make freeze, which names the term's tag here: students keep one environment all term.
COURSE_IMAGE = "{{ cookiecutter.__image }}:latest"
# HTTPS: a certificate (full chain) and its key for the server's name. With
# them the hub answers students at https://<server>/; without them it listens
# on this server only (http://127.0.0.1:8000), for a reverse proxy that serves
# HTTPS in front of it (README.md beside this file shows both).
TLS_CERT = os.environ.get("COURSE_HUB_TLS_CERT", "")
TLS_KEY = os.environ.get("COURSE_HUB_TLS_KEY", "")
HUB_URL = os.environ.get("COURSE_HUB_URL") or ("https://:443" if TLS_CERT else "http://127.0.0.1:8000")
# Per student.
MEMORY_LIMIT = "2G"
# How many students work at once: as many as the server's memory holds at
# STUDENT_MEMORY_GB each (a server of the default course takes 0.1 GB idle and
# 0.19 GB once its packages are imported; the rest is room for data), keeping
# 1 GB for the hub and the system. COURSE_HUB_STUDENTS_MEMORY_GB gives the
# students less of a shared server. One more student is asked to try again
# in a few minutes; the others' servers keep running.
STUDENT_MEMORY_GB = 0.5
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
if TLS_CERT:
    c.JupyterHub.ssl_cert = TLS_CERT
    c.JupyterHub.ssl_key = TLS_KEY

# The hub's own state (the cookie secret that signs logins, the user database,
# the proxy's pid) in a folder of its own beside this file, which git ignores:
# never in the repository, whatever folder the hub is started from.
STATE = Path(__file__).resolve().parent / "state"
STATE.mkdir(mode=0o700, exist_ok=True)
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.Authenticator.allowed_users = STUDENTS | INSTRUCTORS
# Instructors are not JupyterHub admins: an admin may open every student's
# server, and a page a student serves there (an app behind /proxy/<port>/)
# runs on the hub's own address with the admin's login, free to make its
# author an admin too. Without access to students' servers, nothing a
# student writes ever runs in an instructor's browser.
INSTRUCTOR_SCOPES = ["admin-ui", "list:users", "read:users", "servers"]

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
c.DockerSpawner.extra_host_config = {
    "pids_limit": PIDS_LIMIT,
    # The server runs as the course user and needs no capability; nothing in
    # it can gain one (setuid programs included).
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
}
# The image's HEALTHCHECK is for `docker compose up` on a laptop; the hub checks
# its servers itself. Left on, it would run a Python process in every
# student's container every 5 seconds (about 1 CPU-second a minute each).
c.DockerSpawner.extra_create_kwargs = {"healthcheck": {"test": ["NONE"]}}
c.DockerSpawner.name_template = "{{ cookiecutter.project_slug }}-{username}"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120


def memory_for_students_gb() -> float:
    """COURSE_HUB_STUDENTS_MEMORY_GB, else this server's memory less 1 GB for the hub and the system."""
    if os.environ.get("COURSE_HUB_STUDENTS_MEMORY_GB"):
        return float(os.environ["COURSE_HUB_STUDENTS_MEMORY_GB"])
    with open("/proc/meminfo") as meminfo:
        total_kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    return total_kib / 1024**2 - 1


# Servers still starting count too, so a whole class clicking Start at once is
# held to the same number.
c.JupyterHub.active_server_limit = max(1, int(memory_for_students_gb() // STUDENT_MEMORY_GB))


# The students' network: each student's server reaches the hub's API, and the
# hub's proxy reaches each server, but no server reaches another one (Docker's
# inter-container communication is off on it).
NETWORK = "{{ cookiecutter.project_slug }}-students"
NO_ICC = {"com.docker.network.bridge.enable_icc": "false"}


def network_gateway(ipam: dict) -> str:
    """This server's address on a Docker network, from its IPAM config."""
    import ipaddress

    # Older engines leave the gateway out: it is the subnet's first address.
    return ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))


def students_network_gateway() -> str:
    """Create the students' network if needed; this server's address on it."""
    import docker  # installed with dockerspawner

    client = docker.from_env()
    found = client.networks.list(names=[NETWORK])
    network = found[0] if found else client.networks.create(NETWORK, driver="bridge", options=NO_ICC)
    network.reload()
    if network.attrs["Options"].get("com.docker.network.bridge.enable_icc") != "false":
        sys.exit(f"Docker network {NETWORK} lets containers reach each other: docker network rm {NETWORK}")
    return network_gateway(network.attrs["IPAM"]["Config"][0])


c.DockerSpawner.network_name = NETWORK
c.DockerSpawner.use_internal_ip = True
# The students' containers reach the hub's API there; it listens nowhere else.
gateway = students_network_gateway()
c.JupyterHub.hub_ip = os.environ.get("COURSE_HUB_API_IP") or gateway

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
    },
    {
        "name": "instructor",
        "description": "See every student on the admin page; start and stop their servers",
        "scopes": INSTRUCTOR_SCOPES,
        "users": sorted(INSTRUCTORS),
    },
]
