"""Run by `make update` before cruft: refuse a .cruft.json that would run code or fetch another template.

Cookiecutter renders every answer as a Jinja template, with access to Python,
before any check of the template's own can run. An answer holding one of
Jinja's markers in .cruft.json (a one-line change in a pull request) would run
as code on the instructor's computer at the next update; another template
address would run someone else's template. Usage: python3 docker/instructor/check-update.py
"""

import json
import re
import subprocess
import sys

STATE = ".cruft.json"
# Jinja's markers, spelled apart so that the template copies this file unchanged.
BRACE = chr(123)
TEMPLATE_CODE = tuple(BRACE + second for second in (BRACE, "%", "#"))
COMMIT = re.compile(r"[0-9a-f]{7,40}")


def answers_holding_template_code(value, field: str = "") -> list[str]:
    """The fields (nested ones as a.b) whose text holds Jinja's markers."""
    if isinstance(value, dict):
        return [found for key, item in value.items()
                for found in answers_holding_template_code(item, f"{field}.{key}" if field else key)]
    if isinstance(value, list):
        return [found for item in value for found in answers_holding_template_code(item, field)]
    return [field] if isinstance(value, str) and any(mark in value for mark in TEMPLATE_CODE) else []


def refusals(state: dict, first_template: str | None) -> list[str]:
    markers = ", ".join(TEMPLATE_CODE)
    found = [f"{STATE}: the answer {field} holds template code ({markers}), which the update would run; "
             f"put back the plain answer (git log -p {STATE} shows who changed it)."
             for field in answers_holding_template_code(state.get("context", {}))]
    if first_template and state.get("template") != first_template:
        found.append(f"{STATE}: the template is {state.get('template')}, but this course was made from "
                     f"{first_template}; put that address back unless you moved to a fork on purpose.")
    if not COMMIT.fullmatch(str(state.get("commit", ""))):
        found.append(f"{STATE}: commit {state.get('commit')!r} is not a commit id.")
    return found


def first_template() -> str | None:
    """The template address .cruft.json named when git first recorded it (None before its first commit)."""
    added = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--", STATE],
                           capture_output=True, text=True)
    commits = added.stdout.split()
    if added.returncode != 0 or not commits:
        return None
    first = subprocess.run(["git", "show", f"{commits[-1]}:{STATE}"], capture_output=True, text=True)
    return json.loads(first.stdout).get("template") if first.returncode == 0 else None


def main() -> int:
    try:
        with open(STATE, encoding="utf-8") as file:
            state = json.load(file)
    except FileNotFoundError:
        return 0  # cruft says itself that the course is not linked to a template
    found = refusals(state, first_template())
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
