"""Run every benchmark, then write docs/benchmarks.md and its chart from docs/benchmarks.json.

    uv run --group bench python -m bench.run            # everything (about 40 minutes)
    uv run --group bench python -m bench.run --report   # only rewrite the report from the last results
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib import import_module
from pathlib import Path

from bench.common import RESULTS, ROOT

DOCS = ROOT / "docs"


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    if "pinning" in results:
        labels = list(results["pinning"])
        panels.append(("Pinning, cold (s)", labels, [results["pinning"][k]["ours"]["cold"]["median"] for k in labels],
                       [results["pinning"][k]["pip-tools"]["cold"]["median"] for k in labels], "pip-tools"))
    if "images" in results:
        images = results["images"]
        panels.append(("Cold build (s)", ["data science"], [images["cold build"]["ours"]["median"]],
                       [images["cold build"]["reference"]["median"]], "reference"))
        panels.append(("Image size (MB)", ["data science"], [images["image size"]["ours"] / 1e6],
                       [images["image size"]["reference"] / 1e6], "reference"))
        panels.append(("Time to Jupyter (s)", ["median of starts"], [images["time to jupyter"]["ours"]["median"]],
                       [images["time to jupyter"]["reference"]["median"]], "reference"))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    axes = axes if len(panels) > 1 else [axes]
    for axis, (title, labels, ours, other, other_name) in zip(axes, panels, strict=True):
        positions = range(len(labels))
        axis.bar([p - 0.2 for p in positions], ours, width=0.4, label="this template")
        axis.bar([p + 0.2 for p in positions], other, width=0.4, label=other_name)
        axis.set_xticks(list(positions), labels, fontsize=8)
        axis.set_title(title, fontsize=10)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def header() -> list[str]:
    return ["# Benchmarks", "",
            "Measured by the scripts in `bench/` (`uv run --group bench python -m bench.run` runs them all). Each "
            "section comes from one run of one script, named under its title with its date and machine; what a "
            "section compares was measured side by side in that run. Times are median (min–max, n runs).", "",
            "![Benchmarks chart](benchmarks.png)", ""]


# The script behind each section, in the order run.py runs them and the report shows them; each script
# writes its own section (its `section()`), this one only runs them and assembles the report.
SCRIPTS = {"pinning": "pinning.py", "images": "images.py", "first day": "first_day.py", "hub": "hub.py",
           "pytorch": "pytorch.py", "desktop": "desktop.py", "arm64": "arm64.py", "grading": "grading.py",
           "suite": "suite.py"}


def run_line(key: str, section: dict) -> str:
    """Which script made a section's numbers, when and where."""
    run = section.get("run")
    if not run:
        return f"*From `bench/{SCRIPTS[key]}`, in a run that did not record its date or machine.*"
    machine = run["machine"]
    return (f"*From `{run['script']}`, run on {run['date']}: {machine['cpus']} CPUs, {machine['memory']}, "
            f"{machine['arch']}, Linux {machine['kernel']}; "
            + ", ".join(f"{name} {version}" for name, version in run["versions"].items()) + ".*")


def write_report() -> None:
    results = json.loads(RESULTS.read_text())
    lines, targets = header(), []
    for key, script in SCRIPTS.items():
        if key in results:
            section_lines, section_targets = import_module(f"bench.{Path(script).stem}").section(results[key])
            # The title, then the run that made the section.
            lines += [*section_lines[:2], run_line(key, results[key]), "", *section_lines[2:]]
            targets += section_targets
    lines += ["## Targets", "", "| measure | result | target | |", "|---|---|---|---|"]
    lines += [f"| {name} | {value} | {target} | {verdict} |" for name, value, target, verdict in targets]
    (DOCS / "benchmarks.md").write_text("\n".join(lines) + "\n")
    chart(results, DOCS / "benchmarks.png")
    print(f"wrote {DOCS / 'benchmarks.md'} and {DOCS / 'benchmarks.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--report", action="store_true", help="only rewrite the report")
    parser.add_argument("--skip-suite", action="store_true", help="do not time the test suite")
    args = parser.parse_args()
    if not args.report:
        scripts = [script for key, script in SCRIPTS.items() if not (args.skip_suite and key == "suite")]
        for script in scripts:
            subprocess.run([sys.executable, "-m", f"bench.{Path(script).stem}"], cwd=ROOT, check=True)
    write_report()


if __name__ == "__main__":
    main()
