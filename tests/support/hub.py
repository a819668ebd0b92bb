"""The course's generated JupyterHub configuration, run for real with a test login (tests and bench/)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.engine import docker, free_port, stop_process, wait_for_url
from tests.support.kernel import execute, in_its_own_loop
from tests.support.waiting import wait_until

TEST_PASSWORD = "not-for-production"
# A browser's path to a student's server: every redirect of the login, the
# spawn and the server's OAuth handshake with the hub (a loop would exceed it).
MOST_REDIRECTS = 10

# A notebook's first cell: the image's own check imports every course package.
IMPORT_THE_COURSE_PACKAGES = "from course_check import check_packages\ncheck_packages()"

TEST_LOGIN = """
c = get_config()  # noqa: F821
load_subconfig({config!r})  # noqa: F821 - the generated configuration, unchanged
# A test login for the listed students, and a service token the tests drive the hub with.
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = set({students!r})
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.JupyterHub.services.append({{"name": "course-tests", "api_token": "{token}"}})
c.JupyterHub.load_roles.append({{
    "name": "course-tests",
    "scopes": ["admin:users", "admin:servers", "tokens", "read:services"],
    "services": ["course-tests"],
}})
"""


@dataclass
class Hub:
    url: str
    token: str
    slug: str
    process: subprocess.Popen
    log: Path
    # Where the hub's API listens for the students' servers (COURSE_HUB_API_PORT of students-firewall.sh).
    api_port: int

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text().splitlines()[-lines:])

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.url}/hub/api{path}", timeout=60,
                                headers={"Authorization": f"token {self.token}"}, **kwargs)

    def start_server(self, user: str) -> None:
        """Start the user's server and follow its progress, as the hub's page does in a browser, until ready."""
        response = self.api("POST", f"/users/{user}/server")
        assert response.status_code in (201, 202), f"{response.text}\n{self.log_tail()}"
        # The hub sends each step as a server-sent event; the last one says whether the server is ready.
        with requests.get(f"{self.url}/hub/api/users/{user}/server/progress", stream=True, timeout=180,
                          headers={"Authorization": f"token {self.token}"}) as progress:
            assert progress.status_code == 200, progress.text
            events = [json.loads(line[len("data:"):]) for line in progress.iter_lines(decode_unicode=True)
                      if line.startswith("data:")]
        assert events, f"the hub sent no progress for {user}'s server"
        assert events[-1].get("ready"), f"{user}'s server did not become ready: {events[-1]}\n{self.log_tail()}"

    def stop_server(self, user: str) -> None:
        response = self.api("DELETE", f"/users/{user}/server")
        assert response.status_code in (202, 204), response.text
        wait_until(lambda: not self.api("GET", f"/users/{user}").json()["servers"], timeout=120, interval=1,
                   message=f"{user}'s server did not stop")

    def user_token(self, user: str) -> str:
        response = self.api("POST", f"/users/{user}/tokens", json={"note": "course tests"})
        assert response.status_code == 201, response.text
        return response.json()["token"]

    def as_user(self, user: str, token: str, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{self.url}/user/{user}{path}", timeout=60, allow_redirects=False,
                                headers={"Authorization": f"token {token}"}, **kwargs)


    def run_cell(self, user: str, token: str, code: str, timeout: float = 300, keep_kernel: bool = False) -> dict:
        """Start a kernel in the user's server and run one cell in it, as a notebook does; return the reply."""
        kernel = self.as_user(user, token, "POST", "/api/kernels", json={"name": "python3"})
        assert kernel.status_code == 201, kernel.text
        url = f"{self.url.replace('http', 'ws', 1)}/user/{user}/api/kernels/{kernel.json()['id']}/channels"
        try:
            return in_its_own_loop(execute(url, token, code), timeout)
        finally:
            if not keep_kernel:
                self.as_user(user, token, "DELETE", f"/api/kernels/{kernel.json()['id']}")


def config_function(project: Path, name: str):
    """A function of the course's deploy/jupyterhub/jupyterhub_config.py, taken from that file.

    The hub's rules (its address on a Docker network, say) live there alone; a test
    that needs one runs the generated function instead of a copy of its own.
    """
    tree = ast.parse((project / "deploy" / "jupyterhub" / "jupyterhub_config.py").read_text())
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name)
    namespace: dict = {}
    exec(compile(ast.Module([function], type_ignores=[]), "jupyterhub_config.py", "exec"), namespace)  # noqa: S102
    return namespace[name]


@contextmanager
def running_hub(project: Path, workdir: Path, students: list[str], environment: dict | None = None) -> Iterator[Hub]:
    """The project's deploy/jupyterhub config with a test login for these students; their servers removed after.

    Started from the project's folder, as deploy/jupyterhub/README.md says, with
    these environment variables added (the config's COURSE_HUB_* settings).
    """
    if not shutil.which("configurable-http-proxy"):
        raise AssertionError("JupyterHub needs configurable-http-proxy (npm install -g configurable-http-proxy)")
    port, api_port, token = free_port(), free_port(), "course-tests-" + workdir.name
    (workdir / "test_config.py").write_text(TEST_LOGIN.format(
        config=str(project / "deploy" / "jupyterhub" / "jupyterhub_config.py"), students=students,
        port=port, hub_port=api_port, proxy_api_port=free_port(), workdir=workdir, token=token,
        password=TEST_PASSWORD))
    log = (workdir / "jupyterhub.log").open("w")
    process = subprocess.Popen([shutil.which("jupyterhub"), "-f", str(workdir / "test_config.py")], cwd=project,
                               env={**os.environ, **(environment or {})}, stdout=log, stderr=subprocess.STDOUT)
    hub = Hub(f"http://127.0.0.1:{port}", token, project.name, process, workdir / "jupyterhub.log", api_port)
    try:
        wait_for_url(f"{hub.url}/hub/api/", timeout=90, process=process, explain=hub.log.read_text)
        # The hub creates the allowed users itself.
        assert {user["name"] for user in hub.api("GET", "/users").json()} >= set(students)
        yield hub
    finally:
        if process.poll() is None:
            for user in students:
                hub.api("DELETE", f"/users/{user}/server")
        stop_process(process)
        log.close()
        for user in students:
            docker("rm", "--force", f"{project.name}-{user}", check=False)
            docker("volume", "rm", f"{project.name}-{user}", check=False)
        docker("network", "rm", f"{project.name}-students", check=False)


def submit_login(session: requests.Session, url: str, user: str, password: str) -> requests.Response:
    """The hub's login form filled in and sent, as a browser does; the hub's answer, not followed."""
    form = session.get(f"{url}/hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text)
    return session.post(f"{url}/hub/login", timeout=30, allow_redirects=False,
                        data={"username": user, "password": password, **({"_xsrf": xsrf.group(1)} if xsrf else {})})


def logged_in(url: str, user: str, password: str = TEST_PASSWORD) -> requests.Session:
    """A browser's session on the hub after a student's login."""
    session = requests.Session()
    session.max_redirects = MOST_REDIRECTS
    answer = submit_login(session, url, user, password)
    assert answer.status_code == 302, f"{user} could not log in: {answer.status_code}"
    return session


def xsrf_header(session: requests.Session, url: str) -> dict:
    """The header a page on the hub's address sends with the user's cookies: the _xsrf the hub's pages set."""
    home = session.get(f"{url}/hub/home", timeout=30)
    return {"X-XSRFToken": home.cookies.get("_xsrf") or session.cookies.get("_xsrf")}


def open_own_server(session: requests.Session, url: str, user: str, path: str,
                    timeout: float = 180) -> requests.Response:
    """Start the student's server from the hub's page and open path in it, as the browser follows the redirects.

    The server answers through the hub's OAuth handshake; a redirect loop fails with TooManyRedirects.
    """
    spawn = session.get(f"{url}/hub/spawn/{user}", timeout=60)
    assert spawn.status_code == 200, f"starting {user}'s server: {spawn.status_code} {spawn.text[:500]}"
    def opened() -> requests.Response | None:
        page = session.get(f"{url}/user/{user}{path}", timeout=60)
        return page if page.status_code == 200 and page.url == f"{url}/user/{user}{path}" else None

    return wait_until(opened, timeout=timeout, interval=1, message=f"{user}'s server did not open {path}")
