"""The course's one lock command: pin requirements.in into requirements.txt with uv.toml's settings.

make lock, generation and an image build before the first make lock all run it,
from the course's folder:
    python3 docker/instructor/lock.py UV...
where UV... runs uv (uv, or python3 -m uv).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# A course on PyTorch's CPU-only builds (gpu=no) routes them with this file.
PYTORCH_CPU = "pytorch-cpu/pyproject.toml"


def lock_command(uv: list[str]) -> list[str]:
    inputs = ["requirements.in", *([PYTORCH_CPU] if Path(PYTORCH_CPU).is_file() else [])]
    # uv.toml is named, not discovered: inside another uv project (a checkout of the
    # template, a monorepo) uv would read that project's settings instead.
    # --quiet: errors only, not uv's progress, its note that this computer's own Python is
    # another version (it does not matter: the lock is for the course's), nor the whole file.
    return [*uv, "pip", "compile", *inputs, "--config-file", "uv.toml", "--quiet",
            "--output-file", "requirements.txt"]


if __name__ == "__main__":
    sys.exit(subprocess.run(lock_command(sys.argv[1:])).returncode)
