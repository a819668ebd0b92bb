"""A new instructor's machine, by the README alone: Debian's own Python (externally managed, no pip in it).

The machine is a container made from Debian's packages (python3, git, make, and
pipx, which the README names for Debian), used by an ordinary user who may talk
to this host's Docker engine, as an instructor in the `docker` group does. The
README's set-up line, then its "Try it" lines, run there exactly as written.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.support.answers import DEFAULT_ANSWERS, DEFAULT_SLUG, DEFAULTS, TEMPLATE
from tests.support.base_images import debian_machine, debian_rootfs_image, image_exists
from tests.support.engine import engine, remove_image
from tests.support.git import git
from tests.support.git_http import git_server
from tests.support.hub import config_function

pytestmark = [pytest.mark.docker, pytest.mark.network]

MACHINE = "jupyter-course-standin/instructor-machine:bookworm"
README = (TEMPLATE / "README.md").read_text(encoding="utf-8")
DOCKER_CLIENT = Path(shutil.which("docker") or "/usr/local/bin/docker").resolve()
CLI_PLUGINS = Path("/usr/local/lib/docker/cli-plugins")


def readme_block_after(heading: str) -> list[str]:
    """The lines of the first ```sh block after a heading of README.md."""
    block = re.search(rf"^{re.escape(heading)}\n.*?```sh\n(.*?)```", README, re.MULTILINE | re.DOTALL)
    assert block, f"README.md has no sh block under {heading!r}"
    return block.group(1).splitlines()


def readme_line(pattern: str) -> str:
    found = re.search(pattern, README, re.MULTILINE)
    assert found, f"README.md has no line matching {pattern!r}"
    return found.group(0)


@pytest.fixture(scope="session")
def instructor_machine(docker_engine) -> str:
    """Debian 12 with python3, git, make and pipx from its own packages; this host's CAs; a user `ada`."""
    # README: "Debian and Ubuntu: `sudo apt install pipx`".
    assert "Debian and Ubuntu: `sudo apt install pipx`" in README
    dockerfile = textwrap.dedent(f"""\
            FROM {debian_rootfs_image("bookworm")}
            RUN apt-get update \\
                && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
                    python3 git make pipx ca-certificates \\
                && apt-get clean && rm -rf /var/lib/apt/lists/*
            # This network's certificate authorities (a campus proxy's), as the machine's own settings.
            COPY ca-certificates.crt /usr/local/share/ca-certificates/host-bundle.crt
            RUN update-ca-certificates && useradd --create-home --shell /bin/bash ada
            ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt
            """)
    return debian_machine(MACHINE, dockerfile)


@pytest.fixture
def instructor(instructor_machine, tmp_path):
    """The machine, running, with ada's folder at the same path as on this host; yields a way to type in it."""
    folder = tmp_path / "home"
    folder.mkdir()
    os.lchown(folder, 1000, 1000)
    socket_group = os.stat("/var/run/docker.sock").st_gid
    started = subprocess.run(
        ["docker", "run", "--detach", "--group-add", str(socket_group),
         "--volume", "/var/run/docker.sock:/var/run/docker.sock",
         "--volume", f"{DOCKER_CLIENT}:/usr/local/bin/docker:ro",
         "--volume", f"{CLI_PLUGINS}:/usr/local/lib/docker/cli-plugins:ro",
         # The engine mounts make test's folders by their path on this host: the same path inside.
         "--volume", f"{folder}:{folder}", instructor_machine, "sleep", "infinity"],
        check=True, capture_output=True, text=True)
    container = started.stdout.strip()

    def type_in(script: str, cwd: Path = folder, timeout: float = 1800) -> subprocess.CompletedProcess:
        """Lines typed by ada in a new terminal (a login shell), in cwd."""
        return subprocess.run(["docker", "exec", "--user", "ada", "--workdir", str(cwd), container,
                               "bash", "-l", "-e", "-c", script], capture_output=True, text=True, timeout=timeout)

    type_in.folder = folder
    try:
        yield type_in
    finally:
        subprocess.run(["docker", "rm", "--force", container], capture_output=True)


def test_debians_own_python_refuses_pip(instructor):
    # What the README's set-up avoids: this machine's python3 has no pip and is externally managed.
    refused = instructor("python3 -m pip install uv")
    assert refused.returncode != 0
    assert "No module named pip" in refused.stderr or "externally-managed-environment" in refused.stderr


def test_the_readme_takes_a_new_instructor_from_debians_python_to_a_tested_course(instructor, python_base):
    python_base(DEFAULT_ANSWERS["python_version"])
    checkout = instructor.folder / "cookiecutter-jupyter-course"
    files = git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=TEMPLATE).stdout.split("\0")
    for name in filter(None, files):
        if (TEMPLATE / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE / name, checkout / name)
    for path in [checkout, *checkout.rglob("*")]:
        os.lchown(path, 1000, 1000)  # ada's, as a checkout of their own

    set_up = instructor(readme_line(r"^pipx install uv$") + "\n" + readme_line(r"^pipx ensurepath$"), timeout=600)
    assert set_up.returncode == 0, set_up.stdout + set_up.stderr

    try_it = readme_block_after("## Try it")
    assert try_it[0].startswith("uvx cookiecutter")
    course_image = f"{DEFAULTS['image_registry']}/{DEFAULT_SLUG}:latest"
    image_was_there = image_exists(course_image)  # the session's default course, the same name
    tried = instructor("\n".join(try_it), cwd=checkout)
    course = checkout / DEFAULT_SLUG
    try:
        assert tried.returncode == 0, tried.stdout[-4000:] + tried.stderr[-4000:]
        # Generation pinned for the course's Python, with hashes, whatever Python the machine has.
        assert "--hash=sha256:" in (course / "requirements.txt").read_text()
        version = DEFAULT_ANSWERS["python_version"]
        assert f"requirements.txt: pinned with hashes for Python {version}: " in tried.stdout
        assert "is not available" not in tried.stdout + tried.stderr
        # make test ran the image's own checks.
        assert re.search(r"\b\d+ passed\b", tried.stdout), tried.stdout[-3000:]
        assert (course / "requirements.txt").stat().st_uid == 1000
        follow_the_next_steps_to_a_push(instructor, course, tried.stdout)
    finally:
        if course.is_dir():
            subprocess.run(["docker", "compose", "down", "--volumes"], cwd=course, capture_output=True)
        if not image_was_there:
            remove_image(course_image)


def follow_the_next_steps_to_a_push(instructor, course: Path, printed: str) -> None:
    """The printed next steps, typed by ada: who commits (git knows nobody yet), the commit, then the push.

    The empty repository is on a git server of this host, where GitHub's would be.
    """
    steps = [line.strip().split("   #")[0] for line in printed[printed.index("Next:"):].splitlines()[1:]]
    url = next(step for step in steps if step.startswith("git remote add origin ")).split()[4]
    assert any(step.startswith("git config --global user.name") for step in steps), "no identity step printed"
    bridge = engine().networks.get("bridge").attrs["IPAM"]["Config"][0]
    host = config_function(course, "network_gateway")(bridge)
    servers = instructor.folder / "git-server"
    servers.mkdir()
    with git_server(servers, f"{course.name}.git", address=host) as address:
        for step in steps:
            if step.startswith(("git config --global", "git init", "git remote add origin")):
                done = instructor(step.replace(url, address), cwd=course, timeout=300)
                assert done.returncode == 0, f"{step}:\n{done.stdout}{done.stderr}"
        pushed = git("--git-dir", str(servers / f"{course.name}.git"), "ls-tree", "-r", "--name-only", "main",
                     cwd=servers).stdout.split()
    assert ".github/workflows/image.yml" in pushed
    # Read by ada, whose repository it is (git refuses another user's).
    assert sorted(pushed) == sorted(instructor("git ls-files", cwd=course).stdout.split())
