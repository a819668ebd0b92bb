"""Autograded assignments: made, checked, exported and graded with Otter-Grader in the course's own image.

One assignments course, built for real; its example master (beside it, where
generation puts it) is assigned, answered by a student in the running course
through a real kernel, and graded with a class of right, partial, blank and
hostile submissions.
"""

from __future__ import annotations

import csv
import hashlib
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from tests.support.answers import DEFAULT_ANSWERS, bake_with, pins
from tests.support.course import Course
from tests.support.engine import docker, engine, free_port, remove_image, remove_local_images
from tests.support.git import git
from tests.support.kernel import execute, in_its_own_loop, run_cell
from tests.support.matrices import makefile_image
from tests.support.submissions import (
    CORRECT,
    EXAMPLE,
    HIDDEN_TESTS,
    LIMITS_SPY,
    PARTIAL,
    SOLUTIONS,
    answered,
    hostile,
    write_notebook,
)

# Baking pins the course's packages, Otter among them, from the package index.
pytestmark = [pytest.mark.docker, pytest.mark.network]

COURSE_NAME = "Graded Course"
PYTHON = DEFAULT_ANSWERS["python_version"]
# Short, so that the suite's two endless submissions cost a minute, not ten.
TIMEOUT = 20


def make(*args: str, cwd: Path, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["make", *args], cwd=cwd, capture_output=True, text=True, timeout=1800,
                            env={**os.environ, **(env or {})})
    if check:
        assert result.returncode == 0, f"make {' '.join(args)}:\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
    return result


def found_in_image(image: str, texts: tuple[str, ...]) -> dict[str, list[str]]:
    """Which of the texts each file of the image holds, read from the image's exported file system."""
    container = docker("create", image, "true").stdout.strip()
    found: dict[str, list[str]] = {}
    try:
        exported = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE)
        with tarfile.open(fileobj=exported.stdout, mode="r|") as archive:
            for member in archive:
                if member.isfile():
                    content = archive.extractfile(member).read()
                    hits = [text for text in texts if text.encode() in content]
                    if hits:
                        found[member.name] = hits
        assert exported.wait() == 0
    finally:
        docker("rm", "--force", container)
    return found


def found_in_build_context(project: Path, texts: tuple[str, ...]) -> dict[str, list[str]]:
    """What `docker build` sends from the course folder (its .dockerignore applied), copied into an image and read."""
    tag = f"course-context-{project.name}"
    docker("build", "--quiet", "--tag", tag, "--file", "-", ".", cwd=project,
           input="FROM scratch\nCOPY . /context/\n")
    try:
        return found_in_image(tag, texts)
    finally:
        remove_image(tag)


def found_in_git(project: Path, texts: tuple[str, ...]) -> list[str]:
    """Files git would commit (everything not ignored), or has committed, that hold any of the texts."""
    git("add", "--all", cwd=project)
    found = []
    for text in texts:
        for where in (["--cached"], ["HEAD"]):
            grep = git("grep", "--files-with-matches", "--fixed-strings", "-e", text, *where, cwd=project, check=False)
            found += grep.stdout.split()
    return found


@pytest.fixture(scope="module")
def course(cookies_session, python_base):
    """An assignments course, committed, with its image built; its masters beside it."""
    python_base(PYTHON)
    project = bake_with(cookies_session, {"course_name": COURSE_NAME, "assignments": True, "packages": "numpy"})
    git("init", "--quiet", "--initial-branch=main", cwd=project)
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "-m", "Generate the course", cwd=project)
    make("build", cwd=project)
    try:
        yield project
    finally:
        remove_local_images(makefile_image(project))


@pytest.fixture(scope="module")
def masters(course):
    return course.parent / f"{course.name}-assignments"


def test_generation_puts_the_example_master_beside_the_course_and_nothing_of_it_inside(course, masters):
    assert (masters / EXAMPLE / f"{EXAMPLE}.ipynb").is_file()
    assert {path.name for path in masters.iterdir()} == {EXAMPLE, "README.md", ".gitignore"}
    assert not (course / "assignments").exists()
    assert "otter-grader" in pins((course / "requirements.txt").read_text(), PYTHON, "x86_64")


def test_before_make_assign_no_solution_or_hidden_test_is_in_the_courses_git_build_context_or_image(course):
    secrets = SOLUTIONS + HIDDEN_TESTS
    assert found_in_git(course, secrets) == []
    assert found_in_build_context(course, secrets) == {}
    assert found_in_image(makefile_image(course), secrets) == {}


@pytest.fixture(scope="module")
def assigned(course, masters):
    """make assign on the example, then the course committed and its image rebuilt, as the instructor goes on."""
    output = make("assign", f"ASSIGNMENT={EXAMPLE}", cwd=course).stdout
    git("add", "--all", cwd=course)
    git("commit", "--quiet", "-m", "The first assignment", cwd=course)
    make("build", cwd=course)
    return output


def test_make_assign_writes_the_students_notebook_into_course_and_the_autograder_beside_the_master(
        course, masters, assigned):
    student = json.loads((course / "course" / f"{EXAMPLE}.ipynb").read_text())
    assert student["metadata"]["otter"]["assignment_name"] == EXAMPLE
    # Public tests only travel with the students' notebook.
    assert {case["hidden"] for test in student["metadata"]["otter"]["tests"].values()
            for suite in test["suites"] for case in suite["cases"]} == {False}
    assert (masters / EXAMPLE / "autograder.zip").is_file()
    assert f"course/{EXAMPLE}.ipynb" in assigned


def test_after_make_assign_no_solution_or_hidden_test_is_in_the_courses_git_build_context_or_image(
        course, assigned):
    secrets = SOLUTIONS + HIDDEN_TESTS
    assert found_in_git(course, secrets) == []
    assert found_in_build_context(course, secrets) == {}
    assert found_in_image(makefile_image(course), secrets) == {}


def test_make_assign_refuses_a_master_whose_solution_fails_its_own_tests_and_writes_nothing(
        course, masters, assigned):
    wrong = masters / "02-wrong"
    wrong.mkdir()
    master = (masters / EXAMPLE / f"{EXAMPLE}.ipynb").read_text().replace(SOLUTIONS[0], "return x * 3")
    (wrong / "02-wrong.ipynb").write_text(master.replace(f"name: {EXAMPLE}", "name: 02-wrong"))
    try:
        refused = make("assign", "ASSIGNMENT=02-wrong", cwd=course, check=False)
        assert refused.returncode != 0
        assert "Nothing was written" in refused.stderr
        assert sorted(path.name for path in wrong.iterdir()) == ["02-wrong.ipynb"]
        assert not (course / "course" / "02-wrong.ipynb").exists()
        assert git("status", "--porcelain", cwd=course).stdout == ""
    finally:
        shutil.rmtree(wrong)


def test_make_assign_refuses_a_masters_folder_inside_the_course(course, assigned):
    refused = make("assign", f"ASSIGNMENT={EXAMPLE}", "MASTERS=course", cwd=course, check=False)
    assert refused.returncode != 0
    assert "inside the course" in refused.stderr
    assert git("status", "--porcelain", cwd=course).stdout == ""


@pytest.fixture(scope="module")
def student(course, assigned):
    """A student's running course, with the assignment their update brought."""
    running = Course(course, project="graded-student").up()
    try:
        yield running
    finally:
        running.down()


def run_in_kernel(student: Course, kernel: str, code: str) -> dict:
    channels = f"{student.url.replace('http', 'ws', 1)}/api/kernels/{kernel}/channels"
    reply = in_its_own_loop(execute(channels, student.token, code), 120)
    assert reply["status"] == "ok", (code, reply.get("ename"), reply.get("evalue"))
    return reply


@pytest.fixture(scope="module")
def exported(student, course):
    """The student saves the assignment into work/, answers, checks, and exports: the file they upload."""
    notebook = student.api("GET", f"/api/contents/course/{EXAMPLE}.ipynb").json()["content"]
    saved = student.api("PUT", f"/api/contents/{EXAMPLE}.ipynb",
                        json={"type": "notebook", "format": "json", "content": answered(notebook, *CORRECT)})
    assert saved.status_code == 201, saved.text
    kernel, _ = run_cell(student.url, student.token, "import os; assert os.getcwd().endswith('/work')")
    cells = ["".join(cell["source"]) for cell in answered(notebook, *CORRECT)["cells"] if cell["cell_type"] == "code"]
    for code in cells:
        if code.startswith("grader.check("):
            # What the cell shows: Otter's summary of the public tests.
            code = f"assert 'All test cases passed' in repr({code}), repr({code})"
        run_in_kernel(student, kernel, code)
    return kernel, sorted((course / "work").glob(f"{EXAMPLE}_*.zip"))


def test_a_students_check_in_the_notebook_shows_a_wrong_answer_with_the_public_test(student, exported):
    kernel, _ = exported
    run_in_kernel(student, kernel, "def double(x):\n    return x + 1\n"
                  "shown = repr(grader.check('q1'))\n"
                  "assert 'Test case failed' in shown and 'double(2) == 4' in shown, shown\n"
                  f"assert {HIDDEN_TESTS[0]!r} not in shown")


def test_a_students_check_needs_no_network(student, exported):
    kernel, _ = exported
    # Every connection this kernel tries from now on fails, as on a laptop without internet.
    run_in_kernel(student, kernel, "import socket\n"
                  "def offline(*args, **kwargs):\n    raise OSError('no network')\n"
                  "socket.socket.connect = socket.create_connection = offline\n"
                  "def double(x):\n    return x * 2\n"
                  "shown = repr(grader.check('q1'))\n"
                  "assert 'All test cases passed' in shown, shown")


def test_the_export_cell_writes_one_zip_into_the_students_work_folder(exported):
    _, files = exported
    assert len(files) == 1, files


@pytest.fixture(scope="module")
def listener():
    """A server on this computer that counts who connects: no submission may reach it."""
    server = socket.create_server(("0.0.0.0", free_port()))
    calls = []

    def accept():
        while True:
            try:
                connection, peer = server.accept()
            except OSError:
                return
            calls.append(peer)
            connection.close()
    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], calls
    server.close()


@pytest.fixture(scope="module")
def submissions(course, student, exported, listener, tmp_path_factory):
    """The class's files: right, partial, blank, the exported zip, hostile and broken ones."""
    folder = tmp_path_factory.mktemp("submissions")
    notebook = json.loads((course / "course" / f"{EXAMPLE}.ipynb").read_text())
    write_notebook(folder / "right.ipynb", answered(notebook, *CORRECT))
    write_notebook(folder / "partial.ipynb", answered(notebook, *PARTIAL))
    write_notebook(folder / "blank.ipynb", notebook)
    write_notebook(folder / "limits.ipynb", answered(notebook, CORRECT[0], LIMITS_SPY))
    shutil.copyfile(exported[1][0], folder / "exported.zip")
    # The engine's bridge, where the host answers containers: unreachable without a network.
    subnet = engine().networks.get("bridge").attrs["IPAM"]["Config"][0]["Subnet"]
    gateway = str(next(ipaddress.ip_network(subnet).hosts()))
    for name, answers in hostile((gateway, listener[0])).items():
        write_notebook(folder / f"{name}.ipynb", answered(notebook, *answers))
    other = answered(notebook, *CORRECT)
    other["metadata"]["otter"]["assignment_name"] = "02-another"
    write_notebook(folder / "another-assignment.ipynb", other)
    (folder / "corrupt.ipynb").write_text('{"cells": [')
    (folder / "essay.docx").write_bytes(b"PK\x03\x04 not a notebook")
    return folder


def digests(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.rglob("*") if path.is_file()}


@pytest.fixture(scope="module")
def graded(course, masters, submissions):
    before = digests(submissions), digests(masters / EXAMPLE)
    output = make("grade", f"ASSIGNMENT={EXAMPLE}", f"SUBMISSIONS={submissions}", cwd=course,
                  env={"GRADING_TIMEOUT": str(TIMEOUT)}).stdout
    results = masters / EXAMPLE / "grades"
    with open(results / "grades.csv", newline="") as table:
        rows = {row["file"]: row for row in csv.DictReader(table)}
    return rows, results, output, before


def test_make_grade_writes_one_row_per_submission_with_each_question(graded, submissions):
    rows, _, _, _ = graded
    assert set(rows) == {path.name for path in submissions.iterdir()}
    assert list(next(iter(rows.values()))) == ["file", "score", "maximum", "q1", "q2", "failure"]
    scores = {name: (row["score"], row["maximum"], row["q1"], row["q2"], row["failure"]) for name, row in rows.items()}
    assert scores["right.ipynb"] == ("3", "3", "2", "1", "")
    assert scores["exported.zip"] == ("3", "3", "2", "1", "")
    assert scores["partial.ipynb"] == ("2", "3", "1", "1", "")
    assert scores["blank.ipynb"] == ("0", "3", "0", "0", "")


def test_each_submission_runs_as_a_non_root_user_without_network_capabilities_or_write_access_within_limits(graded):
    rows, _, _, _ = graded
    assert (rows["limits.ipynb"]["score"], rows["limits.ipynb"]["failure"]) == ("3", "")


@pytest.mark.parametrize(("name", "reason"), [
    ("endless-loop.ipynb", f"timeout: still running after {TIMEOUT} s"),
    ("memory-bomb.ipynb", "out of memory"),
    ("corrupt.ipynb", "not a notebook"),
    ("essay.docx", "not a notebook"),
    ("another-assignment.ipynb", "another assignment"),
], ids=["endless-loop", "memory-bomb", "corrupt", "not-a-notebook", "another-assignment"])
def test_a_broken_or_hostile_submission_scores_zero_with_its_reason(graded, name, reason):
    rows, _, _, _ = graded
    assert rows[name]["score"] == "0"
    assert rows[name]["failure"].startswith(reason), rows[name]


def test_a_fork_bomb_ends_at_the_limits_and_the_next_submission_is_graded(graded):
    rows, _, _, _ = graded
    assert rows["fork-bomb.ipynb"]["score"] == "0"
    assert rows["fork-bomb.ipynb"]["failure"]
    assert rows["limits.ipynb"]["score"] == "3"


def test_a_submission_that_deletes_files_changes_nothing_outside_its_container(graded, submissions, masters):
    rows, _, _, (submitted, master_files) = graded
    assert digests(submissions) == submitted
    assert {name: digest for name, digest in digests(masters / EXAMPLE).items() if name in master_files} == master_files
    assert rows["deletes-files.ipynb"]["score"] == "0"


def test_a_submission_that_calls_out_reaches_nothing(graded, listener):
    rows, _, _, _ = graded
    assert listener[1] == []
    assert rows["calls-out.ipynb"]["score"] == "3"


def test_feedback_gives_each_student_their_scores_and_never_a_hidden_test(graded, submissions):
    _, results, _, _ = graded
    feedback = {path.name: path.read_text() for path in (results / "feedback").iterdir()}
    assert set(feedback) == {f"{path.name}.txt" for path in submissions.iterdir()}
    assert feedback["partial.ipynb.txt"].startswith(f"{EXAMPLE}: 2 of 3 points")
    assert "q1: 1 of 2" in feedback["partial.ipynb.txt"]
    assert "Not graded: timeout" in feedback["endless-loop.ipynb.txt"]
    for text in feedback.values():
        assert not any(secret in text for secret in HIDDEN_TESTS + SOLUTIONS)


def test_grading_records_the_image_by_id_and_otters_version_from_the_lock(graded, course):
    _, results, _, _ = graded
    record = json.loads((results / "grading.json").read_text())
    assert record["image"]["id"] == engine().images.get(makefile_image(course)).id
    assert record["otter_grader"] == pins((course / "requirements.txt").read_text(), PYTHON, "x86_64")["otter-grader"]
    assert record["limits"]["network"] == "none"


def test_make_grade_grades_one_file_per_cpu_at_once_and_reports_them_in_order(graded, submissions):
    _, results, output, _ = graded
    assert json.loads((results / "grading.json").read_text())["limits"]["at_once"] == os.cpu_count()
    reported = [line.split(":", 1)[0].strip() for line in output.splitlines() if line.startswith("  ")]
    assert reported == sorted(path.name for path in submissions.iterdir())


def test_a_number_of_jobs_that_is_not_one_or_more_is_refused_before_grading(course, masters, submissions, tmp_path):
    refused = make("grade", f"ASSIGNMENT={EXAMPLE}", f"SUBMISSIONS={submissions}", f"RESULTS={tmp_path / 'grades'}",
                   "GRADING_JOBS=0", cwd=course, check=False)
    assert refused.returncode != 0
    assert "GRADING_JOBS must be a whole number of 1 or more, not '0'" in refused.stderr
    assert not (tmp_path / "grades").exists()


def test_grading_the_same_submission_again_gives_the_same_row(graded, course, submissions, tmp_path):
    rows, _, _, _ = graded
    again = tmp_path / "again"
    again.mkdir()
    for name in ("right.ipynb", "partial.ipynb"):
        shutil.copyfile(submissions / name, again / name)
    make("grade", f"ASSIGNMENT={EXAMPLE}", f"SUBMISSIONS={again}", cwd=course,
         env={"RESULTS": str(tmp_path / "results")})
    with open(tmp_path / "results" / "grades.csv", newline="") as table:
        for row in csv.DictReader(table):
            assert row == rows[row["file"]]


def test_make_test_fails_when_a_masters_solution_no_longer_scores_full_marks(course, masters, graded):
    make("test", cwd=course)
    master = masters / EXAMPLE / f"{EXAMPLE}.ipynb"
    original = master.read_text()
    master.write_text(original.replace(SOLUTIONS[1], "len(sentence)"))
    try:
        failed = make("test", cwd=course, check=False)
        assert failed.returncode != 0
        assert EXAMPLE in failed.stderr
    finally:
        master.write_text(original)
