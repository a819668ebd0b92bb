"""IT.md's licence table, written by the course's own script from a built image, against the image's inventory."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.engine import docker

ROW = re.compile(r"^\| (.+?) \| (.+?) \| (.+?) \|$", re.MULTILINE)


def written_licences(project: Path, image: str, folder: Path) -> tuple[str, dict]:
    """IT.md as make test leaves it (written into a copy), and the image's inventory."""
    page = folder / "IT.md"
    shutil.copyfile(project / "IT.md", page)
    written = subprocess.run([sys.executable, str(project / "docker/instructor/write-licences.py"), image, str(page)],
                             capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    inventory = json.loads(docker("run", "--rm", "--entrypoint", "cat", image,
                                  "/opt/course/inventory/inventory.json").stdout)
    return page.read_text(), inventory


def check_every_package_has_a_licence_or_unknown(page: str, inventory: dict) -> None:
    rows = set(ROW.findall(page))
    for package in inventory["python packages"]:
        licence = package["spdx"] or package["licence"] or "**unknown**"
        assert (package["name"], package["version"], licence.replace("|", "\\|")) in rows, package["name"]
    for package in inventory["debian packages"]:
        assert (package["name"], package["version"], package["licence"] or "**unknown**") in rows, package["name"]
    for library in inventory["browser libraries"]:
        assert (library["name"], library["version"], library["licence"] or "**unknown**") in rows, library["name"]
