"""Code run in Jupyter as a student runs it: a cell in a notebook's kernel, a command in a terminal."""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


async def connect(url: str, token: str):
    """A websocket to Jupyter, as the browser opens one.

    The caller's timeout (in_its_own_loop) bounds the whole exchange: a kernel under emulation or a desktop
    starting on a busy machine can take longer than tornado's own 20 s to accept the connection.
    """
    return await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"},
                                               connect_timeout=3600, request_timeout=3600))


async def execute(url: str, token: str, code: str) -> dict:
    """Send one execute_request over the kernel's websocket and wait for its reply."""
    connection = await connect(url, token)
    message_id = uuid.uuid4().hex
    connection.write_message(json.dumps({
        "header": {"msg_id": message_id, "msg_type": "execute_request", "session": uuid.uuid4().hex,
                   "username": "", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    try:
        while True:
            raw = await connection.read_message()
            assert raw is not None, "the kernel's websocket closed"
            message = json.loads(raw)
            if message["msg_type"] == "execute_reply" and message["parent_header"].get("msg_id") == message_id:
                return message["content"]
    finally:
        connection.close()


def run_cell(server: str, token: str, code: str, timeout: float = 120) -> tuple[str, dict]:
    """Start a kernel in the Jupyter server at this address, run one cell in it; return the kernel's id and the reply.

    The kernel keeps running (as a notebook's does after a cell), so windows it opened stay open.
    """
    kernel = requests.post(f"{server}/api/kernels", json={"name": "python3"}, timeout=60,
                           headers={"Authorization": f"token {token}"})
    assert kernel.status_code == 201, kernel.text
    url = f"{server.replace('http', 'ws', 1)}/api/kernels/{kernel.json()['id']}/channels"
    return kernel.json()["id"], in_its_own_loop(execute(url, token, code), timeout)


def in_its_own_loop(coroutine, timeout: float):
    """Run a coroutine to its end in a thread of its own (the caller's thread may run a loop: Playwright's)."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, asyncio.wait_for(coroutine, timeout)).result()


def in_a_jupyter_terminal(server: str, token: str, line: str) -> None:
    """Type a command into a new Jupyter terminal, as a student does in File > New > Terminal."""
    terminal = requests.post(f"{server}/api/terminals", headers={"Authorization": f"token {token}"}, timeout=60)
    assert terminal.status_code == 200, terminal.text
    url = f"{server.replace('http', 'ws', 1)}/terminals/websocket/{terminal.json()['name']}"

    async def type_it():
        connection = await connect(url, token)
        connection.write_message(json.dumps(["stdin", line + "\r"]))
        await connection.read_message()
        connection.close()
    in_its_own_loop(type_it(), 30)
