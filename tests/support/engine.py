"""The Docker engine and local servers, as the tests drive them."""

from __future__ import annotations

import contextlib
import functools
import socket
import subprocess
from urllib.parse import urlparse

import docker as docker_sdk
import requests

from tests.support.waiting import wait_until


def docker(*args: str, timeout: float = 900, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=check, text=True, capture_output=True,
                          timeout=timeout, **kwargs)


@functools.cache
def engine(base_url: str | None = None) -> docker_sdk.DockerClient:
    """The engine's API (DOCKER_HOST's, or base_url's), for inspecting what the tests started."""
    return docker_sdk.DockerClient(base_url=base_url) if base_url else docker_sdk.from_env()


def docker_hub_mirror() -> str | None:
    """host:port of the engine's Docker Hub mirror on 127.0.0.1 (.ci/docker-engine configures one), if any."""
    for mirror in map(urlparse, engine().info()["RegistryConfig"]["Mirrors"]):
        if mirror.hostname == "127.0.0.1":
            return mirror.netloc
    return None


def remove_image(name: str) -> None:
    """Remove an image if it is there: cleanup after a test, however far it got."""
    with contextlib.suppress(docker_sdk.errors.ImageNotFound):
        engine().images.remove(name, force=True)


def remove_local_images(repository: str) -> None:
    """Every local image of that repository, tagged or left untagged by a newer build."""
    for local in engine().images.list(filters={"reference": repository}):
        engine().images.remove(local.id, force=True)


def docker_objects() -> set[str]:
    """Containers, networks and volumes in the engine, and tagged images other than base images."""
    client = engine()
    objects = {f"container {container.short_id}" for container in client.containers.list(all=True)}
    objects |= {f"network {network.short_id}" for network in client.networks.list()}
    objects |= {f"volume {volume.name}" for volume in client.volumes.list()}
    objects |= {f"image {tag}" for image in client.images.list() for tag in image.tags
                if not tag.startswith(("python:", "jupyter-course-standin/"))}
    return objects


def stop_process(process: subprocess.Popen, timeout: float = 60) -> None:
    """Ask a server process we started to stop (SIGTERM), and kill it if it does not."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for_url(url: str, *, timeout: float, process: subprocess.Popen | None = None,
                 explain=lambda: "", status: int = 200) -> None:
    """Poll url until it answers with status; fail with explain() if process stops or time runs out."""
    def answers() -> bool:
        assert process is None or process.poll() is None, explain()
        return requests.get(url, timeout=5).status_code == status

    wait_until(answers, timeout=timeout, interval=0.2, ignoring=(requests.ConnectionError,),
               message=lambda: f"{url} did not answer. {explain()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
