"""A container registry of our own on 127.0.0.1 (the CNCF distribution registry, Debian's `docker-registry`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.support.engine import free_port, stop_process, wait_for_url

MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"

REGISTRY_CONFIG = """\
version: 0.1
storage: {{filesystem: {{rootdirectory: {root}}}, delete: {{enabled: true}}}}
http: {{addr: 127.0.0.1:{port}}}
"""


class Registry:
    """A registry on 127.0.0.1 that can be stopped and started again with the same content."""

    def __init__(self, folder: Path):
        if not shutil.which("docker-registry"):
            pytest.fail("the publishing tests need Debian's docker-registry (apt-get install docker-registry)")
        self.port = free_port()
        self.config = folder / "registry.yml"
        self.config.write_text(REGISTRY_CONFIG.format(root=folder / "data", port=self.port))
        self.log = folder / "registry.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(["docker-registry", "serve", str(self.config)], stdout=log,
                                            stderr=subprocess.STDOUT)
        wait_for_url(f"{self.url}/v2/", timeout=30, process=self.process, explain=self.log.read_text)

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)
            self.process = None

    def digest(self, repository: str, tag: str) -> str:
        response = requests.head(f"{self.url}/v2/{repository}/manifests/{tag}", timeout=10,
                                 headers={"Accept": MANIFEST_TYPES})
        assert response.status_code == 200, response.status_code
        return response.headers["Docker-Content-Digest"]

    def layers(self, repository: str, tag: str) -> dict[str, int]:
        """The image's layers as a puller downloads them: digest -> compressed size."""
        response = requests.get(f"{self.url}/v2/{repository}/manifests/{tag}", timeout=10,
                                headers={"Accept": MANIFEST_TYPES})
        response.raise_for_status()
        return {layer["digest"]: layer["size"] for layer in response.json()["layers"]}

    def labels(self, repository: str, tag: str) -> dict[str, str]:
        """The labels of the image a puller gets (its configuration's), as `docker inspect` would show them."""
        manifest = requests.get(f"{self.url}/v2/{repository}/manifests/{tag}", timeout=10,
                                headers={"Accept": MANIFEST_TYPES})
        manifest.raise_for_status()
        config = requests.get(f"{self.url}/v2/{repository}/blobs/{manifest.json()['config']['digest']}", timeout=10)
        config.raise_for_status()
        return config.json()["config"].get("Labels") or {}
