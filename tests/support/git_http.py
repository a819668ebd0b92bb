"""A git repository served over plain HTTP on 127.0.0.1 behind a user name and password, as a private template is."""

from __future__ import annotations

import base64
import functools
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.git import git


class PasswordProtected(SimpleHTTPRequestHandler):
    """Files of one folder, to a client that sends the expected Basic credentials (git's dumb HTTP)."""

    expected = ""
    authenticated: list[str]

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="template"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.authenticated.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@contextmanager
def served_with_password(repository: Path, folder: Path, user: str, password: str) -> Iterator[tuple[str, list]]:
    """Serve a bare copy of repository at http://user:password@127.0.0.1:<port>/template.git.

    Yields that address and the paths fetched with the right credentials.
    """
    git("clone", "--quiet", "--bare", str(repository), str(folder / "template.git"), cwd=folder)
    git("update-server-info", cwd=folder / "template.git")
    authenticated: list[str] = []
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    handler = type("Handler", (PasswordProtected,), {"expected": f"Basic {token}", "authenticated": authenticated})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{user}:{password}@127.0.0.1:{server.server_address[1]}/template.git", authenticated
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def git_server(folder: Path, name: str, address: str = "127.0.0.1") -> Iterator[str]:
    """An empty repository that accepts pushes, as GitHub's new repository does: git's own server.

    It listens on address (this host's side of Docker's bridge, for a machine in a container); yields
    the repository's address, git://<address>:<port>/<name>.
    """
    git("init", "--quiet", "--bare", "--initial-branch=main", str(folder / name), cwd=folder)
    with socket.socket() as probe:
        probe.bind((address, 0))
        port = probe.getsockname()[1]
    daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
                               f"--base-path={folder}", f"--listen={address}", f"--port={port}", str(folder)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["git", "ls-remote", f"git://{address}:{port}/{name}"],
                             capture_output=True).returncode != 0:
            assert daemon.poll() is None, daemon.stderr.read()
            assert time.monotonic() < deadline, "git daemon did not answer"
            time.sleep(0.2)
        yield f"git://{address}:{port}/{name}"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
