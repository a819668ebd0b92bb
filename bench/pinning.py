"""Pinning: the template's lock (uv) against pip-tools' pip-compile, on the same requirements.in.

Cold means empty caches for both tools; warm means the caches the previous
run left. Prints the pip-tools / ours ratio last.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.common import PACKAGE_SETS, Section, make_project, met, ratio, report, run, save, seconds, summary, timed
from hooks.post_gen_project import LOCK_SCRIPT


def pip_compile() -> str:
    found = shutil.which("pip-compile") or str(Path(sys.executable).parent / "pip-compile")
    if not Path(found).exists():
        sys.exit("pip-compile is needed: run the benchmarks with `uv run --group bench ...`")
    return found


def once(project: Path, command: list[str], env: dict) -> float:
    return timed(lambda: run(*command, cwd=project, env={**os.environ, **env}))


def timed_runs(project: Path, command: list[str], env: dict, runs: int) -> dict:
    return summary([once(project, command, env) for _ in range(runs)])


def measure(project: Path, command: list[str], env: dict, runs: int) -> tuple[dict, dict]:
    """(cold, warm) timings of command in project, caches under env's directories."""
    cold = []
    for _ in range(runs):
        for directory in env.values():
            shutil.rmtree(directory, ignore_errors=True)
        cold.append(once(project, command, env))
    return summary(cold), timed_runs(project, command, env, runs)


def lock_command(uv: list[str]) -> list[str]:
    """make lock's own pinning (docker/instructor/lock.py), without its report."""
    return [sys.executable, LOCK_SCRIPT.as_posix(), "--pin-only", *uv]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs of each tool (default 3)")
    parser.add_argument("--pip-tools-cold-runs", type=int, default=1,
                        help="cold pip-compile runs, minutes each (default 1)")
    args = parser.parse_args()
    uv = [sys.executable, "-m", "uv"]
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for label, packages in PACKAGE_SETS.items():
            project = make_project(Path(scratch, label.split()[0]), {"packages": packages, "project_slug": "bench"},
                                   pin=False)
            uv_cache = {"UV_CACHE_DIR": f"{scratch}/uv-cache"}
            ours_cold, ours_warm = measure(project, lock_command(uv), uv_cache, args.runs)
            # The same lock from the warm cache alone: the resolver's share of a warm run, the
            # rest being the index's answers to uv's revalidation requests.
            ours_cached = timed_runs(project, lock_command([*uv, "--offline"]), uv_cache, args.runs)
            tools_command = [pip_compile(), "--quiet", "--generate-hashes", "--allow-unsafe",
                             "--cache-dir", f"{scratch}/pip-tools-cache", "--output-file", "pip-tools.txt",
                             "requirements.in"]
            tools_cold, tools_warm = measure(project, tools_command,
                                             {"PIP_CACHE_DIR": f"{scratch}/pip-cache",
                                              "XDG_CACHE_HOME": f"{scratch}/pip-tools-cache"},
                                             args.pip_tools_cold_runs)
            results[label] = {"ours": {"cold": ours_cold, "warm": ours_warm, "warm, cache only": ours_cached},
                              "pip-tools": {"cold": tools_cold, "warm": tools_warm},
                              "ratio cold": ratio(tools_cold, ours_cold), "ratio warm": ratio(tools_warm, ours_warm)}
            print(f"{label}: ours cold {ours_cold['median']:.1f}s warm {ours_warm['median']:.1f}s; "
                  f"pip-tools cold {tools_cold['median']:.1f}s warm {tools_warm['median']:.1f}s", flush=True)
    save("pinning", results)
    worst = min(result["ratio cold"] for result in results.values())
    report("pinning, pip-tools / ours, cold (smallest over the sets)", worst, ">= 20x")


# The report's section (bench/run.py writes docs/benchmarks.md from every module's).
def cached(result: dict) -> str:
    stats = result["ours"].get("warm, cache only")
    return seconds(stats) if stats else "not measured"


def section(pinning: dict) -> Section:
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


if __name__ == "__main__":
    main()
