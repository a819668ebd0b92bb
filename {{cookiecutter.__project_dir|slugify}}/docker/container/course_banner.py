"""Jupyter Server extension: once Jupyter answers, print the link to open in a short block of its own.

Started with `docker compose up`, the student's terminal shows this block
instead of Jupyter's start-up log (docker/container/jupyter_server_config.py keeps that
below warning level): the link with its token, and how to stop.
"""

import sys

RULE = "-" * 72


def _jupyter_server_extension_points():
    return [{"module": "course_banner"}]


def link(serverapp) -> str:
    """The address to open in the student's browser, with the token."""
    base = (serverapp.custom_display_url or f"http://127.0.0.1:{serverapp.port}").rstrip("/")
    return f"{base}{serverapp.default_url}?token={serverapp.identity_provider.token}"


def banner(serverapp) -> str:
    return "\n".join([
        RULE,
        "Jupyter is ready. Open this link in your web browser",
        "(copy it, or hold Ctrl - Cmd on a Mac - and click it):",
        "",
        f"    {link(serverapp)}",
        "",
        "To stop: press Ctrl+C in this window,",
        "or type docker compose down in a terminal in the course folder.",
        RULE,
    ])


def _load_jupyter_server_extension(serverapp) -> None:
    # Jupyter binds its port in a callback queued after the extensions load,
    # and the extensions' own callbacks (language servers, ...) may run first:
    # the block is queued from a callback, so it comes after the port is
    # bound, and a link clicked at once is answered.
    def show() -> None:
        print(banner(serverapp), file=sys.stderr, flush=True)

    serverapp.io_loop.add_callback(lambda: serverapp.io_loop.add_callback(show))
