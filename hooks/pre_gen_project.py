"""Check every answer before anything is generated, and say what to type when one cannot work.

Cookiecutter renders this file, so the answers arrive as JSON data (never as
code) at the bottom; everything above is plain Python that tests import. The
rules themselves are in answer_rules.py (check_answers), with cookiecutter.json's.
"""

from __future__ import annotations

import json
import sys

if __name__ == "__main__":
    # Cookiecutter runs a rendered copy of this file from a temporary folder:
    # the template's folder, where the rules are, comes as data.
    sys.path.insert(0, json.loads(r'''{{ answer_rules_folder | tojson }}'''))

from hooks.answer_rules import InvalidAnswer, check_answers, run_again  # noqa: E402

# Cookiecutter reports every failed hook after it, with a traceback: the rules
# frame the reason so that it stands out above that report.
RULE = "=" * 72


def refusal(error: InvalidAnswer, answers: dict) -> str:
    # Every message starts with the answer it is about.
    refused = str(error).split(" ", 1)[0].rstrip(":")
    return "\n".join([
        "", RULE, f"ERROR: {error}",
        "Nothing was generated. To keep your other answers, run this with the corrected answer in place of ...:",
        f"  {run_again(answers, refused)}",
        "(The report below, cookiecutter's own, only repeats that generation stopped.)", RULE, "",
    ])


def main(answers: dict) -> int:
    try:
        check_answers(answers)
    except InvalidAnswer as error:
        print(refusal(error, answers), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r'''{{ cookiecutter | tojson }}''')))
