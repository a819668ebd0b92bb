"""The course's one lock command: pin requirements.in into requirements.txt, and say what it did.

make lock and generation both run it from the course's folder, so they say the same things:
    python3 docker/instructor/lock.py UV...
where UV... runs uv (uv, or python3 -m uv). It pins with uv.toml's settings,
then prints how many packages it pinned and what changed since the last
commit, and writes requirements-summary.md: the same in words, for a pull
request to show (the packages the course asked for and what each pulls in,
Jupyter's, the others and who needs them, each with its licence from the
package index; without network access the licences are left out, and it says so).
When uv cannot pin, it says why in one line and exits with 1, or with 3 when
the package index could not be reached (generation then leaves the course
unpinned, and the image build pins it until make lock is run).

The image build, before the first make lock, only pins:
    python3 lock.py --pin-only UV...

Only the standard library.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import unicodedata
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# A course on PyTorch's CPU-only builds (gpu=no) routes them with this file.
PYTORCH_CPU = "pytorch-cpu/pyproject.toml"
UNREACHABLE = 3
# How uv says it could not reach the index (as opposed to a resolution failure).
NETWORK_FAILURES = (
    "Failed to fetch",
    "error sending request",
    "dns error",
    "Connection refused",
    "Could not connect",
    "tcp connect error",
    "operation timed out",
    "Network connectivity is disabled",
)
NOT_FOUND = re.compile(r"Because (\S+) was not found in the package registry")
NEEDS_OTHER_PYTHON = re.compile(r"(\S+) depends on Python([^\s,]+)")
# A pin, with its environment marker when it has one: uv writes "name==version ; marker \",
# then its hashes and, as comments, the packages it is there for ("# via").
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?: ; ([^\\\n]+?))?\s*\\?$")
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
SUMMARY = Path("requirements-summary.md")
# The image's two platforms, as environment markers name them.
PLATFORMS = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


class CannotPin(Exception):
    """uv could not pin the packages; exit_code says whether the index could be reached."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def lock_command(uv: list[str]) -> list[str]:
    inputs = ["requirements.in", *([PYTORCH_CPU] if Path(PYTORCH_CPU).is_file() else [])]
    # uv.toml is named, not discovered: inside another uv project (a checkout of the
    # template, a monorepo) uv would read that project's settings instead.
    # --quiet: errors only, not uv's progress, its note that this computer's own Python is
    # another version (it does not matter: the lock is for the course's), nor the whole file.
    return [*uv, "pip", "compile", *inputs, "--config-file", "uv.toml", "--quiet",
            "--output-file", "requirements.txt"]


def course_python() -> str:
    return re.search(r'^python-version = "([^"]+)"', Path("uv.toml").read_text(), re.MULTILINE).group(1)


def why_not(output: str, python_version: str) -> CannotPin:
    """uv's error, in one line an instructor can act on."""
    output = " ".join(output.split())  # uv wraps long messages to the terminal's width
    if any(message in output for message in NETWORK_FAILURES):
        return CannotPin("the package index could not be reached, so requirements.txt is not pinned",
                         UNREACHABLE)
    missing = NOT_FOUND.search(output)
    if missing:
        return CannotPin(f"package {missing.group(1)} does not exist on the package index")
    needs = NEEDS_OTHER_PYTHON.search(output)
    if needs:
        return CannotPin(f"{needs.group(1)} requires Python{needs.group(2)}: it has no release for Python "
                         f"{python_version}; change its version or the course's Python")
    return CannotPin(f"the packages cannot be installed together on Python {python_version} (see above)")


def pin(uv: list[str]) -> None:
    """Run uv, showing its messages as they come (indented); raise CannotPin when it fails."""
    process = subprocess.Popen(lock_command(uv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               encoding="utf-8", errors="replace")
    lines = []
    assert process.stderr is not None
    for line in process.stderr:
        lines.append(line)
        print(f"  {line}", end="", file=sys.stderr, flush=True)
    if process.wait() != 0:
        raise why_not("".join(lines), course_python())


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> list[dict]:
    """requirements.txt's pins: name, version, environment marker ("" for none) and who needs it (via).

    A universal lock may pin one package twice, under markers that never hold together.
    """
    found: list[dict] = []
    in_via = False
    for line in text.splitlines():
        pinned = PIN.match(line)
        if pinned:
            name, version, marker = pinned.groups()
            found.append({"name": name, "version": version, "marker": marker or "", "via": []})
            in_via = False
        elif found and line.startswith(" "):
            stripped = line.strip()
            if stripped.startswith("# via"):
                in_via = True
                rest = stripped.removeprefix("# via").strip()
                found[-1]["via"] += [rest] if rest else []
            elif in_via and stripped.startswith("#"):
                found[-1]["via"].append(stripped.lstrip("# ").strip())
    for package in found:
        package["via"] = [via for via in package["via"] if not via.startswith(("-r ", "-c "))]
    return found


def marker_holds(marker: str, environment: dict[str, str]) -> bool:
    """Whether an environment marker (PEP 508: comparisons joined by and, or, brackets) holds there.

    Read with Python's parser, never run: anything but names, strings and comparisons is refused.
    """
    def version(text: str) -> tuple:
        return tuple(int(part) if part.isdigit() else part for part in text.split("."))

    def value(node: ast.expr) -> str:
        if isinstance(node, ast.Name) and node.id in environment:
            return environment[node.id]
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        raise ValueError(f"not a marker: {marker}")

    def holds(node: ast.expr) -> bool:
        if isinstance(node, ast.BoolOp):
            results = [holds(operand) for operand in node.values]
            return all(results) if isinstance(node.op, ast.And) else any(results)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right, operator = value(node.left), value(node.comparators[0]), node.ops[0]
            if isinstance(operator, ast.In | ast.NotIn):
                return (left in right) == isinstance(operator, ast.In)
            if "version" in getattr(node.left, "id", "") + getattr(node.comparators[0], "id", ""):
                left, right = version(left), version(right)
            comparisons = {ast.Eq: left == right, ast.NotEq: left != right, ast.Lt: left < right,
                           ast.LtE: left <= right, ast.Gt: left > right, ast.GtE: left >= right}
            return comparisons[type(operator)]
        raise ValueError(f"not a marker: {marker}")

    return holds(ast.parse(marker, mode="eval").body)


def on_platforms(requirements_txt: str, python: str) -> dict[str, list[dict]]:
    """The pins the image installs on each of its platforms (those for macOS or Windows only left out).

    A marker this cannot read counts its package in: a count may then be one too high, never a failed lock.
    """
    def installed(marker: str, environment: dict[str, str]) -> bool:
        try:
            return not marker or marker_holds(marker, environment)
        except (ValueError, TypeError, SyntaxError):
            return True

    found = pins(requirements_txt)
    chosen = {}
    for platform, machine in PLATFORMS.items():
        environment = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                       "platform_machine": machine, "implementation_name": "cpython",
                       "platform_python_implementation": "CPython", "python_version": python,
                       "python_full_version": f"{python}.0", "implementation_version": f"{python}.0",
                       "platform_release": "", "platform_version": "", "extra": ""}
        chosen[platform] = [package for package in found if installed(package["marker"], environment)]
    return chosen


def count_per_platform(requirements_txt: str, python: str) -> dict[str, int]:
    return {platform: len({normalize(package["name"]) for package in chosen})
            for platform, chosen in on_platforms(requirements_txt, python).items()}


def installed(requirements_txt: str, python: str) -> dict[str, dict]:
    """Each package the image installs on either platform: its name, its versions there, and who needs it."""
    found: dict[str, dict] = {}
    for chosen in on_platforms(requirements_txt, python).values():
        for package in chosen:
            entry = found.setdefault(normalize(package["name"]),
                                     {"name": package["name"], "versions": [], "via": []})
            entry["versions"] = sorted({*entry["versions"], package["version"]})
            entry["via"] += [via for via in package["via"] if via not in entry["via"]]
    return found


def previous() -> str | None:
    """requirements.txt as the last commit has it (None outside git or before the first commit)."""
    shown = subprocess.run(["git", "show", "HEAD:./requirements.txt"], capture_output=True, text=True)
    return shown.stdout if shown.returncode == 0 else None


def changes(before: dict[str, dict], after: dict[str, dict]) -> list[tuple[str, str, list[str], list[str]]]:
    """What the lock changed, by package: (added, removed or changed; name; old versions; new versions)."""
    old = {key: before[key]["versions"] for key in before}
    new = {key: after[key]["versions"] for key in after}
    found = [("added", after[key]["name"], [], new[key]) for key in new.keys() - old.keys()]
    found += [("removed", before[key]["name"], old[key], []) for key in old.keys() - new.keys()]
    found += [("changed", after[key]["name"], old[key], new[key])
              for key in old.keys() & new.keys() if old[key] != new[key]]
    return sorted(found, key=lambda change: normalize(change[1]))


def printed(change_list: list) -> list[str]:
    """Changes as make lock prints them: + an added package or new version, - a removed one or old version."""
    return [f"  {sign} {name}=={version}" for _, name, old, new in change_list
            for sign, version in [*(("-", version) for version in old), *(("+", version) for version in new)]]


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


def asked(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {normalize(match.group(1)) for line in path.read_text().splitlines()
            if (match := NAME.match(line.split("#", 1)[0]))}


def table(rows: list[list[str]], header: list[str]) -> list[str]:
    if not rows:
        return ["None.", ""]
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows] + [""]


def summary(after: dict[str, dict], changed: list | None, python: str, course: set[str], jupyter: set[str],
            licences: dict[str, str | None]) -> str:
    """requirements-summary.md; changed is None at the first lock."""
    pulls_in = {key: sorted(other["name"] for other in after.values() if key in map(normalize, other["via"]))
                for key in after}

    def shown(key: str) -> str:
        found = licences.get(key)
        return "not looked up (offline)" if found is None else found or "**none in its metadata**"

    def row(key: str, last: str) -> list[str]:
        return [after[key]["name"], ", ".join(after[key]["versions"]), shown(key), last]

    def said(kind: str, name: str, old: list[str], new: list[str]) -> str:
        if kind == "changed":
            return f"- {name}: {', '.join(old)} -> {', '.join(new)}"
        return f"- {kind}: {name} {', '.join(old or new)}"

    chosen = [key for key in sorted(after) if key in course]
    theirs = [key for key in sorted(after) if key in jupyter and key not in course]
    others = [key for key in sorted(after) if key not in course and key not in jupyter]
    unlicensed = [after[key]["name"] for key in sorted(after) if licences.get(key) == ""]
    lines = ["# What the course environment installs", "",
             "Written by `make lock` from `requirements.txt` (do not edit): a pull request that changes the "
             "environment shows here what it changed, in words.", "",
             f"{len(after)} packages for Python {python}, on linux/amd64 and linux/arm64.", "",
             "## Changes since the previous lock", "",
             *(["The first lock."] if changed is None
               else [said(*change) for change in changed] or ["None."]), "",
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


def report() -> None:
    python = course_python()
    requirements = Path("requirements.txt").read_text()
    counts = count_per_platform(requirements, python)
    platforms = ", ".join(f"{count} packages on {platform}" for platform, count in counts.items())
    print(f"requirements.txt: pinned with hashes for Python {python}: {platforms}.", flush=True)
    last, after = previous(), installed(requirements, python)
    changed = None if last is None else changes(installed(last, python), after)
    for line in printed(changed or []):
        print(line, flush=True)
    if re.search(r"^ARG BASE_IMAGE=.*@sha256:", Path("Dockerfile").read_text(), re.MULTILINE):
        print("The base image stays frozen at its recorded digest; 'make freeze' moves it to the newest one.")
    with ThreadPoolExecutor(16) as pool:
        looked_up = pool.map(lambda key: licence(after[key]["name"], after[key]["versions"][-1]), after)
        licences = dict(zip(after, looked_up, strict=True))
    SUMMARY.write_text(summary(after, changed, python, asked(Path("requirements.in")),
                               asked(Path("requirements-jupyter.in")), licences))
    offline = after and all(value is None for value in licences.values())
    note = " (offline: without licences)" if offline else ""
    print(f"{SUMMARY}: what the environment installs and what changed, for the pull request{note}.")


def main(arguments: list[str]) -> int:
    pin_only = arguments[:1] == ["--pin-only"]
    uv = arguments[1:] if pin_only else arguments
    try:
        pin(uv)
    except CannotPin as reason:
        # Without the index generation still succeeds, unpinned: a warning there, a failure of make lock.
        kind = "WARNING" if reason.exit_code == UNREACHABLE else "ERROR: packages"
        print(f"{kind}: {reason}", file=sys.stderr)
        return reason.exit_code
    if not pin_only:
        report()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
