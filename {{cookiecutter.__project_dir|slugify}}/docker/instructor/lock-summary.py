"""Write requirements-summary.md: what requirements.txt installs, in words, for a pull request to show.

Run by `make lock` (and at generation) after requirements.txt is pinned:

    python3 docker/instructor/lock-summary.py

The packages the course asked for and what each pulls in, Jupyter's, the
others and who needs them, each with its licence (from the package index; a
package without one in its metadata is flagged), and what changed since the
previous lock (requirements.txt as the last commit has it). Only the standard
library; without network access the licences are left out, and it says so.
"""

from __future__ import annotations

import json
import re
import subprocess
import unicodedata
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
SUMMARY = Path("requirements-summary.md")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, dict]:
    """requirements.txt as uv writes it: name -> version and the packages it is there for (# via)."""
    found: dict[str, dict] = {}
    current = None
    in_via = False
    for line in text.splitlines():
        pinned = PIN.match(line)
        if pinned:
            current = normalize(pinned.group(1))
            found[current] = {"name": pinned.group(1), "version": pinned.group(2), "via": []}
            in_via = False
            continue
        if current is None or not line.startswith(" "):
            continue
        stripped = line.strip()
        if stripped.startswith("# via"):
            in_via = True
            rest = stripped[len("# via"):].strip()
            if rest:
                found[current]["via"].append(rest)
        elif in_via and stripped.startswith("#"):
            found[current]["via"].append(stripped.lstrip("# ").strip())
    for package in found.values():
        package["via"] = [via for via in package["via"] if not via.startswith(("-r ", "-c "))]
    return found


def asked(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {normalize(match.group(1)) for line in path.read_text().splitlines()
            if (match := NAME.match(line.split("#", 1)[0]))}


def one_line(text: str) -> str:
    """Text from the package index as one Markdown table cell: no control character or line
    separator to start a line of its own, no emphasis, link or HTML (table() escapes |)."""
    text = "".join(" " if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") else char for char in text)
    return re.sub(r"([\\`*_\[\]<>#!])", r"\\\1", " ".join(text.split()))


def licence(name: str, version: str) -> str | None:
    """The licence the package index states for this release: "" for none; None when it cannot be reached."""
    for url in (f"https://pypi.org/pypi/{name}/{version}/json", f"https://pypi.org/pypi/{name}/json"):
        try:
            with urllib.request.urlopen(url, timeout=15) as answer:
                info = json.load(answer)["info"]
        except (OSError, ValueError, KeyError):
            continue
        if info.get("license_expression"):
            return one_line(info["license_expression"])
        declared = (info.get("license") or "").strip()
        if declared and "\n" not in declared and len(declared) <= 100 and declared.upper() != "UNKNOWN":
            return one_line(declared)
        return one_line(" OR ".join(value.rsplit(" :: ", 1)[-1] for value in info.get("classifiers") or []
                                    if value.startswith("License :: ")))
    return None


def previous() -> dict[str, dict]:
    """requirements.txt as the last commit has it (empty outside git or before the first commit)."""
    shown = subprocess.run(["git", "show", "HEAD:./requirements.txt"], capture_output=True, text=True)
    return pins(shown.stdout) if shown.returncode == 0 else {}


def changes(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    lines = [f"- added: {after[key]['name']} {after[key]['version']}"
             for key in sorted(after.keys() - before.keys())]
    lines += [f"- removed: {before[key]['name']} {before[key]['version']}"
              for key in sorted(before.keys() - after.keys())]
    lines += [f"- {before[key]['name']}: {before[key]['version']} -> {after[key]['version']}"
              for key in sorted(before.keys() & after.keys())
              if before[key]["version"] != after[key]["version"]]
    return lines


def table(rows: list[list[str]], header: list[str]) -> list[str]:
    if not rows:
        return ["None.", ""]
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows] + [""]


def summary(requirements: str, before: dict[str, dict], course: set[str], jupyter: set[str],
            licences: dict[str, str | None]) -> str:
    after = pins(requirements)
    pulls_in = {key: sorted(other["name"] for other in after.values() if key in map(normalize, other["via"]))
                for key in after}

    def shown(key: str) -> str:
        found = licences.get(key)
        return "not looked up (offline)" if found is None else found or "**none in its metadata**"

    def row(key: str, last: str) -> list[str]:
        return [after[key]["name"], after[key]["version"], shown(key), last]

    chosen = [key for key in sorted(after) if key in course]
    theirs = [key for key in sorted(after) if key in jupyter and key not in course]
    others = [key for key in sorted(after) if key not in course and key not in jupyter]
    unlicensed = [after[key]["name"] for key in sorted(after) if licences.get(key) == ""]
    python = re.search(r'^python-version = "([^"]+)"', Path("uv.toml").read_text(), re.MULTILINE)
    lines = ["# What the course environment installs", "",
             "Written by `make lock` from `requirements.txt` (do not edit): a pull request that changes the "
             "environment shows here what it changed, in words.", "",
             f"{len(after)} packages for Python {python.group(1) if python else '?'}, on linux/amd64 and "
             "linux/arm64.", "", "## Changes since the previous lock", "",
             *((changes(before, after) or ["None."]) if before else ["The first lock."]), "",
             "## Asked for by the course (`requirements.in`)", "",
             *table([row(key, ", ".join(pulls_in[key]) or "nothing more") for key in chosen],
                    ["package", "version", "licence", "pulls in"]),
             "## Jupyter (`requirements-jupyter.in`)", "",
             *table([row(key, ", ".join(pulls_in[key]) or "nothing more") for key in theirs],
                    ["package", "version", "licence", "pulls in"]),
             "## Pulled in by the others", "",
             *table([row(key, ", ".join(after[key]["via"])) for key in others],
                    ["package", "version", "licence", "needed by"])]
    if unlicensed:
        lines += [f"Without a licence in their metadata: {', '.join(unlicensed)}.", ""]
    return "\n".join(lines)


def main() -> None:
    requirements = Path("requirements.txt").read_text()
    packages = pins(requirements)
    with ThreadPoolExecutor(16) as pool:
        found = dict(zip(packages, pool.map(
            lambda key: licence(packages[key]["name"], packages[key]["version"]), packages), strict=True))
    SUMMARY.write_text(summary(requirements, previous(), asked(Path("requirements.in")),
                               asked(Path("requirements-jupyter.in")), found))
    offline = packages and all(value is None for value in found.values())
    note = " (offline: without licences)" if offline else ""
    print(f"{SUMMARY}: what the environment installs and what changed, for the pull request{note}.")


if __name__ == "__main__":
    main()
