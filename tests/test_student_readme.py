"""The students' README: its main path in order, and the messages its troubleshooting names, produced for real."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from tests.support.course import Course
from tests.support.engine import engine, free_port
from tests.support.matrices import makefile_image
from tests.support.registry import Registry

MAIN_PATH = ["Before you start (once)", "1. Get the course files (once)", "2. Start", "3. Open", "4. Stop",
             "5. Update", "Where your work is saved", "Your own web app", "What is installed",
             "If Docker cannot run on your computer", "Other ways to run the course",
             "Troubleshooting"]


@pytest.fixture(scope="module")
def readme(bake_static) -> str:
    return (bake_static({}) / "README.md").read_text()


def troubleshooting(readme: str) -> str:
    return readme.split("\n## Troubleshooting\n", 1)[1]


def routes_without_docker(readme: str) -> str:
    """The section for students whose computer cannot run Docker."""
    return readme.split("\n## If Docker cannot run on your computer\n", 1)[1].split("\n## ", 1)[0]


def test_the_main_path_comes_first_and_in_order(readme):
    assert re.findall(r"^## (.+)$", readme, re.MULTILINE)[:len(MAIN_PATH)] == MAIN_PATH


def test_each_system_names_its_terminal_and_everything_is_checked_once(readme):
    before = readme.split("\n## Before you start (once)\n", 1)[1].split("\n## ", 1)[0]
    for system, terminal in [("Windows 10 or 11", "PowerShell"), ("macOS", "Terminal"), ("Linux", "terminal")]:
        section = before.split(f"\n### {system}\n", 1)[1].split("\n### ", 1)[0]
        assert f"Open **{terminal}**" in section or f"Open a {terminal}" in section, system
    check = re.search(r"```sh\n(.*?)```", before, re.DOTALL).group(1).split("\n")
    assert check == ["docker version", "docker compose version", "git --version", ""]


def test_the_readme_shows_the_block_the_course_prints(bake_static, readme):
    course = bake_static({})
    spec = importlib.util.spec_from_file_location("course_banner", course / "docker/container/course_banner.py")
    course_banner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course_banner)
    serverapp = SimpleNamespace(custom_display_url="http://127.0.0.1:8888", port=8888, default_url="/lab",
                                identity_provider=SimpleNamespace(token="3f9c..."))
    printed = [f"jupyter-1  | {line}".rstrip() for line in course_banner.banner(serverapp).splitlines()]
    start = readme.split("\n## 2. Start\n", 1)[1]
    shown = re.search(r"^```\n(jupyter-1 .*?)```$", start, re.MULTILINE | re.DOTALL).group(1).splitlines()
    assert shown == printed


@pytest.mark.docker
def test_a_command_typed_outside_the_course_folder_gives_the_message_the_readme_names(tmp_path, readme):
    up = subprocess.run(["docker", "compose", "up"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert up.returncode != 0
    assert "no configuration file provided: not found" in up.stderr
    assert "`no configuration file provided: not found`" in troubleshooting(readme)


@pytest.mark.docker
def test_docker_not_running_gives_the_message_the_readme_names(default_course, tmp_path, readme):
    socket_path = tmp_path / "docker.sock"
    up = subprocess.run(["docker", "compose", "up"], cwd=default_course, capture_output=True, text=True,
                        timeout=60, env={**os.environ, "DOCKER_HOST": f"unix://{socket_path}"})
    assert up.returncode != 0
    message = f"Cannot connect to the Docker daemon at unix://{socket_path}. Is the docker daemon running?"
    assert message in up.stderr, up.stderr
    assert "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" in (
        troubleshooting(readme))


@pytest.mark.docker
def test_a_busy_port_gives_the_message_the_readme_names_and_its_one_line_fix_works(default_course, readme):
    course = Course(default_course)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", course.port))
        busy.listen()
        try:
            up = course.compose("up", "--detach", check=False)
            assert up.returncode != 0
            named = re.findall(r"\*\*`([^`]+)`\*\* or \*\*`([^`]+)`\*\*", troubleshooting(readme))[0]
            assert any(message in up.stderr for message in named), up.stderr
            # The fix for macOS and Linux, as the README writes it, on a port that is free here.
            fix = re.search(r"on macOS and Linux `([^`]+)`", troubleshooting(readme)).group(1)
            assert fix == "JUPYTER_PORT=8890 docker compose up"
            other = free_port()
            env = {key: value for key, value in os.environ.items() if key != "JUPYTER_PORT"}
            started = subprocess.run(["sh", "-c", fix.replace("8890", str(other)) + " --detach"],
                                     cwd=course.path, env=env, capture_output=True, text=True, timeout=300)
            assert started.returncode == 0, started.stderr
            course.port = other
            course.token = None  # started as the README writes it: with a token of Jupyter's own
            course.wait_answering()
            assert requests.get(f"http://127.0.0.1:{other}/api", timeout=10).status_code == 200
        finally:
            course.down()


@pytest.mark.docker
def test_a_refused_download_stops_at_once_with_the_message_the_readme_names_and_builds_nothing(
        bake_static, tmp_path, readme):
    private = Registry(tmp_path, private=True)
    private.start()
    try:
        course = Course(bake_static({"image_registry": f"127.0.0.1:{private.port}/teach"}))
        up = course.compose("up", "--detach", check=False, timeout=120)
    finally:
        private.stop()
    assert up.returncode != 0
    assert "no basic auth credentials" in up.stderr, up.stderr
    assert "`no basic auth credentials`" in troubleshooting(readme)
    # Nothing was built instead: no build step started, and no image has the course's name.
    assert "load build definition" not in up.stdout + up.stderr
    assert not engine().images.list(name=makefile_image(course.path))


@pytest.mark.parametrize(("repository", "binder"), [
    ("https://github.com/ada-teaches/intro-course", "open <https://mybinder.org/v2/gh/ada-teaches/intro-course/HEAD>"),
    ("https://github.com/ada-teaches/intro-course.git/", "open <https://mybinder.org/v2/gh/ada-teaches/intro-course/HEAD>"),
    ("https://git.example.edu/teach/intro-course", "your instructor can give you a Binder link"),
], ids=["github", "github-with-dot-git", "other-git-server"])
def test_students_without_docker_get_the_courses_binder_link_when_it_is_on_github(bake_static, repository, binder):
    course = bake_static({"image_registry": "registry.example.edu/teach", "repository_url": repository})
    assert f"- **Binder**: {binder}" in routes_without_docker((course / "README.md").read_text())


def test_a_course_with_a_hub_gives_its_address_to_students_without_docker(bake_static, readme):
    hub = (bake_static({"hub_url": "https://hub.cs.example.edu"}) / "README.md").read_text()
    assert ("- **Your department's JupyterHub**: open <https://hub.cs.example.edu> and log in."
            in routes_without_docker(hub))
    assert "if your instructor names one" in routes_without_docker(readme)


def unpacked_zip(course: Path, folder: Path) -> Path:
    """The course as a downloaded ZIP unpacks: the repository's files, an empty work/ folder."""
    shutil.copytree(course, folder, ignore=lambda where, names: [name for name in names if Path(where).name == "work"
                                                                 and name != ".gitkeep"])
    return folder


@pytest.mark.docker
def test_updating_from_a_new_zip_as_the_readme_says_keeps_the_students_work(default_course, tmp_path, readme):
    route = readme.split("\n### Without git\n", 1)[1].split("\n### ", 1)[0]
    assert ("3. In the new folder, delete the empty `work` folder.\n4. Move the `work` folder from the old folder "
            "into the new one.\n5. Start the course from the new folder.") in route
    old = Course(unpacked_zip(default_course, tmp_path / "course-main"))
    old.up()
    try:
        old.save_notebook("my-notes.ipynb", "my notes from week 3")
    finally:
        old.down()
    notes = old.path / "work" / "my-notes.ipynb"
    saved, owner = notes.read_bytes(), (notes.stat().st_uid, notes.stat().st_gid)
    # The new ZIP, unpacked beside the old folder, with the week's new notebook.
    new = unpacked_zip(default_course, tmp_path / "course-main (1)")
    shutil.copy(new / "course/00-check-environment.ipynb", new / "course/01-week-4.ipynb")
    shutil.rmtree(new / "work")
    shutil.move(old.path / "work", new / "work")
    course = Course(new).up()
    try:
        assert course.read_notebook("my-notes.ipynb") == "my notes from week 3"
        assert course.api("GET", "/api/contents/course/01-week-4.ipynb").status_code == 200
        moved = new / "work" / "my-notes.ipynb"
        assert moved.read_bytes() == saved
        assert (moved.stat().st_uid, moved.stat().st_gid) == owner
    finally:
        course.down()


def test_a_desktop_course_says_how_to_open_the_desktop_and_others_do_not_mention_it(bake_static, readme):
    desktop = (bake_static({"desktop": True}) / "README.md").read_text()
    section = desktop.split("\n## Programs with windows: the Desktop\n", 1)[1].split("\n## ", 1)[0]
    assert "the Launcher's *Desktop* button (JupyterLab) or *New > Desktop* (Notebook)" in section
    assert "## Programs with windows" not in readme
    assert "*Desktop*" not in readme



# Words a first-year may not know: each is explained, in parentheses right after it, at its first use.
JARGON = ("container", "image", "repository", "token", "kernel", "port", "proxy")
FIRST_YEAR_READMES = {"default": {}, "desktop": {"desktop": True}, "assignments": {"assignments": True}}


def prose(markdown: str) -> list[str]:
    """The README's sentences as a reader meets them: no code, table, heading or comment; a list item ends one."""
    text = re.sub(r"```.*?```|<!--.*?-->", "", markdown, flags=re.DOTALL)
    paragraphs, current = [], []
    for line in text.splitlines():
        item = re.match(r"\s*(?:\d+\.|-)\s+(.*)", line)
        if not line.strip() or line.startswith(("#", "|")) or item:
            paragraphs.append(" ".join(current))
            current = [item.group(1)] if item else []
        else:
            current.append(line.strip())
    paragraphs.append(" ".join(current))
    sentences = []
    for paragraph in paragraphs:
        # What a reader reads as one word: a command, a link's text, a quoted message's words stay words.
        paragraph = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", paragraph)
        paragraph = re.sub(r"`[^`]*`", "CODE", paragraph).replace("*", "")
        sentences += [sentence for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z(\"'])", paragraph)
                      if re.search(r"[A-Za-z]", sentence)]
    return sentences


def words(sentence: str) -> list[str]:
    return [word for word in sentence.split() if re.search(r"[A-Za-z0-9]", word)]


@pytest.mark.parametrize("answers", FIRST_YEAR_READMES.values(), ids=FIRST_YEAR_READMES.keys())
def test_no_sentence_is_longer_than_thirty_words_and_they_average_fifteen_at_most(bake_static, answers):
    sentences = prose((bake_static(answers) / "README.md").read_text())
    lengths = [len(words(sentence)) for sentence in sentences]
    longest = max(zip(lengths, sentences, strict=True))
    assert longest[0] <= 30, longest
    assert sum(lengths) / len(lengths) <= 15


@pytest.mark.parametrize("answers", FIRST_YEAR_READMES.values(), ids=FIRST_YEAR_READMES.keys())
def test_each_word_a_first_year_may_not_know_is_explained_at_its_first_use(bake_static, answers):
    # A message quoted as the computer shows it ("The kernel appears to have died") is not the README's wording.
    text = re.sub(r'"[^"]*"', "QUOTE", " ".join(prose((bake_static(answers) / "README.md").read_text())))
    for word in JARGON:
        first = re.search(rf"\b{word}s?\b", text, re.IGNORECASE)
        if first:
            assert text[first.end():].startswith(" ("), f"{word}: ...{text[first.start() - 80:first.end() + 40]}..."
