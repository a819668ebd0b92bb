"""Run every benchmark, then write docs/benchmarks.md and its chart from docs/benchmarks.json.

    uv run --group bench python -m bench.run            # everything (about 40 minutes)
    uv run --group bench python -m bench.run --report   # only rewrite the report from the last results
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench.common import RESULTS, ROOT

DOCS = ROOT / "docs"


def seconds(stats: dict) -> str:
    return f"{stats['median']:.2f} s ({stats['min']:.2f}–{stats['max']:.2f}, n={stats['n']})"


def cached(result: dict) -> str:
    stats = result["ours"].get("warm, cache only")
    return seconds(stats) if stats else "not measured"


def met(value: float, limit: float, larger_is_better: bool = False) -> str:
    return "met" if (value >= limit if larger_is_better else value < limit) else "**missed**"


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


# The script behind each section, in the order run.py runs them (for sections saved before runs recorded
# themselves, the only record of where they came from).
SCRIPTS = {"pinning": "pinning.py", "images": "images.py", "first day": "first_day.py", "hub": "hub.py",
           "pytorch": "pytorch.py", "desktop": "desktop.py", "arm64": "arm64.py", "suite": "suite.py"}


def run_line(key: str, section: dict) -> str:
    """Which script made a section's numbers, when and where."""
    run = section.get("run")
    if not run:
        return f"*From `bench/{SCRIPTS[key]}`, in a run that did not record its date or machine.*"
    machine = run["machine"]
    return (f"*From `{run['script']}`, run on {run['date']}: {machine['cpus']} CPUs, {machine['memory']}, "
            f"{machine['arch']}, Linux {machine['kernel']}; "
            + ", ".join(f"{name} {version}" for name, version in run["versions"].items()) + ".*")


# A section is its lines and its rows of the targets table: (measure, result, target, verdict).
Section = tuple[list[str], list[tuple[str, str, str, str]]]


def pinning_section(pinning: dict) -> Section:
    lines = ["## Pinning", "",
             "The template's `make lock` (uv, universal for amd64 + arm64, Python 3.13, hashes) against "
             "`pip-compile --generate-hashes` (pip-tools, for the host's Python only) on the same "
             "`requirements.in` (the packages plus Jupyter). Cold: empty caches; warm: the caches of the "
             "previous run. A warm run still asks the index whether each package has changed; the last "
             "column is the same lock answered from the cache alone (`--offline`), the resolver's own share.",
             "",
             "| package set | ours cold | pip-tools cold | ratio | ours warm | pip-tools warm | ratio "
             "| ours warm, cache only (`--offline`) |",
             "|---|---|---|---|---|---|---|---|"]
    for label, result in pinning.items():
        lines.append(f"| {label} | {seconds(result['ours']['cold'])} | {seconds(result['pip-tools']['cold'])} | "
                     f"{result['ratio cold']:.1f}x | {seconds(result['ours']['warm'])} | "
                     f"{seconds(result['pip-tools']['warm'])} | {result['ratio warm']:.1f}x | "
                     f"{cached(result)} |")
    cold = min(result["ratio cold"] for result in pinning.values())
    warm = max(result["ours"]["warm"]["median"] for result in pinning.values())
    targets = [("pinning, pip-tools / ours, cold", f"{cold:.1f}x (smallest)", "at least 20x",
                met(cold, 20, larger_is_better=True)),
               ("pinning, ours warm", f"{warm:.2f} s (largest)", "under 2 s", met(warm, 2))]
    return lines + [""], targets


def images_section(images: dict) -> Section:
    size = images["image size"]
    lines = ["## Images", "",
             "The data-science course (numpy, pandas, matplotlib, scipy, scikit-learn, seaborn) built from the "
             "generated Dockerfile, against a reference Dockerfile written the way the Jupyter Docker Stacks "
             "install pip requirements (one stage, `pip install --no-cache-dir -r requirements.txt` as the "
             "notebook user), on the same base image and the same pinned `requirements.txt`. Cold builds "
             "start with every build cache pruned.", "",
             "| measure | ours | reference | ratio |", "|---|---|---|---|",
             f"| cold build | {seconds(images['cold build']['ours'])} | "
             f"{seconds(images['cold build']['reference'])} | {images['cold build']['ratio']:.2f}x |",
             f"| image size | {size['ours'] / 1e6:.0f} MB | {size['reference'] / 1e6:.0f} MB | "
             f"{size['reference'] / size['ours']:.2f}x |",
             f"| time to Jupyter (`up` to `/api/status` answering) | "
             f"{seconds(images['time to jupyter']['ours'])} | {seconds(images['time to jupyter']['reference'])} | "
             f"{images['time to jupyter']['ratio']:.2f}x |",
             "", "This table's time to Jupyter was measured before the course stopped creating a network of its "
             "own at every first start; \"A student's first day\" below measures it again, before and after, "
             "side by side with the reference.",
             "", "| rebuild | time |", "|---|---|"]
    for name in ("rebuild, no change", "rebuild, notebook edited", "rebuild, one package added"):
        lines.append(f"| {name.split(', ', 1)[1]} | {seconds(images[name])} |")
    share = images["rebuild, one package added"]["share of cold build"]
    lines += ["", f"Image floor (base image + the virtual environment by `du`): {size['floor'] / 1e6:.0f} MB; "
              f"ours is {size['ours / floor']:.3f}x the floor.", ""]
    targets = [
        ("cold build, reference / ours", f"{images['cold build']['ratio']:.2f}x", "faster than the reference",
         met(images["cold build"]["ratio"], 1, larger_is_better=True)),
        ("rebuild after a notebook edit", f"{images['rebuild, notebook edited']['median']:.2f} s", "under 2 s",
         met(images["rebuild, notebook edited"]["median"], 2)),
        ("rebuild after adding a package", f"{share:.0%} of the cold build", "under 25%", met(share, 0.25)),
        ("rebuild with no change", f"{images['rebuild, no change']['median']:.2f} s", "under 2 s",
         met(images["rebuild, no change"]["median"], 2)),
        ("image size / floor", f"{size['ours / floor']:.3f}", "within 10%", met(size["ours / floor"], 1.10)),
        ("time to Jupyter, median", f"{images['time to jupyter']['ours']['median']:.2f} s", "under 2 s",
         met(images["time to jupyter"]["ours"]["median"], 2)),
    ]
    return lines, targets


def suite_section(suite: dict) -> Section:
    return ["## The template's test suite", "",
            f"The test suite (`uv run pytest`) on this machine: {suite['outcome']} in "
            f"{suite['wall seconds'] / 60:.1f} min; "
            f"{suite['image builds']} course image builds took {suite['build seconds']:.0f} s "
            f"({suite['build share']:.0%} of the run; a build reuses the layers the engine's build cache "
            "already holds).", ""], []


SPLIT_PARTS = (("the docker command", "the `docker run` command"),
               ("hub and its proxy", "the hub's spawn handling (with its proxy)"),
               ("engine", "the engine: container created and started"),
               ("start-course and tini", "start-course, then tini"),
               ("Jupyter, start to answering", "Jupyter's server, start to answering"))


def hub_split_lines(split: dict) -> list[str]:
    plain, hub = split["docker run"], split["hub"]

    def cell(way: dict, part: str) -> str:
        return f"{way[part]['median']:.2f}" if part in way else "—"

    lines = ["| CPU-seconds, median | `docker run` to /api/status | a student's start on the hub, to ready |",
             "|---|---|---|"]
    for part, label in SPLIT_PARTS:
        lines.append(f"| {label} | {cell(plain, part)} | {cell(hub, part)} |")
    lines += [f"| **start, all parts** | **{plain['start, all parts']['median']:.2f}** "
              f"| **{hub['start, all parts']['median']:.2f}** |",
              f"| then the first page (JupyterLab's HTML; on the hub through its OAuth handshake) "
              f"| {cell(plain, 'first page')} | {cell(hub, 'first page')} |",
              f"| wall time to answering (`docker run`) or ready (hub) | {plain['wall']['median']:.2f} s "
              f"| {hub['wall']['median']:.2f} s |"]
    return lines


def hub_section(hub: dict) -> Section:
    classes = [hub[key] for key in sorted((key for key in hub if key.isdigit()), key=int)]
    split, targets = hub.get("split"), []
    lines = ["## A whole class on one hub", "",
             f"`bench/hub.py`: the course's `deploy/jupyterhub` configuration (DockerSpawner, the default course "
             f"image) on JupyterHub {hub['jupyterhub']}, with a test login.", ""]
    if split:
        runs = split["hub"]["start, all parts"]["n"]
        lines += ["**One student's start, in parts.** One student at a time (each a first start, with a new "
                  "volume) starts a server through the hub's API and follows its progress until ready, then opens "
                  "JupyterLab's page; the same image started with `docker run` until `/api/status` answers, then "
                  f"its page; {runs} runs each, one after another. CPU-seconds from each process's and "
                  "container's own accounting (`/proc`, the container's cgroup).", "",
                  *hub_split_lines(split), ""]
        singleuser = split.get("JupyterHub's single-user import")
        if singleuser:
            extra = split["hub"]["start, all parts"]["median"] - split["docker run"]["start, all parts"]["median"]
            lines += [f"Of the hub's {extra:.2f} CPU-seconds more, {singleuser['cpu']['median']:.2f} are JupyterHub's "
                      "own single-user module, imported on top of JupyterLab's server (measured alone in the image, "
                      f"n={singleuser['cpu']['n']}): it loads the hub's web handlers and with them "
                      f"{', '.join(singleuser['brings in'])}, which a single-user server does not use.", ""]
        ratio = split["hub to plain, CPU"]
        targets.append(("a student's start on the hub, CPU against a plain `docker run`", f"{ratio:.2f}x",
                        "at most 1.5x", met(ratio, 1.5 + 1e-9)))
    lines += ["**A class at once.** Every student's server is started at the same moment (each student follows "
              "its progress, as the hub's page does), then each runs a notebook cell that imports the course "
              "packages (the image's own `check_packages()`) over the kernel's websocket, through the hub's "
              "proxy. CPU of the start: the hub with its proxy, the engine, and the students' containers until "
              "ready.", "",
              "| students | failures | ready, median | ready, slowest | start CPU, per student | everyone's first "
              "cell | hub + proxy memory | a student's server, idle | after the imports (median, largest) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for result in classes:
        cpu = result.get("start CPU")
        per_student = f"{sum(cpu.values()) / result['students']:.2f} CPU-s" if cpu else "not measured"
        lines.append(
            f"| {result['students']} | {len(result['failures'])} | {result['ready median']:.1f} s | "
            f"{result['ready slowest']:.1f} s | {per_student} | {result['first cells, all']:.1f} s | "
            f"{result['hub memory'] / 1e6:.0f} MB | {result['server memory idle, median'] / 1e6:.0f} MB | "
            f"{result['server memory after imports, median'] / 1e6:.0f} MB, "
            f"{result['server memory after imports, largest'] / 1e6:.0f} MB |")
        if result["students"] == 30:
            slowest = result["ready slowest"]
            targets.append(("30 students starting at once on 2 cores, all ready", f"{slowest:.1f} s, "
                            f"{len(result['failures'])} failures", "under 30 s, no failure",
                            met(slowest, 30) if not result["failures"] else "**missed**"))
    return lines + [""], targets


def pytorch_section(pytorch: dict) -> Section:
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


def first_day_section(day: dict) -> Section:
    size, start, output = day["download"], day["time to jupyter"], day["time to first output"]
    names = {"ours": "ours", "before": f"ours before ({day['before']})", "reference": "reference"}
    lines = ["## A student's first day", "",
             f"`bench/first_day.py`: the data-science course (`{day['course']}`, jupyterhub=no) against the reference "
             "image (the same requirements.txt installed the Jupyter Docker Stacks' way on the same base), and against "
             f"the same course generated by the template at {day['before']} (its own compose network, `jupyter lab`, "
             f"the PyPI extension manager). Measured side by side in one run on {day['measured on']}.", "",
             "**Download**: both images pushed to a registry on 127.0.0.1; the compressed layers a student pulls.", "",
             "| image | layers | download | without the base image's layers |", "|---|---|---|---|"]
    for name in ("ours", "reference"):
        lines.append(f"| {names[name]} | {size[name]['layers']} | {size[name]['bytes'] / 1e6:.0f} MB | "
                     f"{size[name]['bytes without the base'] / 1e6:.0f} MB |")
    lines += ["", "**Time to Jupyter**: from `docker compose up --detach` (the reference: `docker run`) to "
              "`/api/status` answering, image already pulled, the three started in turn.", "",
              "| | median | min | max | runs |", "|---|---|---|---|---|"]
    for name in ("ours", "before", "reference"):
        lines.append(f"| {names[name]} | {start[name]['median']:.2f} s | {start[name]['min']:.2f} s | "
                     f"{start[name]['max']:.2f} s | {start[name]['n']} |")
    parts = list(output["ours"])
    lines += ["", "**Time to first output**: the same start, then headless Chromium opens the smoke notebook and runs "
              "its first cell (medians, seconds from the start command).", "",
              "| | " + " | ".join(parts) + " |", "|---" * (len(parts) + 1) + "|"]
    for name in ("ours", "before", "reference"):
        lines.append(f"| {names[name]} | " + " | ".join(f"{output[name][part]['median']:.2f} s" for part in parts)
                     + " |")
    targets = [
        ("download, ours / reference", f"{size['ours']['bytes'] / size['reference']['bytes']:.2f}", "at most 1.0",
         met(size["ours"]["bytes"] / size["reference"]["bytes"], 1.0)),
        ("time to Jupyter, reference / ours", f"{start['ratio']:.2f} (before: {start['ratio before']:.2f})",
         "at least 1.0", met(start["ratio"], 1.0, larger_is_better=True)),
    ]
    shown = {name: output[name]["output shown"]["median"] for name in ("ours", "reference")}
    targets += [
        ("time to first output, reference / ours", f"{shown['reference'] / shown['ours']:.2f}", "at least 1.0",
         met(shown["reference"] / shown["ours"], 1.0, larger_is_better=True)),
        ("time to first output, ours / reference", f"{shown['ours'] / shown['reference']:.2f}",
         "at most 0.8, if the page's own loading can be made lighter", met(shown["ours"] / shown["reference"], 0.8)),
    ]
    return lines + [""], targets


def desktop_section(desktop: dict) -> Section:
    size, download, start = desktop["image size"], desktop["download"], desktop["time to jupyter"]
    lines = ["## The desktop in the browser", "",
             f"`bench/desktop.py`: the default course (`{desktop['course']}`) generated with desktop=no and with "
             "desktop=yes, built, pushed to a registry on 127.0.0.1 and started in turn; then, from a fresh start "
             "each time, Chromium clicks *Desktop* in JupyterLab's launcher and a notebook cell (in a new kernel) "
             "opens a tkinter window, until it is drawn in the desktop's tab. Measured side by side in one run on "
             f"{desktop['measured on']}.", "",
             "| | image size | download | without the base image's layers | time to Jupyter |",
             "|---|---|---|---|---|"]
    for name in ("desktop=no", "desktop=yes"):
        lines.append(f"| {name} | {size[name] / 1e6:.0f} MB | {download[name]['bytes'] / 1e6:.0f} MB | "
                     f"{download[name]['bytes without the base'] / 1e6:.0f} MB | {seconds(start[name])} |")
    parts = desktop["desktop"]
    lines += ["", "| desktop=yes | median (min–max, n) |", "|---|---|",
              f"| click on Desktop to the desktop shown | {seconds(parts['click to desktop shown'])} |",
              f"| a cell opening a window (new kernel) to the window drawn | "
              f"{seconds(parts['cell to window drawn'])} |",
              f"| idle desktop: X server + window manager, resident | "
              f"{parts['desktop resident memory']['median'] / 1e6:.0f} MB |",
              f"| idle desktop: the container's memory, added | "
              f"{parts['container memory added']['median'] / 1e6:.0f} MB |", ""]
    return lines, []


def arm64_section(arm64: dict) -> Section:
    build, start, notebook = arm64["cold build"], arm64["time to jupyter"], arm64["check notebook"]
    lines = ["## Apple silicon (linux/arm64), by emulation", "",
             f"`bench/arm64.py`: the default course (`{arm64['course']}`) on this amd64 machine, its arm64 image "
             "built and run through QEMU's user-mode emulator as `tests/test_published_for_apple_silicon.py` does. "
             "Cold, as on a clean CI machine (arm64 stand-ins removed, build cache emptied), in one run on "
             f"{arm64['measured on']}.", "",
             "| | linux/amd64 (native) | linux/arm64 (emulated) |", "|---|---|---|",
             f"| build, cache empty | {build['amd64']:.0f} s | {build['arm64']:.0f} s |",
             f"| `docker run` to Jupyter answering | {start['amd64']:.1f} s | {start['arm64']:.1f} s |",
             f"| the check notebook executed | {notebook['amd64']:.1f} s | {notebook['arm64']:.1f} s |", "",
             "The base for both architectures, python:<version>-slim in the engine's Docker Hub mirror, the arm64 one "
             "made from Debian's Python (debootstrap, then apt under emulation): "
             f"{arm64['base for both, arm64 made cold']:.0f} s. Then those tests as the suite runs them, with the "
             f"stand-in made and the build cache holding the layers above: {arm64['outcome']} in "
             f"{arm64['the tests'] / 60:.1f} min. A clean CI machine pays the stand-in and the empty cache too.", ""]
    return lines, []


def write_report() -> None:
    results = json.loads(RESULTS.read_text())
    lines, targets = header(), []
    sections = (("pinning", pinning_section), ("images", images_section), ("first day", first_day_section),
                ("hub", hub_section), ("pytorch", pytorch_section), ("desktop", desktop_section),
                ("arm64", arm64_section), ("suite", suite_section))
    for key, section in sections:
        if key in results:
            section_lines, section_targets = section(results[key])
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
