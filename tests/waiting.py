"""Waiting in tests without fixed sleeps, and free ports on loopback."""

from __future__ import annotations

import socket
import time


def wait_until(predicate, timeout=15.0, what="condition", interval=0.02):
    """Poll ``predicate`` until it returns something truthy; return that value.

    Raises:
        AssertionError: not true within ``timeout`` seconds (the message names ``what``).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)  # polling with a deadline, not a fixed wait


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (as of now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
