"""Waiting for something a container, a hub or a browser does: one helper, with a timeout and a message."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], *, timeout: float, message: str | Callable[[], str],
               interval: float = 0.5, ignoring: tuple[type[Exception], ...] = ()) -> T:
    """Call check until it returns something true, and return that; fail with message after timeout.

    Exceptions in ignoring count as "not yet" (a server not listening yet); an AssertionError raised
    by check (a process that stopped) fails at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except ignoring:
            result = None
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"after {timeout} s: {message() if callable(message) else message}")
        time.sleep(interval)
