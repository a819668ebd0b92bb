"""A generated course repository, started and driven the way a student does."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import requests
from docker.models.containers import Container

from tests.support.engine import engine, free_port
from tests.support.waiting import wait_until

# Processes as /proc shows them inside the container, one line each:
# "uid gid no-new-privs effective-capabilities bounding-set groups...".
PROC_STATUS = """
import os, pathlib, sys
def show(proc):
    status = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines())
    print(status["Uid"].split()[0], status["Gid"].split()[0], status["NoNewPrivs"].strip(),
          status["CapEff"].strip(), status["CapBnd"].strip(), status["Groups"])
if sys.argv[1:] != ["jupyter"]:
    show(pathlib.Path("/proc", sys.argv[1]))
    sys.exit()
# Each Jupyter process: server and kernels, not tini.
for proc in pathlib.Path("/proc").glob("[0-9]*"):
    if proc.name == str(os.getpid()):  # this script's own command line names jupyter too
        continue
    try:
        command = (proc / "cmdline").read_bytes().replace(b"\\0", b" ").decode()
        if "jupyter" in command and not command.startswith("tini"):
            show(proc)
    except OSError:
        continue
"""

# Linux capability numbers (linux/capability.h) of what compose.yaml keeps for start-course.
CAPABILITY_NUMBERS = {"CHOWN": 0, "KILL": 5, "SETGID": 6, "SETUID": 7, "SETPCAP": 8}
COURSE_CAPABILITIES = {"CHOWN", "SETUID", "SETGID", "SETPCAP"}


def capability_names(mask: int) -> set[str]:
    names = {name for name, bit in CAPABILITY_NUMBERS.items() if mask & (1 << bit)}
    others = mask & ~sum(1 << bit for bit in CAPABILITY_NUMBERS.values())
    return names | ({f"others:{others:#x}"} if others else set())


def parse_proc_status(output: str) -> list[dict]:
    return [{"uid": int(uid), "gid": int(gid), "no_new_privs": flag, "capabilities": int(caps, 16),
             "bounding": int(bounding, 16), "groups": [int(group) for group in groups]}
            for uid, gid, flag, caps, bounding, *groups in (row.split() for row in output.splitlines())]


def fresh_checkout(project: Path, path: Path) -> Path:
    """A student's fresh clone of the course at path: work/ holds only .gitkeep, and the student's earlier file."""
    shutil.copytree(project, path, ignore=lambda folder, names: [
        name for name in names if Path(folder).name == "work" and name != ".gitkeep"])
    (path / "work" / "before.ipynb").write_text("{}")
    return path


def owners(folder: Path, leave_out: Path) -> dict[str, tuple[int, int]]:
    """(uid, gid) of every path under folder, leave_out and what is in it excepted."""
    return {str(path.relative_to(folder)): (path.lstat().st_uid, path.lstat().st_gid)
            for path in folder.rglob("*") if path != leave_out and leave_out not in path.parents}


def uid_of_course_user(container: Container) -> str:
    return container.exec_run(["sh", "-c", 'id -u "$NB_USER"']).output.decode().strip()


@dataclass
class Course:
    """A generated course repository driven with the student's own compose commands."""

    path: Path
    # The combination's name in tests.support.matrices, when it is one of them.
    name: str = "default"
    port: int = field(default_factory=lambda: free_port())
    token: str | None = field(default_factory=lambda: secrets.token_hex(16))
    env: dict = field(default_factory=dict)
    # Another compose project name lets a copy of a course run beside the original.
    project: str | None = None

    def compose(self, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "JUPYTER_PORT": str(self.port), **self.env}
        if self.token is not None:
            env["JUPYTER_TOKEN"] = self.token
        name = ["--project-name", self.project] if self.project else []
        return subprocess.run(["docker", "compose", *name, *args], cwd=self.path, env=env, check=check,
                              text=True, capture_output=True, timeout=timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def container_id(self) -> str:
        return self.compose("ps", "--all", "--quiet", "jupyter").stdout.strip()

    def container(self) -> Container:
        """The course's container, through the engine's API."""
        return engine(self.env.get("DOCKER_HOST")).containers.get(self.container_id())

    def up(self) -> Course:
        self.compose("up", "--detach")
        self.wait_answering()
        return self

    def wait_healthy(self, timeout: float = 120) -> None:
        def health() -> str:
            return self.container().attrs["State"].get("Health", {}).get("Status", "")

        wait_until(lambda: health() == "healthy", timeout=timeout,
                   message=lambda: f"container not healthy ({health()}):\n{self.compose('logs', check=False).stdout}")

    def wait_answering(self, timeout: float = 120) -> None:
        """Wait on Jupyter itself: its API answers with the token (sooner than Docker's health interval)."""
        # Without a token of the test's own, Jupyter's refusal is its answer too.
        answered = (200,) if self.token else (200, 403)
        wait_until(lambda: self.api("GET", "/api/status").status_code in answered, timeout=timeout, interval=0.2,
                   ignoring=(requests.ConnectionError,),
                   message=lambda: f"Jupyter did not answer:\n{self.compose('logs', check=False).stdout}")

    def api(self, method: str, path: str, token: str | None = "own", **kwargs) -> requests.Response:
        """Call Jupyter's REST API, with this course's token unless told otherwise."""
        token = self.token if token == "own" else token
        headers = {"Authorization": f"token {token}"} if token else {}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def exec(self, *command: str, user: str | None = None, check: bool = True,
             timeout: float = 300) -> subprocess.CompletedProcess:
        """Run a command in the running container (as the course user unless told otherwise).

        A command that outlives timeout (a hung kernel) or fails (with check) fails the test with its output.
        """
        container = self.container()
        try:
            completed = subprocess.run(
                ["docker", "exec", "--user", user or uid_of_course_user(container), container.id, *command],
                env={**os.environ, **self.env}, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as expired:
            # What it printed so far comes as bytes.
            output = b"".join(part for part in (expired.stdout, expired.stderr) if isinstance(part, bytes))
            raise AssertionError(f"{command} still running in the course container after {timeout} s:\n"
                                 f"{output.decode(errors='replace')}") from None
        if check and completed.returncode != 0:
            raise AssertionError(f"{command} exited with {completed.returncode} in the course container:\n"
                                 f"{completed.stdout}{completed.stderr}")
        return completed

    def course_uid(self) -> str:
        return uid_of_course_user(self.container())

    def jupyter_processes(self) -> list[dict]:
        """Jupyter's server and kernels as /proc shows them inside the container (see PROC_STATUS)."""
        return parse_proc_status(self.exec("python", "-c", PROC_STATUS, "jupyter", user="0").stdout)

    def proc_status(self, pid: int) -> dict:
        return parse_proc_status(self.exec("python", "-c", PROC_STATUS, str(pid), user="0").stdout)[0]

    def compose_exec_status(self) -> dict:
        """The process `docker compose exec jupyter ...` starts, as a student or TA would open a shell."""
        shell = self.compose("exec", "-T", "jupyter", "python", "-c", PROC_STATUS, "self")
        return parse_proc_status(shell.stdout)[0]

    def save_notebook(self, path: str, text: str) -> None:
        """Save a one-cell notebook through Jupyter's API, as the student's browser does."""
        notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": text}],
                    "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        response = self.api("PUT", f"/api/contents/{path}",
                            json={"type": "notebook", "format": "json", "content": notebook})
        assert response.status_code in (200, 201), response.text

    def read_notebook(self, path: str) -> str:
        response = self.api("GET", f"/api/contents/{path}")
        assert response.status_code == 200, response.text
        return response.json()["content"]["cells"][0]["source"]

    def processes(self) -> list[dict]:
        """Every process in the container: uid, pid, state and command line (from the host's ps)."""
        table = self.container().top(ps_args="-o uid,pid,stat,args")["Processes"]
        return [{"uid": int(uid), "pid": int(pid), "stat": stat, "args": args} for uid, pid, stat, args in table]

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)
