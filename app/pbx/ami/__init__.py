"""A small, thread-safe Asterisk Manager Interface (AMI) client.

Why our own and not panoramisk: panoramisk is asyncio-only, so every Dramatiq
worker thread and every Flask request would have to hop onto an event loop
thread to use it, and its reconnect and ActionID handling would still need a
wrapper of ours for typed errors and per-call timeouts. The part of AMI we use
(Login, Originate, CoreShowChannels, Command, Ping, events) is a few hundred
lines of blocking sockets, which any thread can call directly.

- ``wire``: the sans-I/O codec (``Message``, ``MessageReader``, ``encode_action``);
- ``login``: connect, banner and Login;
- ``pending``: ``PendingAction``, a sent action's handle;
- ``client``: ``AmiClient``, one connection per process (``get_ami()``) shared by
  all threads, with ActionID matching, timeouts and reconnects;
- ``channels``: live calls from a ``CoreShowChannels`` listing.
"""

from __future__ import annotations

import os
import threading

from app.config import get_settings
from app.pbx.ami.channels import call_id, calls_by_account
from app.pbx.ami.client import AmiClient
from app.pbx.ami.pending import PendingAction
from app.pbx.ami.wire import (
    BANNER_PREFIX,
    MAX_MESSAGE_BYTES,
    Message,
    MessageReader,
    encode_action,
    parse_message,
)

__all__ = [
    "BANNER_PREFIX", "MAX_MESSAGE_BYTES", "AmiClient", "Message", "MessageReader",
    "PendingAction", "call_id", "calls_by_account", "encode_action", "get_ami",
    "parse_message", "reset_ami",
]

# -- one client per process -------------------------------------------------------

_client = None
_client_pid = None
_client_lock = threading.Lock()


def get_ami() -> AmiClient:
    """The process's shared AMI client, built from settings on first use (fork-safe)."""
    global _client, _client_pid
    with _client_lock:
        if _client is None or _client_pid != os.getpid():
            s = get_settings()
            _client = AmiClient(s.ami_host, s.ami_port, s.ami_user, s.ami_secret,
                                timeout=s.ami_timeout, events="off")
            _client_pid = os.getpid()
        return _client


def reset_ami():
    """Close and forget the shared client and the pool's connections (tests; settings changed)."""
    global _client, _client_pid
    with _client_lock:
        client, _client, _client_pid = _client, None, None
    if client is not None:
        client.close()
    from app.pbx.registry import reset_registry  # the registry builds its clients from here

    reset_registry()