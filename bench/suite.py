"""The template's own test suite: wall time, where it goes (pytest's durations, by module), and course builds.

    uv run --group bench python -m bench.suite --label "after (abc1234)"          # runs the suite
    uv run --group bench python -m bench.suite --label "CI" --log ci.log --wall 1800   # reads a saved run

A saved run is the output of `bash .ci/run` or of pytest (its durations lines, which pyproject.toml turns on for
every test of a second or more, and its summary). Each label is one run; the report shows them side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench.common import RESULTS, ROOT, Section, save

DURATION = re.compile(r"^([\d.]+)s (setup|call|teardown)\s+(tests/[^:]+)::(\S+)", re.MULTILINE)
OUTCOME = re.compile(r"^=+ (.*?) in ([\d.]+)s", re.MULTILINE)
BUILDS = re.compile(r"course image builds: (\d+) in (\d+)s")
SLOWEST = 12


def read_run(output: str, wall: float | None) -> dict:
    """What a run's output says: its outcome, pytest's time, the time per module and the slowest steps."""
    outcome = OUTCOME.findall(output)
    if not outcome:
        raise SystemExit("no pytest summary line in that output")
    summary, pytest_seconds = outcome[-1]
    per_module: dict[str, float] = defaultdict(float)
    steps = []
    for seconds, when, module, test in DURATION.findall(output):
        per_module[module] += float(seconds)
        steps.append((float(seconds), f"{when} {module.removeprefix('tests/')}::{test}"))
    builds = BUILDS.search(output)
    return {"outcome": summary, "pytest seconds": float(pytest_seconds), "wall seconds": wall,
            "steps timed": len(steps),
            "per module": dict(sorted(per_module.items(), key=lambda item: -item[1])),
            "slowest": [{"seconds": seconds, "step": step} for seconds, step in sorted(steps, reverse=True)[:SLOWEST]],
            "image builds": int(builds.group(1)) if builds else None,
            "build seconds": float(builds.group(2)) if builds else None}


def run_suite() -> tuple[str, float]:
    start = time.perf_counter()
    # The environment's tools (hadolint, jupyterhub, ...) on PATH first, as `uv run` puts them.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], cwd=ROOT,
                            capture_output=True, text=True, env=env)
    return result.stdout + result.stderr, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", required=True, help="what this run is, e.g. the commit it ran")
    parser.add_argument("--log", type=Path, help="a saved run's output instead of running the suite")
    parser.add_argument("--wall", type=float, help="the saved run's wall time in seconds, set-up included")
    parser.add_argument("--where", default="", help="where a saved run ran, when not on this machine")
    args = parser.parse_args()
    output, wall = (args.log.read_text(errors="replace"), args.wall) if args.log else run_suite()
    run = {**read_run(output, wall), "where": args.where}
    earlier = json.loads(RESULTS.read_text()).get("suite", {}) if RESULTS.exists() else {}
    save("suite", {"runs": {**earlier.get("runs", {}), args.label: run}})
    print(f"suite, {args.label}: {run['outcome']}, pytest {run['pytest seconds'] / 60:.1f} min"
          + (f", all in {wall / 60:.1f} min" if wall else ""), flush=True)


# The report's section (bench/run.py writes docs/benchmarks.md from every module's).
def section(suite: dict) -> Section:
    runs = suite.get("runs", {})
    labels = list(runs)
    lines = ["## The template's test suite", "",
             "Each column is one whole run of the suite (`bash .ci/run`: the set-up, then the README's test command), "
             "read from its output by `bench/suite.py`: pytest's own durations (setup, call and teardown of every test "
             "that took a second or more), added up by module.", "",
             "| | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|",
             "| where | " + " | ".join(runs[label]["where"] or "this machine" for label in labels) + " |",
             "| outcome | " + " | ".join(runs[label]["outcome"] for label in labels) + " |",
             "| `.ci/run`, all | " + " | ".join(f"{runs[label]['wall seconds'] / 60:.1f} min"
                                                 if runs[label]["wall seconds"] else "not recorded"
                                                 for label in labels) + " |",
             "| pytest | " + " | ".join(f"{runs[label]['pytest seconds'] / 60:.1f} min" for label in labels) + " |",
             "| steps whose time the output shows | " + " | ".join(str(runs[label]["steps timed"]) for label in labels)
             + " |"]
    modules = sorted({module for label in labels for module in runs[label]["per module"]},
                     key=lambda module: -max(runs[label]["per module"].get(module, 0) for label in labels))
    for module in modules:
        lines.append(f"| {module} | " + " | ".join(
            f"{runs[label]['per module'][module]:.0f} s" if module in runs[label]["per module"] else "—"
            for label in labels) + " |")
    lines.append("")
    for label in labels:
        steps = "; ".join(f"{step['step']} {step['seconds']:.0f} s" for step in runs[label]["slowest"][:6])
        lines += [f"Slowest in {label}: {steps}.", ""]
    return lines, []


if __name__ == "__main__":
    main()
