"""The interactive questions, as an instructor reads them in a terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from hooks.answer_rules import PYTHON_VERSIONS
from tests.support.answers import DEFAULT_SLUG, DEFAULTS, SKIP_LOCK, TEMPLATE

# cookiecutter's prompts end with the default in brackets, a choice list or a yes/no.
WAITING_FOR_AN_ANSWER = re.compile(rb"(\)|\]|:)\s*$")


def answer_every_prompt_with_enter(output_dir: Path, timeout: float = 120) -> tuple[int, str]:
    """Run `cookiecutter <template>` in a pseudo-terminal, pressing Enter at each question."""
    terminal, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "cookiecutter", str(TEMPLATE), "--output-dir", str(output_dir)],
                               stdin=child, stdout=child, stderr=child, close_fds=True,
                               env={**os.environ, **SKIP_LOCK, "NO_COLOR": "1", "TERM": "dumb"})
    os.close(child)
    shown = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([terminal], [], [], 0.5)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            data = os.read(terminal, 4096)
        except OSError:  # the child closed the terminal
            break
        shown += data
        if WAITING_FOR_AN_ANSWER.search(data):
            os.write(terminal, b"\n")
    os.close(terminal)
    return process.wait(timeout=30), shown.decode(errors="replace")


def test_pressing_enter_at_every_question_shows_each_prompt_and_makes_the_default_course(tmp_path):
    code, shown = answer_every_prompt_with_enter(tmp_path)
    assert code == 0, shown
    # The terminal wraps long prompts; read them as one line each.
    text = " ".join(shown.split())
    questions = DEFAULTS["__prompts__"]
    for name, prompt in questions.items():
        label = prompt["__prompt__"] if isinstance(prompt, dict) else prompt
        # What an instructor reads is the prompt as written, markup escapes removed.
        assert label.replace("\\[", "[") in text, name
    assert "e.g. numpy>=2, pandas[excel])" in text
    assert (tmp_path / DEFAULT_SLUG / "Dockerfile").is_file()


def test_the_python_question_lists_every_version_the_template_takes_newest_first():
    question = DEFAULTS["__prompts__"]["python_version"]
    listed = re.findall(r"\b3\.1[0-9]\b", question.split("(")[0])
    assert listed == list(PYTHON_VERSIONS)
    assert listed == sorted(listed, key=lambda version: tuple(map(int, version.split("."))), reverse=True)
    assert DEFAULTS["python_version"] in listed


def test_a_refused_answer_stands_out_above_cookiecutters_report_in_a_terminal(tmp_path):
    terminal, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE), "--output-dir",
                                str(tmp_path), "jupyter_port=80"], stdin=child, stdout=child, stderr=child,
                               close_fds=True, env={**os.environ, **SKIP_LOCK, "NO_COLOR": "1", "TERM": "dumb"})
    os.close(child)
    shown = b""
    while True:
        ready, _, _ = select.select([terminal], [], [], 60)
        try:
            data = os.read(terminal, 4096) if ready else b""
        except OSError:
            data = b""
        if not data:
            break
        shown += data
    os.close(terminal)
    assert process.wait(timeout=30) != 0
    lines = shown.decode(errors="replace").replace("\r\n", "\n").splitlines()
    reason = lines.index("ERROR: jupyter_port '80' must be a number from 1024 to 65535 (digits 0-9, no leading zero)")
    assert lines[reason - 1] == lines[reason + 4] == "=" * 72
    # The command that keeps the other answers is whole on its own line.
    assert lines[reason + 2].strip().startswith("uvx cookiecutter --no-input ")
    # Cookiecutter's own report comes after the framed reason, never between its lines.
    assert any("Hook script failed" in line for line in lines[reason + 5:])
    assert list(tmp_path.iterdir()) == []
