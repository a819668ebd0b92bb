"""A stand-in for PyTorch's CPU-only package index, served on 127.0.0.1.

PyTorch's index cannot be reached from every machine the tests run on, so the
tests build a PEP 503 simple index of small wheels, named and tagged the way
https://download.pytorch.org/whl/cpu names them (`torch-2.15.0+cpu-cp313-cp313-
manylinux_2_28_x86_64.whl`), for linux x86_64 and aarch64. Their metadata
requires what the real CPU builds require (from PyPI); their code is a module
that reports its version. The index also serves a numpy that must never be
taken from it, as PyTorch's real index serves copies of common packages.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import html
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

PYTHON_TAGS = ("cp310", "cp311", "cp312", "cp313", "cp314")
MACHINES = ("x86_64", "aarch64")
TORCH_VERSION = "2.15.0"
# name: (version, Requires-Dist), as PyTorch's CPU-only builds declare them.
PYTORCH_CPU = {
    "torch": (f"{TORCH_VERSION}+cpu", [
        "filelock", "typing-extensions>=4.10.0", "setuptools", "sympy>=1.13.3", "networkx>=2.5.1",
        "jinja2", "fsspec>=0.8.5"]),
    "torchvision": ("0.30.0+cpu", ["numpy", f"torch=={TORCH_VERSION}", "pillow!=8.3.*,>=5.3.0"]),
    "torchaudio": ("2.15.0+cpu", [f"torch=={TORCH_VERSION}"]),
}
# A higher numpy than PyPI's: a lock that took numpy from this index would pin it.
DECOY = ("numpy", "99.0.0")


def wheel(name: str, version: str, tag: str, requires: list[str]) -> tuple[str, bytes]:
    """A wheel (file name, bytes) whose module `name` has `__version__ = version`."""
    dist_info = f"{name}-{version}.dist-info"
    requires_dist = "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    files = {
        f"{name}/__init__.py": f"__version__ = {version!r}\nSTAND_IN = True\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{requires_dist}",
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: stand-in\nRoot-Is-Purelib: false\nTag: {tag}\n",
    }
    record = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            data = text.encode()
            archive.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return f"{name}-{version}-{tag}.whl", buffer.getvalue()


@dataclass(frozen=True)
class PytorchIndex:
    url: str
    # file name -> sha256 of every wheel the index serves
    hashes: dict[str, str]

    def hashes_of(self, name: str) -> set[str]:
        return {digest for file, digest in self.hashes.items() if file.startswith(f"{name}-")}

    def hash_of(self, name: str, python: str, machine: str) -> str:
        tag = "cp" + python.replace(".", "")
        return next(digest for file, digest in self.hashes.items()
                    if file.startswith(f"{name}-") and f"-{tag}-{tag}-" in file and file.endswith(f"_{machine}.whl"))


def write_index(root: Path) -> dict[str, str]:
    """Write the simple index and its files under root; return each file's sha256."""
    wheels: dict[str, list[tuple[str, bytes]]] = {}
    for name, (version, requires) in PYTORCH_CPU.items():
        for python in PYTHON_TAGS:
            for machine in MACHINES:
                tag = f"{python}-{python}-manylinux_2_28_{machine}"
                wheels.setdefault(name, []).append(wheel(name, version, tag, requires))
    wheels[DECOY[0]] = [wheel(DECOY[0], DECOY[1], "py3-none-any", [])]

    hashes = {}
    (root / "files").mkdir(parents=True)
    for name, files in wheels.items():
        links = []
        for file, data in files:
            (root / "files" / file).write_bytes(data)
            hashes[file] = hashlib.sha256(data).hexdigest()
            links.append(f'<a href="../../files/{quote(file)}#sha256={hashes[file]}">{html.escape(file)}</a><br>')
        (root / "simple" / name).mkdir(parents=True)
        (root / "simple" / name / "index.html").write_text(
            "<!DOCTYPE html>\n<html><body>\n" + "\n".join(links) + "\n</body></html>\n")
    (root / "simple" / "index.html").write_text(
        "<!DOCTYPE html>\n<html><body>\n" + "".join(f'<a href="{name}/">{name}</a>\n' for name in wheels)
        + "</body></html>\n")
    return hashes


@contextlib.contextmanager
def serving_pytorch_index(root: Path) -> Iterator[PytorchIndex]:
    """Build the stand-in index under root and serve it on 127.0.0.1 until the block ends."""
    hashes = write_index(root)
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PytorchIndex(f"http://127.0.0.1:{server.server_address[1]}/simple", hashes)
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass
