"""Install noVNC, the VNC client that the desktop's page (docker/container/course_desktop.html) runs.

Its release on the npm registry, checked against a SHA-256 hash before any of it
is used, as the image's Python packages are. To move to a newer release, change
VERSION and SHA256 (the hash of the .tgz file that URL names).
Usage: python3 install-novnc.py FOLDER
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "1.7.0"
URL = f"https://registry.npmjs.org/@novnc/novnc/-/novnc-{VERSION}.tgz"
SHA256 = "32689f18d6abe96bc6530828a6bd0b9ae33bda07c083a6575ed255b5a8f2e903"
# What the page loads (core/ and the pako it imports from vendor/), noVNC's
# licences (MPL 2.0 for its own code, MIT for pako) and its package.json, from
# which the image's inventory lists it (docker/build/course_inventory.py).
KEPT = ("core/", "vendor/", "docs/LICENSE", "AUTHORS", "VERSION", "package.json")


def install(archive: bytes, folder: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(archive)) as release:
        for member in release.getmembers():
            name = member.name.removeprefix("package/")
            if member.isfile() and name.startswith(KEPT) and ".." not in Path(name).parts:
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(release.extractfile(member).read())


def main(folder: str) -> int:
    with urllib.request.urlopen(URL, timeout=120) as response:
        archive = response.read()
    digest = hashlib.sha256(archive).hexdigest()
    if digest != SHA256:
        print(f"install-novnc: {URL} has the SHA-256 hash {digest}, not {SHA256}; nothing installed",
              file=sys.stderr)
        return 1
    install(archive, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
