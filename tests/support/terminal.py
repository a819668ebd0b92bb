"""A command's output as the student's terminal shows it, read while the command runs."""

from __future__ import annotations

import os
import re
import select
import subprocess
import time

# The link the course prints once Jupyter answers (docker/container/course_banner.py).
LINK = re.compile(r"http://127\.0\.0\.1:\d+/\S*\?token=[0-9a-f]+")
TERMINAL_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Terminal:
    """What `docker compose up` prints, as the student's terminal shows it (colour codes left out)."""

    def __init__(self, process: subprocess.Popen):
        self.process, self.shown = process, ""

    def lines_until(self, pattern: re.Pattern, timeout: float = 180) -> list[str]:
        """Every line from the first one to the first that matches pattern, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [TERMINAL_CODES.sub("", line) for line in self.shown.split("\n")][:-1]
            for index, line in enumerate(lines):
                if pattern.search(line):
                    return lines[:index + 1]
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{pattern.pattern} not shown in time:\n{self.shown}")
            if select.select([self.process.stdout], [], [], 1)[0]:
                self.shown += os.read(self.process.stdout.fileno(), 65536).decode(errors="replace")
