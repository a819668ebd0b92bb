"""A container registry of our own on 127.0.0.1 (the CNCF distribution registry, Debian's `docker-registry`)."""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.support.engine import free_port, stop_process, wait_for_url

IMAGE_TYPES = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json")
# A tag for several architectures names one of these: a list of the images' manifests.
LIST_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ", ".join(IMAGE_TYPES + LIST_TYPES)
THIS_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]

REGISTRY_CONFIG = """\
version: 0.1
storage: {{filesystem: {{rootdirectory: {root}}}, delete: {{enabled: true}}}}
http: {{addr: 127.0.0.1:{port}}}
"""
# A private registry as a student meets it: every pull without an account is
# refused (the password file holds no account at all).
PRIVATE = """\
auth: {{htpasswd: {{realm: course, path: {accounts}}}}}
"""


def platforms_of(listing: dict) -> dict[str, str]:
    """architecture -> manifest digest, from a manifest list (a single image's manifest: {})."""
    return {entry["platform"]["architecture"]: entry["digest"] for entry in listing.get("manifests", [])}


class Registry:
    """A registry on 127.0.0.1 that can be stopped and started again with the same content."""

    def __init__(self, folder: Path, port: int | None = None, private: bool = False):
        if not shutil.which("docker-registry"):
            pytest.fail("the publishing tests need Debian's docker-registry (apt-get install docker-registry)")
        self.port = port or free_port()
        self.config = folder / "registry.yml"
        self.config.write_text(REGISTRY_CONFIG.format(root=folder / "data", port=self.port))
        self.private = private
        if private:
            (folder / "accounts").write_text("")
            with self.config.open("a") as config:
                config.write(PRIVATE.format(accounts=folder / "accounts"))
        self.log = folder / "registry.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(["docker-registry", "serve", str(self.config)], stdout=log,
                                            stderr=subprocess.STDOUT)
        wait_for_url(f"{self.url}/v2/", timeout=30, process=self.process, explain=self.log.read_text,
                     status=401 if self.private else 200)

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)
            self.process = None

    def digest(self, repository: str, tag: str) -> str:
        response = requests.head(f"{self.url}/v2/{repository}/manifests/{tag}", timeout=10,
                                 headers={"Accept": MANIFEST_TYPES})
        assert response.status_code == 200, response.status_code
        return response.headers["Docker-Content-Digest"]

    def manifest(self, repository: str, reference: str) -> dict:
        response = requests.get(f"{self.url}/v2/{repository}/manifests/{reference}", timeout=10,
                                headers={"Accept": MANIFEST_TYPES})
        response.raise_for_status()
        return response.json()

    def platforms(self, repository: str, tag: str) -> dict[str, str]:
        """The architectures a tag holds, each with its image's manifest digest (a single image: {})."""
        return platforms_of(self.manifest(repository, tag))

    def image_manifest(self, repository: str, tag: str, arch: str = THIS_ARCH) -> dict:
        """The manifest of the image an engine of that architecture pulls for the tag."""
        found = self.manifest(repository, tag)
        if "manifests" in found:
            found = self.manifest(repository, platforms_of(found)[arch])
        return found

    def layers(self, repository: str, tag: str) -> dict[str, int]:
        """The image's layers as a puller downloads them: digest -> compressed size."""
        return {layer["digest"]: layer["size"] for layer in self.image_manifest(repository, tag)["layers"]}

    def labels(self, repository: str, tag: str) -> dict[str, str]:
        """The labels of the image a puller gets (its configuration's), as `docker inspect` would show them."""
        digest = self.image_manifest(repository, tag)["config"]["digest"]
        config = requests.get(f"{self.url}/v2/{repository}/blobs/{digest}", timeout=10)
        config.raise_for_status()
        return config.json()["config"].get("Labels") or {}
