"""The course's one lock command: pin requirements.in into requirements.txt, and say what it did.

make lock and generation both run it from the course's folder, so they say the same things:
    python3 docker/instructor/lock.py UV...
where UV... runs uv (uv, or python3 -m uv). It pins with uv.toml's settings,
then prints how many packages it pinned and what changed since the last
commit, and writes requirements-summary.md (docker/instructor/lock-summary.py).
When uv cannot pin, it says why in one line and exits with 1, or with 3 when
the package index could not be reached (generation then leaves the course
unpinned, and the image build pins it until make lock is run).

The image build, before the first make lock, only pins:
    python3 lock.py --pin-only UV...

Only the standard library.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
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
# A pin and its environment marker, when it has one (uv writes "name==version ; marker \").
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==[^\s;\\]+(?: ; ([^\\\n]+?))?\s*\\?$", re.MULTILINE)
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


def changes() -> list[str]:
    """What changed since the last commit: + added or new version, - removed or old version."""
    diff = subprocess.run(["git", "diff", "--no-color", "-U0", "--", "requirements.txt"], capture_output=True,
                          text=True)
    found = re.findall(r"^([-+])([A-Za-z0-9][A-Za-z0-9._-]*==[^ ;\\\n]*)", diff.stdout, re.MULTILINE)
    return [f"  {sign} {pin}" for sign, pin in sorted(set(found), key=lambda change: (change[1], change[0]))]


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


def count_per_platform(requirements_txt: str, python: str) -> dict[str, int]:
    """The packages the image installs on each of its platforms (those for macOS or Windows only left out).

    A marker this cannot read counts its package in: the count may then be one too high, never a failed lock.
    """
    def installed(marker: str, environment: dict[str, str]) -> bool:
        try:
            return not marker or marker_holds(marker, environment)
        except (ValueError, TypeError, SyntaxError):
            return True

    counts = {}
    for platform, machine in PLATFORMS.items():
        environment = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                       "platform_machine": machine, "implementation_name": "cpython",
                       "platform_python_implementation": "CPython", "python_version": python,
                       "python_full_version": f"{python}.0", "implementation_version": f"{python}.0",
                       "platform_release": "", "platform_version": "", "extra": ""}
        counts[platform] = len({name for name, marker in PIN.findall(requirements_txt)
                                if installed(marker, environment)})
    return counts


def report() -> None:
    python = course_python()
    counts = count_per_platform(Path("requirements.txt").read_text(), python)
    platforms = ", ".join(f"{count} packages on {platform}" for platform, count in counts.items())
    print(f"requirements.txt: pinned with hashes for Python {python}: {platforms}.", flush=True)
    for change in changes():
        print(change, flush=True)
    if re.search(r"^ARG BASE_IMAGE=.*@sha256:", Path("Dockerfile").read_text(), re.MULTILINE):
        print("The base image stays frozen at its recorded digest; 'make freeze' moves it to the newest one.")
    summary = Path(__file__).with_name("lock-summary.py")
    subprocess.run([sys.executable, str(summary)], check=True)


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
