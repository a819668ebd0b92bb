"""What a deep-learning course's students download: PyTorch from PyPI against PyTorch's CPU-only index.

The course `numpy, torch, torchvision` is pinned twice, for real: with gpu=yes
(PyPI's default builds, with CUDA) and with gpu=no (torch and torchvision from
the CPU-only index, everything else from PyPI). For each lock and each
architecture: the number of packages a student installs and the bytes of their
wheels, from PyPI's JSON API (the sizes it publishes for the pinned files).

PyTorch's own index is not reachable from every machine: its place is taken by
the stand-in index of the tests, whose wheels are not the real sizes. So the
CPU-only builds' own bytes are reported as not measured, and the figure for
gpu=no counts only what it takes from PyPI.

    uv run --group bench python -m bench.pytorch
"""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

import requests
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

from bench.common import PYTHON_VERSION, Section, make_project, save
from tests.support.answers import hashes_pinned, pins
from tests.support.pytorch_index import serving_pytorch_index

PACKAGES = "numpy, torch, torchvision"
MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
CUDA_PREFIXES = ("nvidia-", "cuda-", "triton")


def installable_tags(machine: str) -> set:
    version = tuple(int(part) for part in PYTHON_VERSION.split("."))
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(39, 4, -1)]
    platforms += [f"{legacy}_{machine}" for legacy in ("manylinux2014", "manylinux2010", "manylinux1", "linux")]
    return set(cpython_tags(version, platforms=platforms)) | set(compatible_tags(version, platforms=platforms))


def wheel_bytes(name: str, version: str, hashes: set[str], tags: set) -> int | None:
    """The size PyPI publishes for the pinned file a student on this platform downloads, if PyPI has it."""
    response = requests.get(f"https://pypi.org/pypi/{name}/json", timeout=60)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    for file in response.json()["releases"].get(version, []):
        if (file["digests"]["sha256"] in hashes and file["filename"].endswith(".whl")
                and set(parse_wheel_filename(file["filename"])[3]) & tags):
            return file["size"]
    return None


def measure(requirements: str) -> dict:
    result = {}
    for platform, machine in MACHINES.items():
        tags = installable_tags(machine)
        chosen = pins(requirements, PYTHON_VERSION, machine)
        sizes = {name: wheel_bytes(name, version, hashes_pinned(requirements, name), tags)
                 for name, version in chosen.items()}
        result[platform] = {
            "packages": len(chosen),
            "bytes from PyPI": sum(size for size in sizes.values() if size),
            "no size on PyPI": sorted(f"{name}=={chosen[name]}" for name, size in sizes.items() if size is None),
            "CUDA packages": sorted(name for name in chosen if name.startswith(CUDA_PREFIXES)),
            "CUDA bytes": sum(sizes[name] or 0 for name in chosen if name.startswith(CUDA_PREFIXES)),
            "torch": f"{chosen['torch']}, {sizes['torch'] / 1e6:.0f} MB" if sizes["torch"] else chosen["torch"],
        }
    return result


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        pypi = make_project(scratch / "gpu", {"course_name": "Deep Learning GPU", "packages": PACKAGES,
                                             "gpu": True, "jupyterhub": False})
        with serving_pytorch_index(scratch / "index") as index:
            cpu = make_project(scratch / "cpu", {"course_name": "Deep Learning", "packages": PACKAGES,
                                                 "gpu": False, "jupyterhub": False, "_pytorch_cpu_index": index.url})
        results = {
            "course": PACKAGES, "python": PYTHON_VERSION,
            "measured on": datetime.date.today().isoformat(),
            "gpu=yes (PyPI)": measure((pypi / "requirements.txt").read_text()),
            "gpu=no (CPU-only index)": measure((cpu / "requirements.txt").read_text()),
        }
    save("pytorch", results)
    for lock in ("gpu=yes (PyPI)", "gpu=no (CPU-only index)"):
        for platform, figures in results[lock].items():
            print(f"{lock:24} {platform:12} {figures['packages']:3} packages, "
                  f"{figures['bytes from PyPI'] / 1e9:.2f} GB from PyPI, CUDA {figures['CUDA bytes'] / 1e9:.2f} GB")


# The report's section (bench/run.py writes docs/benchmarks.md from every module's).
def section(pytorch: dict) -> Section:
    lines = ["## PyTorch without GPUs", "",
             f"`bench/pytorch.py`: the course `{pytorch['course']}` (Python {pytorch['python']}) pinned with gpu=yes "
             "(PyPI's builds, with CUDA) and with gpu=no (torch and torchvision from PyTorch's CPU-only index, "
             "everything else from PyPI); for each architecture, the packages a student installs and the size of "
             "their wheels as PyPI's JSON API publishes them. The script pins gpu=no against the tests' stand-in for "
             "PyTorch's CPU-only index, never the real one, so the CPU-only wheels' own sizes are not measured and "
             "the gpu=no figure counts what comes from PyPI only.",
             "", "| lock | platform | packages | wheels from PyPI | of which CUDA (`nvidia-*`, `cuda-*`, `triton`) "
             "| torch |", "|---|---|---|---|---|---|"]
    for lock in ("gpu=yes (PyPI)", "gpu=no (CPU-only index)"):
        for platform, figures in pytorch[lock].items():
            lines.append(
                f"| {lock} | {platform} | {figures['packages']} | {figures['bytes from PyPI'] / 1e9:.2f} GB | "
                f"{len(figures['CUDA packages'])} packages, {figures['CUDA bytes'] / 1e9:.2f} GB | "
                f"{figures['torch']}{'' if 'MB' in figures['torch'] else ' (size not measured)'} |")
    return lines + [""], []


if __name__ == "__main__":
    main()
