"""Write the licence of every package in the course image into IT.md (make test runs it after the build).

    python3 docker/instructor/write-licences.py IMAGE IT.md

The image's own inventory (docker/build/course_inventory.py, run by its build)
is read from the image; the part of IT.md between the two markers is replaced,
nothing else changes. A package whose metadata names no licence is marked
**unknown**, and listed again at the top, for IT to look at.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

INVENTORY = "/opt/course/inventory/inventory.json"
START = "<!-- make test writes the licences below from the course image: do not edit them -->"
END = "<!-- end of the licences make test writes -->"
UNKNOWN = "**unknown**"


def read_inventory(image: str) -> dict:
    shown = subprocess.run(["docker", "run", "--rm", "--no-healthcheck", "--network", "none",
                            "--entrypoint", "cat", image, INVENTORY], capture_output=True, text=True)
    if shown.returncode != 0:
        sys.exit(f"The licences cannot be read from {image}: {shown.stderr.strip()}")
    return json.loads(shown.stdout)


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def row(name: str, version: str, licence: str | None) -> str:
    return f"| {cell(name)} | {cell(version)} | {cell(licence or UNKNOWN)} |"


def licences(inventory: dict) -> str:
    python, debian = inventory["python packages"], inventory["debian packages"]
    system = "Debian" if "debian" in inventory["system"].lower() else "system"
    unknown = [p["name"] for p in python if not (p.get("spdx") or p["licence"])]
    unknown_system = [p["name"] for p in debian if not p.get("licence")]
    with_spdx = sum(1 for p in python if p.get("spdx"))
    lines = [
        f"Read from the built image ({inventory['system']}, Python {inventory['python']}, "
        f"{inventory['architecture']}): {len(python)} Python packages, {with_spdx} of them with an SPDX "
        f"identifier or expression, and {len(debian)} {system} packages, with the licence names of each "
        "package's copyright file.",
        "",
        f"Python packages with no licence in their metadata: {', '.join(unknown) or 'none'}.",
        f"{system} packages whose copyright file names no licence in machine-readable form: "
        f"{', '.join(unknown_system) or 'none'}.",
        "",
        "| Python package | version | licence |",
        "|---|---|---|",
    ]
    lines += [row(p["name"], p["version"], p.get("spdx") or p["licence"]) for p in python]
    lines += ["", f"| {system} package | version | licence |", "|---|---|---|"]
    lines += [row(p["name"], p["version"], p.get("licence")) for p in debian]
    browser = inventory.get("browser libraries", [])
    if browser:
        lines += ["", "| Library served to the browser | version | licence |", "|---|---|---|"]
        lines += [row(b["name"], b["version"], b["licence"]) for b in browser]
    return "\n".join(lines)


def main(image: str, page: str) -> None:
    path = Path(page)
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        sys.exit(f"{page} has lost its licence markers ({START} ... {END}): put them back")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    path.write_text(f"{before}{START}\n{licences(read_inventory(image))}\n{END}{after}", encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
