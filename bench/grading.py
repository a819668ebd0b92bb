"""Grading throughput: a class of submissions graded with make grade, against otter run in one container.

An assignments course (`numpy`), built, with its example assignment made by
`make assign`; a class of submissions (right, partial and blank in turn).
Side by side in one run:
- `make grade`: a new container per submission (no network, limits, non-root), as instructors grade: one per
  CPU at a time (its default), and one at a time (GRADING_JOBS=1);
- the same `otter run` for each submission in a loop inside one container of the same image: no container
  per submission, no limits between them.
The difference per submission is what the isolation costs.

    uv run --group bench python -m bench.grading [--class-size 30]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import tempfile
from pathlib import Path

from bench.common import PYTHON_VERSION, Section, base_image, make_project, run, save, timed
from tests.support.matrices import makefile_image
from tests.support.submissions import EXAMPLE, class_of

SLUG = "bench-grading"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--class-size", type=int, default=30)
    args = parser.parse_args()
    base_image()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        project = make_project(scratch, {"course_name": "Bench Grading", "project_slug": SLUG, "assignments": True,
                                         "packages": "numpy"})
        run("make", "build", cwd=project)
        run("make", "assign", f"ASSIGNMENT={EXAMPLE}", cwd=project)
        student = json.loads((project / "course" / f"{EXAMPLE}.ipynb").read_text())
        submissions = class_of(student, scratch / "class", args.class_size)
        autograder = project.parent / f"{SLUG}-assignments" / EXAMPLE / "autograder.zip"
        image = f"{makefile_image(project)}:latest"
        try:
            at_once = timed(lambda: run("make", "grade", f"ASSIGNMENT={EXAMPLE}", f"SUBMISSIONS={submissions}",
                                        cwd=project))
            isolated = timed(lambda: run("make", "grade", f"ASSIGNMENT={EXAMPLE}", f"SUBMISSIONS={submissions}",
                                         "GRADING_JOBS=1", cwd=project))
            with open(autograder.parent / "grades" / "grades.csv", newline="") as table:
                graded = [row for row in csv.DictReader(table) if not row["failure"]]
            loop = ("for file in /class/*.ipynb; do "
                    'otter run --no-logo -a /autograder.zip -o /tmp "$file" > /dev/null || exit 1; done')
            direct = timed(lambda: run(
                "docker", "run", "--rm", "--network", "none", "--user", "1000",
                "--env", "HOME=/tmp", "--workdir", "/tmp",
                "--mount", f"type=bind,source={submissions},target=/class,readonly",
                "--mount", f"type=bind,source={autograder},target=/autograder.zip,readonly",
                "--entrypoint", "sh", image, "-c", loop))
        finally:
            run("docker", "image", "rm", "--force", image, check=False)
    size = args.class_size
    save("grading", {"class size": size, "graded without failure": len(graded), "python": PYTHON_VERSION,
                     "make grade seconds": isolated, "one container seconds": direct,
                     "make grade, one per CPU, seconds": at_once, "CPUs": os.cpu_count(),
                     "measured on": datetime.date.today().isoformat()})
    print(f"make grade: {isolated / size:.2f} s per submission; otter run in one container: {direct / size:.2f} s")


def section(grading: dict) -> Section:
    size = grading["class size"]
    ours, direct = grading["make grade seconds"] / size, grading["one container seconds"] / size
    lines = ["## Grading a class", "",
             f"`bench/grading.py`: an assignments course (`numpy`, Python {grading['python']}) and its example "
             f"assignment; a class of {size} submissions (right, partial and blank in turn; "
             f"{grading['graded without failure']} graded without failure). `make grade` starts a new container "
             "per submission (no network; memory, CPU, process and time limits; non-root); the other column runs "
             "the same `otter run` on each submission in a loop inside one container of the same image. Measured "
             f"side by side in one run on {grading['measured on']}.", "",
             "| | whole class | per submission |", "|---|---|---|",
             f"| `make grade` (a container each, one at a time: `GRADING_JOBS=1`) | "
             f"{grading['make grade seconds']:.0f} s | {ours:.2f} s |",
             f"| `otter run`, one container | {grading['one container seconds']:.0f} s | {direct:.2f} s |",
             f"| the container's overhead | {grading['make grade seconds'] - grading['one container seconds']:.0f} s "
             f"| {ours - direct:.2f} s ({(ours - direct) / direct:.0%}) |"]
    if "make grade, one per CPU, seconds" in grading:
        at_once = grading["make grade, one per CPU, seconds"]
        lines.append(f"| `make grade` as it runs by default, one per CPU ({grading['CPUs']} at once) | {at_once:.0f} s "
                     f"| {at_once / size:.2f} s |")
    lines.append("")
    return lines, []


if __name__ == "__main__":
    main()
