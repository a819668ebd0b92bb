"""deploy/z2jh/values.yaml as the Zero to JupyterHub chart really uses it.

Helm merges the course's values over the chart's defaults; the chart's schema
checks the result, and the hub applies `hub.config` with the chart's own code.
The tests do the same with the chart's files and a real JupyterHub of the
version the chart runs, then try to log in as a stranger.

The chart's files come from Z2JH_CHART_DIR (a folder holding values.yaml, the
schema and files/hub/jupyterhub_config.py, as in the chart archive) or, when
it is unset, from the chart archive itself.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jsonschema
import pytest
import requests
import yaml
from uv import find_uv_bin

from tests.support.answers import DEFAULTS
from tests.support.engine import docker, engine, free_port, stop_process, wait_for_url
from tests.support.hub import (
    TEST_PASSWORD,
    config_function,
    logged_in,
    open_own_server,
    submit_login,
    xsrf_header,
)
from tests.support.matrices import image_of

pytestmark = pytest.mark.network

CHART_VERSION = DEFAULTS["_z2jh_chart_version"]
CHART_ARCHIVE = f"https://jupyterhub.github.io/helm-chart/jupyterhub-{CHART_VERSION}.tgz"
# The parts of the chart's jupyterhub_config.py that apply hub.loadRoles and hub.config.
APPLY_LOAD_ROLES = re.compile(r'^for key, role in get_config\("hub\.loadRoles".*?(?=^\S)', re.MULTILINE | re.DOTALL)
APPLY_HUB_CONFIG = re.compile(r"^# load hub\.config values.*?(?=^# load /usr/local/etc/jupyterhub/)",
                              re.MULTILINE | re.DOTALL)
# What the template generated before: no login named, so the chart's "dummy" one.
PREVIOUS_HUB_CONFIG = {"hub": {"config": {"Authenticator": {"allowed_users": [], "admin_users": []}}}}


def helm_merge(defaults: dict, values: dict) -> dict:
    """Values over defaults as Helm coalesces them: maps merge, null deletes a default."""
    merged = dict(defaults)
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.fixture(scope="session")
def chart(tmp_path_factory) -> Path:
    """The chart's folder: Z2JH_CHART_DIR, or the chart archive unpacked; fails when neither can be had."""
    if os.environ.get("Z2JH_CHART_DIR"):
        folder = Path(os.environ["Z2JH_CHART_DIR"])
    else:
        try:
            archive = requests.get(CHART_ARCHIVE, timeout=60)
            archive.raise_for_status()
        except requests.RequestException as error:
            pytest.fail(f"the Zero to JupyterHub chart is needed: set Z2JH_CHART_DIR to an unpacked "
                        f"{CHART_ARCHIVE} (its jupyterhub/ folder); downloading it failed: {error}")
        target = tmp_path_factory.mktemp("chart")
        with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
            tar.extractall(target, filter="data")
        folder = target / "jupyterhub"
    needed = [folder / "values.yaml", folder / "files/hub/jupyterhub_config.py", folder / "files/hub/z2jh.py"]
    missing = [str(path) for path in needed if not path.is_file()]
    if missing or not schema_path(folder):
        pytest.fail(f"the Zero to JupyterHub chart folder {folder} lacks {missing or 'its values schema'}")
    return folder


def schema_path(chart: Path) -> Path | None:
    # The repository has the YAML source; the packaged chart, the JSON made from it.
    return next((path for path in (chart / "values.schema.yaml", chart / "values.schema.json") if path.is_file()),
                None)


def merged_values(chart: Path, values: dict) -> dict:
    return helm_merge(yaml.safe_load((chart / "values.yaml").read_text()), values)


def jupyterhub_version(chart: Path) -> str:
    return yaml.safe_load((chart / "Chart.yaml").read_text())["appVersion"]


@pytest.fixture(scope="module", params=[{}, {"gpu": "yes", "base_image": "jupyter-scipy-notebook"}],
                ids=["default", "stacks-gpu"])
def course_values(request, bake_static) -> dict:
    return yaml.safe_load((bake_static(request.param) / "deploy/z2jh/values.yaml").read_text())


def test_values_target_the_chart_version_checked_here(bake_static):
    text = (bake_static({}) / "deploy/z2jh/values.yaml").read_text()
    assert f"jupyterhub/jupyterhub --version {CHART_VERSION} " in text


def test_the_course_image_pins_the_jupyterhub_major_version_the_chart_runs(chart):
    assert jupyterhub_version(chart).split(".")[0] == DEFAULTS["_jupyterhub_version"]


def test_the_dockerspawner_hub_here_runs_the_same_jupyterhub_major_version():
    # deploy/jupyterhub/README.md installs jupyterhub==<_jupyterhub_version>.*; the tests' hub is that one.
    assert importlib.metadata.version("jupyterhub").split(".")[0] == DEFAULTS["_jupyterhub_version"]


def test_merged_values_pass_the_chart_schema(chart, course_values):
    schema = yaml.safe_load(schema_path(chart).read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(merged_values(chart, course_values)), key=str)
    assert not errors, [f"{'.'.join(map(str, error.path))}: {error.message}" for error in errors]


def test_merged_values_name_a_login_that_admits_nobody(chart, course_values):
    config = merged_values(chart, course_values)["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "null"
    # No admins: JupyterHub has ignored admin_access since 2.0, and an admin reaches every server.
    assert config["Authenticator"] == {"allow_all": False, "allowed_users": [], "admin_users": []}


def test_instructors_get_a_role_that_neither_opens_servers_nor_makes_admins(chart, course_values):
    role = merged_values(chart, course_values)["hub"]["loadRoles"]["instructor"]
    assert role["users"] == []
    assert not {"admin:users", "admin:servers", "access:servers", "users", "tokens"} & set(role["scopes"])


def test_the_hub_serves_https_with_a_certificate_for_its_name(chart, course_values):
    https = merged_values(chart, course_values)["proxy"]["https"]
    assert https["enabled"] is True
    assert https["type"] == "letsencrypt"
    assert https["hosts"] == ["hub.example.edu"]
    assert https["letsencrypt"]["contactEmail"] == DEFAULTS["instructor_email"]


def test_merged_values_keep_metadata_blocking_and_network_policies(chart, course_values):
    values = merged_values(chart, course_values)
    assert values["singleuser"]["cloudMetadata"]["blockWithIptables"] is True
    assert values["singleuser"]["networkPolicy"]["egressAllowRules"]["cloudMetadataServer"] is False
    for part in ("hub", "proxy", "singleuser"):
        section = values[part]["chp"] if part == "proxy" else values[part]
        assert section["networkPolicy"]["enabled"] is True, part


# --- A real hub with the merged hub.config --------------------------------------

LOCAL_HUB = """
import json, sys
c = get_config()  # noqa: F821
# The chart's own helper module, reading the merged values instead of the hub pod's secret.
sys.path.insert(0, {chart_hub_files!r})
import z2jh
z2jh._load_config = lambda: json.loads(open({values!r}).read())
# The chart's own code that applies hub.config, unchanged.
exec(compile(open({apply!r}).read(), "chart: jupyterhub_config.py", "exec"),
     {{"c": c, "get_config": z2jh.get_config, "sys": sys}})
# Where this local hub listens and keeps its state; nothing about who may log in.
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.JupyterHub.db_url = "sqlite:///{workdir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{workdir}/jupyterhub_cookie_secret"
c.JupyterHub.spawner_class = "simple"
"""
# A student who logs in with a test password, and DockerSpawner in place of the
# chart's KubeSpawner: the course image with the values' singleuser command and
# page, on the engine's default network, reaching the hub at its gateway.
STUDENT_ON_THE_COURSE_IMAGE = """
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = {{{student!r}}}
c.JupyterHub.spawner_class = "docker"
c.DockerSpawner.image = {image!r}
c.DockerSpawner.cmd = {cmd!r}
c.DockerSpawner.default_url = {default_url!r}
c.DockerSpawner.name_template = {container!r}
c.DockerSpawner.network_name = "bridge"
c.DockerSpawner.use_internal_ip = True
c.JupyterHub.hub_ip = {gateway!r}
"""
VERSION_WARNING = "could cause failure to authenticate"


@pytest.fixture(scope="session")
def chart_jupyterhub(chart, tmp_path_factory) -> Path:
    """The `jupyterhub` command of the version the chart runs, in an environment of its own."""
    if not shutil.which("configurable-http-proxy"):
        pytest.fail("the hub test needs configurable-http-proxy (npm install -g configurable-http-proxy)")
    venv = tmp_path_factory.mktemp("chart-jupyterhub") / "venv"
    uv = find_uv_bin()
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                    f"jupyterhub=={jupyterhub_version(chart)}", "dockerspawner"], check=True, timeout=600)
    return venv / "bin" / "jupyterhub"


@contextmanager
def chart_hub(chart: Path, jupyterhub: Path, values: dict, workdir: Path, settings: str = "") -> Iterator[str]:
    """A hub with the chart's code applying the merged hub.config, then these settings; its address."""
    chart_config = (chart / "files/hub/jupyterhub_config.py").read_text()
    parts = [APPLY_LOAD_ROLES.search(chart_config), APPLY_HUB_CONFIG.search(chart_config)]
    assert all(parts), "the chart's jupyterhub_config.py no longer has its hub.loadRoles and hub.config blocks"
    (workdir / "apply_hub_config.py").write_text("\n".join(part.group(0) for part in parts))
    (workdir / "values.json").write_text(json.dumps(merged_values(chart, values)))
    port = free_port()
    (workdir / "local_hub.py").write_text(LOCAL_HUB.format(
        chart_hub_files=str(chart / "files/hub"), values=str(workdir / "values.json"),
        apply=str(workdir / "apply_hub_config.py"), port=port, hub_port=free_port(), proxy_api_port=free_port(),
        workdir=workdir) + settings)
    log_path = workdir / "jupyterhub.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([str(jupyterhub), "-f", "local_hub.py"], cwd=workdir, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_url(f"{url}/hub/api/", timeout=60, process=process, explain=log_path.read_text)
            assert "Loading pass-through config section hub.config.JupyterHub" in log_path.read_text()
            yield url
        finally:
            stop_process(process)


def stranger_logs_in(chart: Path, jupyterhub: Path, values: dict, workdir: Path) -> bool:
    """Start a hub with the merged hub.config, submit its login form as a random user; True if let in."""
    with chart_hub(chart, jupyterhub, values, workdir) as url:
        session = requests.Session()
        submit_login(session, url, f"stranger-{secrets.token_hex(4)}", secrets.token_hex(12))
        # Logged in: the home page answers; otherwise it sends to the login page.
        home = session.get(f"{url}/hub/home", allow_redirects=False, timeout=30)
        return home.status_code == 200


def test_a_stranger_cannot_log_in_to_the_course_hub(chart, chart_jupyterhub, course_values, tmp_path):
    assert not stranger_logs_in(chart, chart_jupyterhub, course_values, tmp_path)


def test_the_same_check_lets_a_stranger_into_the_previous_values(chart, chart_jupyterhub, tmp_path):
    # Proof that the check can fail: the chart's dummy login under an empty allowed_users.
    assert stranger_logs_in(chart, chart_jupyterhub, PREVIOUS_HUB_CONFIG, tmp_path)


# An instructor and a student who log in with a test password.
INSTRUCTOR_AND_STUDENT = """
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = {{"teacher", "student"}}
"""


def test_a_page_using_an_instructors_login_cannot_make_a_student_admin_on_the_charts_hub(
        chart, chart_jupyterhub, course_values, tmp_path):
    # The instructor listed as values.yaml says; then what a page on the hub's address does with their login.
    values = {**course_values, "hub": {**course_values["hub"], "loadRoles": {"instructor": {
        **course_values["hub"]["loadRoles"]["instructor"], "users": ["teacher"]}}}}
    with chart_hub(chart, chart_jupyterhub, values, tmp_path,
                   INSTRUCTOR_AND_STUDENT.format(password=TEST_PASSWORD)) as url:
        logged_in(url, "student")
        teacher = logged_in(url, "teacher")
        xsrf = xsrf_header(teacher, url)
        made_admin = teacher.patch(f"{url}/hub/api/users/student", json={"admin": True}, headers=xsrf, timeout=30)
        # What the role promises: the class list and the admin page.
        class_list = teacher.get(f"{url}/hub/api/users", headers=xsrf, timeout=30)
        admin_page = teacher.get(f"{url}/hub/admin", timeout=30)
    assert made_admin.status_code == 403, made_admin.text
    assert class_list.status_code == 200
    assert {user["name"] for user in class_list.json()} == {"teacher", "student"}
    assert not next(user for user in class_list.json() if user["name"] == "student")["admin"]
    assert admin_page.status_code == 200


@pytest.mark.docker
def test_a_student_logs_in_and_opens_the_course_image_on_the_charts_jupyterhub(chart, chart_jupyterhub, built_course,
                                                                              tmp_path):
    project = built_course("default")
    course_values = yaml.safe_load((project / "deploy/z2jh/values.yaml").read_text())
    values = merged_values(chart, course_values)
    # The hub listens on the default bridge's address, found by the course hub's own rule.
    gateway = config_function(project, "network_gateway")(engine().networks.get("bridge").attrs["IPAM"]["Config"][0])
    container = f"z2jh-{project.name}-student"
    settings = STUDENT_ON_THE_COURSE_IMAGE.format(
        password=TEST_PASSWORD, student="student", image=image_of(project), cmd=values["singleuser"]["cmd"],
        default_url=values["singleuser"]["defaultUrl"], container=container, gateway=gateway)
    try:
        with chart_hub(chart, chart_jupyterhub, course_values, tmp_path, settings) as url:
            session = logged_in(url, "student")
            page = open_own_server(session, url, "student", values["singleuser"]["defaultUrl"])
            logs = docker("logs", container)
            server_log = logs.stdout + logs.stderr
            singleuser = docker("exec", container, "python", "-c", "import jupyterhub; print(jupyterhub.__version__)")
    finally:
        docker("rm", "--force", container, check=False)
    # JupyterLab's page, reached through the OAuth handshake in at most MOST_REDIRECTS steps.
    assert "jupyter-config-data" in page.text
    assert singleuser.stdout.split(".")[0] == jupyterhub_version(chart).split(".")[0]
    assert VERSION_WARNING not in (tmp_path / "jupyterhub.log").read_text()
    assert VERSION_WARNING not in server_log
