"""What must hold before the course image is published, and the labels it is published with.

`make push` and the workflow (.github/workflows/image.yml) both run it, so that
they stop for the same reasons and label the image alike:

    python3 docker/instructor/publishing.py check IMAGE
        one line and exit status 1 when the image cannot be published yet
    python3 docker/instructor/publishing.py term
        the term's name, or one line and exit status 1 when it is not a plain tag
    python3 docker/instructor/publishing.py labels
        the image's labels (where it comes from), one --label option a line;
        in the workflow, its step outputs instead: labels and the term's tag

The term comes from SEMESTER, or .semester (written by make freeze). Only the
standard library: it runs wherever make and the workflow run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

# The organisation the template's default addresses name: no registry has a course image under it.
PLACEHOLDER = "your" + "-org"  # spelt apart: make set-org replaces the placeholder in every file, not here
# Written with the course while its image names the placeholder: students build, never pull.
BUILD_HERE = Path("compose.override.yaml")
# A term name is a tag and nothing else: no option, no second line, no shell syntax.
TERM = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
IN_THE_WORKFLOW = os.environ.get("GITHUB_ACTIONS") == "true"


class CannotPublish(Exception):
    """A reason the image cannot be published yet, and the file to change."""

    def __init__(self, file: str, message: str):
        super().__init__(message)
        self.file = file


def term() -> str:
    """The term's name (make freeze), or "" before the course is frozen for a term."""
    named = os.environ.get("SEMESTER")
    if named is None:
        named = Path(".semester").read_text(encoding="utf-8").strip() if Path(".semester").exists() else ""
    if named and not TERM.fullmatch(named):
        raise CannotPublish(".semester", "The term name must be letters, digits, . _ - (e.g. 2027-spring); "
                                         "check .semester or SEMESTER=.")
    return named


def check(image: str) -> None:
    if f"/{PLACEHOLDER}/" in f"{image}/":
        raise CannotPublish(".github/workflows/image.yml",
                            f"{image} names the template's placeholder {PLACEHOLDER}: "
                            "make set-org ORG=YOUR-GITHUB-ACCOUNT puts yours in its place.")
    if BUILD_HERE.exists():
        raise CannotPublish(str(BUILD_HERE),
                            f"{BUILD_HERE} makes students build the image instead of pulling it (it was "
                            "written while the image address was the placeholder): delete it, so that they "
                            "pull the image you publish.")
    term()


def base_digest() -> str:
    """The base image's digest: as make freeze recorded it, else as pulled here, else from its registry."""
    dockerfile = Path("Dockerfile").read_text(encoding="utf-8")
    base = re.search(r"^ARG BASE_IMAGE=(\S+)", dockerfile, re.MULTILINE).group(1)
    if "@" in base:
        return base.split("@", 1)[1]
    pulled = subprocess.run(["docker", "image", "inspect", base], capture_output=True, text=True)
    digests = json.loads(pulled.stdout)[0]["RepoDigests"] if pulled.returncode == 0 else []
    if digests:
        return digests[0].split("@", 1)[1]
    served = subprocess.run(["docker", "buildx", "imagetools", "inspect", base],
                            capture_output=True, text=True)
    found = re.search(r"^Digest:\s+(\S+)", served.stdout, re.MULTILINE)
    return found.group(1) if found else ""


def labels() -> dict[str, str]:
    """OCI labels: the repository and commit, when it was built, the term, the base image's digest."""
    if IN_THE_WORKFLOW:
        source = f"{os.environ['GITHUB_SERVER_URL']}/{os.environ['GITHUB_REPOSITORY']}"
        revision = os.environ["GITHUB_SHA"]
    else:
        source = json.loads(Path(".cookiecutter.json").read_text(encoding="utf-8"))["repository_url"]
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
        revision = head.stdout.strip() if head.returncode == 0 else ""
    prefix = "org.opencontainers.image."
    return {f"{prefix}source": source, f"{prefix}revision": revision,
            f"{prefix}created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            f"{prefix}version": term(), f"{prefix}base.digest": base_digest()}


def main(arguments: list[str]) -> int:
    try:
        if arguments[:1] == ["check"] and len(arguments) == 2:
            check(arguments[1])
        elif arguments == ["term"]:
            print(term())
        elif arguments == ["labels"]:
            found = labels()
            if IN_THE_WORKFLOW:
                # A value of several lines goes between a delimiter line and its end (GitHub's format).
                lines = "".join(f"{key}={value}\n" for key, value in found.items())
                with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as output:
                    output.write(f"labels<<END_OF_LABELS\n{lines}END_OF_LABELS\n"
                                 f"tag={found['org.opencontainers.image.version']}\n")
            else:
                print("\n".join(f"--label={key}={value}" for key, value in found.items()))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except CannotPublish as reason:
        if IN_THE_WORKFLOW:  # an annotation on the file to change
            print(f"::error file={reason.file}::{reason}")
        else:
            print(reason, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
