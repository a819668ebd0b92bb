"""The template's own test suite: wall time on this machine and the share spent building course images.

Runs pytest in the environment the README's test command prepares, and reads pytest's summary.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, Section, save


def main() -> None:
    start = time.perf_counter()
    # The environment's tools (hadolint, jupyterhub, ...) on PATH first, as `uv run` puts them.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                            capture_output=True, text=True, env=env)
    (ROOT / "bench" / "suite.log").write_text(result.stdout + result.stderr)
    wall = time.perf_counter() - start
    output = result.stdout + result.stderr
    builds = re.search(r"course image builds: (\d+) in (\d+)s", output)
    outcome = re.search(r"^=*\s*(\d+ (?:passed|failed).*?) in [\d.]+s", output, re.MULTILINE)
    data = {"wall seconds": wall, "outcome": outcome.group(1) if outcome else "unknown",
            "image builds": int(builds.group(1)) if builds else 0,
            "build seconds": float(builds.group(2)) if builds else 0.0}
    data["build share"] = data["build seconds"] / wall
    save("suite", data)
    print(f"suite: {data['outcome']} in {wall / 60:.1f} min, {data['image builds']} course image builds "
          f"took {data['build seconds']:.0f}s", flush=True)
    print(f"share of the suite spent building course images: {data['build share']:.2f}", flush=True)


# The report's section (bench/run.py writes docs/benchmarks.md from every module's).
def section(suite: dict) -> Section:
    return ["## The template's test suite", "",
            f"The test suite (`uv run pytest`) on this machine: {suite['outcome']} in "
            f"{suite['wall seconds'] / 60:.1f} min; "
            f"{suite['image builds']} course image builds took {suite['build seconds']:.0f} s "
            f"({suite['build share']:.0%} of the run; a build reuses the layers the engine's build cache "
            "already holds).", ""], []


if __name__ == "__main__":
    main()
