"""git as an instructor or a student runs it, with an identity of its own for commits."""

from __future__ import annotations

import subprocess
from pathlib import Path

IDENTITY = ("-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.edu")


def git(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *IDENTITY, *args], cwd=cwd, check=check, capture_output=True, text=True)
