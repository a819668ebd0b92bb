"""make assign, make grade and make test's check of the masters: Otter-Grader, run in the course image.

The masters (solutions and hidden tests) live outside the course, in the
folder the Makefile names (MASTERS): the course repository and its image are
public, so nothing here ever writes a master, a solution or an autograder
into either. Students get only the student notebook, in course/.
"""

from __future__ import annotations

import argparse
import ast
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

COURSE = Path(__file__).resolve().parents[2]
# The image's course user: grading never runs as root.
GRADER_USER = "1000"
AUTOGRADER = "autograder.zip"
# Otter's own entry in its results: the public tests' output, which students may see.
PUBLIC_TESTS = "Public Tests"
SUBMISSION_TYPES = (".ipynb", ".zip")
# Enough of a failed run's log to say why, never a submission's whole output.
LOG_LINES = 40


class Refused(Exception):
    """Something the instructor must fix first; nothing was written."""


@dataclass
class Limits:
    timeout: float = 300
    memory: str = "1g"
    cpus: str = "1"
    pids: int = 256


@dataclass
class Outcome:
    file: str
    score: float = 0
    maximum: float = 0
    questions: dict[str, float] = field(default_factory=dict)
    failure: str = ""
    public_output: str = ""


def docker(*args: str, timeout: float | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise Refused(f"docker {args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def masters_folder(value: str) -> Path:
    """MASTERS, refused when it is inside the course: everything there is published."""
    masters = (COURSE / value).resolve()
    if masters == COURSE or COURSE in masters.parents:
        raise Refused(
            f"MASTERS={value} is inside the course, whose repository and image are public: "
            "keep the masters in a folder beside it (see INSTRUCTORS.md, Assignments)."
        )
    return masters


def assignment_names(masters: Path) -> list[str]:
    """Every assignment of the masters folder: <name>/<name>.ipynb."""
    if not masters.is_dir():
        return []
    return sorted(path.parent.name for path in masters.glob("*/*.ipynb") if path.stem == path.parent.name)


def master_of(masters: Path, name: str) -> Path:
    known = assignment_names(masters)
    master = masters / name / f"{name}.ipynb"
    if not name or name not in known:
        listed = ", ".join(known) if known else f"none yet in {masters}"
        raise Refused(
            f"Name the assignment, one of the masters' folders: ASSIGNMENT={known[0] if known else 'NAME'} "
            f"({listed}; a master is <name>/<name>.ipynb)."
        )
    return master


def image_reference(image: str) -> str:
    """The image that grades: the term's tag after make freeze when this computer has it, else latest."""
    semester_file = COURSE / ".semester"
    if semester_file.is_file():
        term = f"{image}:{semester_file.read_text().strip()}"
        if docker("image", "inspect", term, check=False).returncode == 0:
            return term
    return f"{image}:latest"


def image_identity(reference: str) -> dict:
    """The image's content address (what every grading container is started from) and its registry digests."""
    found = docker("image", "inspect", reference, check=False)
    if found.returncode != 0:
        raise Refused(
            f"No image {reference} on this computer: run make build (or docker pull {reference}) first."
        )
    attrs = json.loads(found.stdout)[0]
    return {"reference": reference, "id": attrs["Id"], "repo_digests": attrs.get("RepoDigests") or []}


def otter_in_image(image_id: str, arguments: list[str], mounts: list[tuple[Path, str, bool]], user: str,
                   name: str, limits: Limits | None = None, detach: bool = False
                   ) -> subprocess.CompletedProcess:
    """Otter in a new container of the course image: no network, no capability, no privilege to gain.

    No health probe either: it checks a Jupyter server that is not there.
    """
    command = ["run", "--name", name, "--network", "none", "--cap-drop", "ALL", "--no-healthcheck",
               "--security-opt", "no-new-privileges", "--user", user,
               "--env", "HOME=/tmp", "--workdir", "/tmp", "--entrypoint", "otter"]
    if limits:
        command += ["--memory", limits.memory, "--memory-swap", limits.memory, "--cpus", limits.cpus,
                    "--pids-limit", str(limits.pids)]
    for source, target, read_only in mounts:
        mount = f"type=bind,source={source},target={target}"
        command += ["--mount", mount + (",readonly" if read_only else "")]
    command += ["--detach"] if detach else ["--rm"]
    return docker(*command, image_id, *arguments, check=False)


def run_assign(image_id: str, master: Path, output: Path) -> None:
    """otter assign into output, as this computer's user; Refused when the solution fails its own tests."""
    user = f"{os.getuid()}:{os.getgid()}"
    ran = otter_in_image(image_id, ["assign", "--no-pdfs", f"/master/{master.name}", "/out"],
                         [(master.parent, "/master", True), (output, "/out", False)],
                         user=user, name=f"course-assign-{uuid.uuid4().hex[:12]}")
    if ran.returncode != 0:
        log = "\n".join((ran.stdout + ran.stderr).strip().splitlines()[-LOG_LINES:])
        raise Refused(
            f"{log}\n{master.parent.name}: Otter refused the master (above: a solution that fails its "
            "own tests, or a cell it cannot read). Nothing was written."
        )


def autograder_of(output: Path) -> Path:
    return next((output / "autograder").glob("*-autograder_*.zip"))


def assign(masters: Path, name: str, image: str) -> None:
    master = master_of(masters, name)
    identity = image_identity(f"{image}:latest")
    with tempfile.TemporaryDirectory(prefix="course-assign-") as folder:
        output = Path(folder)
        run_assign(identity["id"], master, output)
        # Written only now, both or neither.
        student = COURSE / "course" / master.name
        shutil.copyfile(output / "student" / master.name, student)
        shutil.copyfile(autograder_of(output), master.parent / AUTOGRADER)
    print(f"{student.relative_to(COURSE)}: the students' notebook; commit and push it, students get it with "
          "their next update.")
    print(f"{os.path.relpath(master.parent / AUTOGRADER, COURSE)}: its autograder, kept with the master; "
          f"grade with make grade ASSIGNMENT={name} SUBMISSIONS=<folder>.")


def points_of(autograder: Path) -> dict[str, float]:
    """Each question's points, from the autograder's test files (tests/<question>.py: test = {...})."""
    points = {}
    with zipfile.ZipFile(autograder) as archive:
        for entry in sorted(archive.namelist()):
            if not (entry.startswith("tests/") and entry.endswith(".py")):
                continue
            for node in ast.parse(archive.read(entry)).body:
                if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "test" for t in node.targets):
                    test = ast.literal_eval(node.value)
                    value = test.get("points", 1)
                    points[test["name"]] = float(sum(value) if isinstance(value, list) else value)
    return points


def read_results(container: str) -> dict | None:
    """Otter's results.json, copied out of the stopped container (a tar stream)."""
    copied = subprocess.run(["docker", "cp", f"{container}:/tmp/results.json", "-"], capture_output=True)
    if copied.returncode != 0:
        return None
    with tarfile.open(fileobj=io.BytesIO(copied.stdout)) as archive:
        member = archive.extractfile("results.json")
        try:
            return json.loads(member.read()) if member else None
        except ValueError:
            return None


def failure_reason(log: str, state: dict, timed_out: bool, limits: Limits) -> str:
    if timed_out:
        return f"timeout: still running after {limits.timeout:g} s"
    if state.get("OOMKilled"):
        return f"out of memory: used more than {limits.memory}"
    if any(sign in log for sign in ("NotJSONError", "BadZipFile", "NBFormatError", "ValidationError")):
        return "not a notebook: the file cannot be read as a Jupyter notebook"
    for line in reversed(log.splitlines()):
        if "Received submission for assignment" in line:
            return "another assignment: " + line.split("OtterRuntimeError: ", 1)[-1].strip()
    last = next((line.strip() for line in reversed(log.splitlines()) if line.strip()), "no output")
    return f"not graded: {last[:200]}"


def grade_one(
    image_id: str, autograder: Path, submission: Path, limits: Limits, points: dict[str, float]
) -> Outcome:
    """One submission, in a container of its own that is removed afterwards."""
    outcome = Outcome(
        file=submission.name, maximum=sum(points.values()), questions=dict.fromkeys(points, 0.0)
    )
    suffix = submission.suffix.lower()
    if suffix not in SUBMISSION_TYPES:
        outcome.failure = f"not a notebook: a {suffix or 'file without extension'}, not .ipynb or .zip"
        return outcome
    name = f"course-grading-{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="course-grading-") as folder:
        # A copy under a plain name: a student's file name never reaches a mount option.
        staged = Path(folder) / f"submission{suffix}"
        shutil.copyfile(submission, staged)
        staged.chmod(0o444)
        arguments = ["run", "--no-logo", "--autograder", f"/autograder/{AUTOGRADER}", "--output-dir", "/tmp",
                     f"/submission/{staged.name}"]
        mounts = [(staged, f"/submission/{staged.name}", True),
                  (autograder, f"/autograder/{AUTOGRADER}", True)]
        started = otter_in_image(image_id, arguments, mounts, user=GRADER_USER, name=name, limits=limits,
                                 detach=True)
        if started.returncode != 0:
            raise Refused(f"The grading container did not start: {started.stderr.strip()}")
        try:
            try:
                docker("wait", name, timeout=limits.timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                docker("kill", name, check=False)
                timed_out = True
            state = json.loads(docker("inspect", name).stdout)[0]["State"]
            logs = docker("logs", "--tail", str(LOG_LINES), name, check=False)
            results = None if timed_out else read_results(name)
        finally:
            docker("rm", "--force", name, check=False)
    if results is None or state.get("OOMKilled"):
        outcome.failure = failure_reason(logs.stdout + logs.stderr, state, timed_out, limits)
    for test in (results or {}).get("tests", []):
        if test.get("name") == PUBLIC_TESTS:
            outcome.public_output = test.get("output", "")
        elif "score" in test and results is not None and not outcome.failure:
            outcome.questions[test["name"]] = float(test["score"])
    outcome.score = sum(outcome.questions.values())
    return outcome


def feedback(assignment: str, outcome: Outcome, points: dict[str, float]) -> str:
    """What a student may read: scores and the public tests' output, never a hidden test."""
    lines = [f"{assignment}: {outcome.score:g} of {outcome.maximum:g} points", ""]
    if outcome.failure:
        lines += [f"Not graded: {outcome.failure}.", ""]
    lines += [
        f"  {question}: {outcome.questions.get(question, 0):g} of {maximum:g}"
        for question, maximum in points.items()
    ]
    if outcome.public_output:
        lines += ["", "The checks you could run in the notebook (grader.check):", outcome.public_output]
    return "\n".join(lines).rstrip() + "\n"


def submissions_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise Refused(
            f"SUBMISSIONS={folder} is not a folder: name the folder that holds the students' files."
        )
    found = sorted(path for path in folder.iterdir() if path.is_file() and not path.name.startswith("."))
    if not found:
        raise Refused(f"{folder} holds no submissions.")
    return found


def otter_version(image_id: str) -> str:
    ran = docker(
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "python",
        image_id,
        "-c",
        "from importlib.metadata import version; print(version('otter-grader'))",
    )
    return ran.stdout.strip()


def grade(
    masters: Path, name: str, image: str, submissions: Path, results: Path, limits: Limits, jobs: int = 1
) -> list[Outcome]:
    """Grade every file, jobs containers at a time (each has its own limits), reported in the files' order."""
    master = master_of(masters, name)
    autograder = master.parent / AUTOGRADER
    if not autograder.is_file():
        raise Refused(f"No {autograder}: run make assign ASSIGNMENT={name} first.")
    files = submissions_in(submissions)
    identity = image_identity(image_reference(image))
    points = points_of(autograder)
    outcomes = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        graded = pool.map(
            lambda submission: grade_one(identity["id"], autograder, submission, limits, points), files
        )
        for submission, outcome in zip(files, graded, strict=True):
            print(
                f"  {submission.name}: {outcome.score:g} of {outcome.maximum:g}"
                + (f" ({outcome.failure})" if outcome.failure else ""),
                flush=True,
            )
            outcomes.append(outcome)
    write_results(
        results,
        name,
        outcomes,
        points,
        {
            "assignment": name,
            "image": identity,
            "otter_grader": otter_version(identity["id"]),
            "graded_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "limits": {
                "timeout_seconds": limits.timeout,
                "memory": limits.memory,
                "cpus": limits.cpus,
                "processes": limits.pids,
                "network": "none",
                "at_once": jobs,
            },
        },
    )
    print(f"{results / 'grades.csv'}: one row per submission; feedback/ holds one file per student.")
    return outcomes


def write_results(
    results: Path, name: str, outcomes: list[Outcome], points: dict[str, float], record: dict
) -> None:
    (results / "feedback").mkdir(parents=True, exist_ok=True)
    with open(results / "grades.csv", "w", newline="", encoding="utf-8") as table:
        writer = csv.writer(table)
        writer.writerow(["file", "score", "maximum", *points, "failure"])
        for outcome in outcomes:
            writer.writerow(
                [
                    outcome.file,
                    f"{outcome.score:g}",
                    f"{outcome.maximum:g}",
                    *(f"{outcome.questions.get(question, 0):g}" for question in points),
                    outcome.failure,
                ]
            )
            (results / "feedback" / f"{outcome.file}.txt").write_text(
                feedback(name, outcome, points), encoding="utf-8"
            )
    (results / "grading.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def check(masters: Path, image: str, limits: Limits) -> bool:
    """Each master's solution through its own autograder, in the course image: full marks or a failure."""
    names = assignment_names(masters)
    if not names:
        print(
            f"No assignments checked: no masters in {masters} (make test checks them where the masters are)."
        )
        return True
    identity = image_identity(f"{image}:latest")
    passed = True
    for name in names:
        master = masters / name / f"{name}.ipynb"
        with tempfile.TemporaryDirectory(prefix="course-check-") as folder:
            output = Path(folder)
            try:
                run_assign(identity["id"], master, output)
            except Refused as refusal:
                print(refusal, file=sys.stderr)
                passed = False
                continue
            autograder = autograder_of(output)
            solution = output / "autograder" / master.name
            outcome = grade_one(identity["id"], autograder, solution, limits, points_of(autograder))
        full = not outcome.failure and outcome.score == outcome.maximum
        print(
            f"{name}: the solution scores {outcome.score:g} of {outcome.maximum:g} in the course image"
            + ("" if full else f" ({outcome.failure or 'not full marks'}): fix the master or the packages"),
            file=sys.stdout if full else sys.stderr,
        )
        passed = passed and full
    return passed


def at_least_one(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"GRADING_JOBS must be a whole number of 1 or more, not {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    # The Makefile's variables arrive through the environment, never pasted into a command.
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["assign", "grade", "check"])
    parser.add_argument("--image", required=True, help="the course image, without a tag")
    parser.add_argument("--masters", default=os.environ.get("MASTERS", ""))
    parser.add_argument("--assignment", default=os.environ.get("ASSIGNMENT", ""))
    parser.add_argument("--submissions", default=os.environ.get("SUBMISSIONS", ""))
    parser.add_argument("--results", default=os.environ.get("RESULTS", ""))
    parser.add_argument(
        "--timeout", type=float, default=float(os.environ.get("GRADING_TIMEOUT") or Limits.timeout)
    )
    parser.add_argument("--memory", default=os.environ.get("GRADING_MEMORY") or Limits.memory)
    # One container per CPU: each is limited to one.
    parser.add_argument(
        "--jobs", type=at_least_one, default=os.environ.get("GRADING_JOBS") or os.cpu_count() or 1
    )
    arguments = parser.parse_args(argv)
    limits = Limits(timeout=arguments.timeout, memory=arguments.memory)
    try:
        masters = masters_folder(arguments.masters)
        if arguments.action == "assign":
            assign(masters, arguments.assignment, arguments.image)
        elif arguments.action == "grade":
            master = master_of(masters, arguments.assignment)
            if not arguments.submissions:
                raise Refused(
                    f"Name the folder of the students' files: make grade ASSIGNMENT={arguments.assignment} "
                    "SUBMISSIONS=<folder>"
                )
            results = Path(arguments.results) if arguments.results else master.parent / "grades"
            grade(
                masters, arguments.assignment, arguments.image, Path(arguments.submissions), results, limits,
                arguments.jobs,
            )
        else:
            return 0 if check(masters, arguments.image, limits) else 1
    except Refused as refusal:
        print(refusal, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
