"""A FastAGI client that behaves like Asterisk's ``AGI(agi://...)`` in our dialplan.

It writes the environment block in ``res_agi.c`` order one line per write (so
it reaches the server in pieces, as ``ast_agi_send`` does), answers
``200 result=1`` to any command line the server sends, and waits for the
server to close. It reports whether the server set ``CALLCAST_AGI_STATUS`` to
``STORED`` first: that, not the close, is what the dialplan trusts. Like the
generated ``[callcast-report]``, it sends the event's argument and the call's
token (``CC_TOKEN``, signed with this process's ``CALL_TOKEN_SECRET`` unless
``token`` says otherwise) as ``agi_arg_1`` and ``agi_arg_2``. Used by the load
benchmark, the fuzzer and the tests.
"""

from __future__ import annotations

import asyncio
import functools
import re
import socket

from agi.protocol import CONFIRM_COMMAND, asterisk_block
from app.calltokens import CallTokens
from app.config import get_settings

REPLY = b"200 result=1\n"
SIGN = object()  # token=SIGN: the token of the script's attempt, as the Originate set it
_IDS_RE = re.compile(r"([0-9]+)/([0-9]+)/([0-9]+)/")


@functools.lru_cache(maxsize=4)
def _tokens(secret):
    return CallTokens(secret)


def signed_token(script, secret=None):
    """The call token of the attempt ``script`` names (``c/k/a/event``), "" if none is named."""
    if secret is None:
        secret = get_settings().call_token_secret
    m = _IDS_RE.match(script or "")
    return _tokens(secret).token(*m.groups()) if m else ""


def report_args(script, args=(), token=SIGN, secret=None):
    """The AGI arguments the dialplan sends: (<arg>, <token>, extras); token=None: as given."""
    if token is None:
        return tuple(args)
    if token is SIGN:
        token = signed_token(script, secret)
    args = tuple(args)
    return (args[0] if args else "", token, *args[1:])


class AgiCallError(ConnectionError):
    """The server reset or dropped the connection instead of closing it normally."""


class _Call(asyncio.Protocol):
    __slots__ = ("lines", "done", "transport", "pending", "confirmed")

    def __init__(self, lines, done):
        self.lines = lines
        self.done = done
        self.transport = None
        self.pending = b""
        self.confirmed = False

    def connection_made(self, transport):
        self.transport = transport
        # Asterisk leaves Nagle on (ast_socket_nonblock sets no TCP_NODELAY):
        # its line-by-line writes reach the server in a few coalesced pieces.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        for line in self.lines:
            transport.write(line)

    def data_received(self, data):
        self.pending += data
        while b"\n" in self.pending:
            line, _, self.pending = self.pending.partition(b"\n")
            if line + b"\n" == CONFIRM_COMMAND:
                self.confirmed = True
            self.transport.write(REPLY)

    def eof_received(self):
        return False

    def connection_lost(self, exc):
        if not self.done.done():
            if exc is None or self.confirmed:
                # Our reply to the confirmation may meet the server's closed
                # socket and come back as a reset: the event was confirmed.
                self.done.set_result(self.confirmed)
            else:
                self.done.set_exception(AgiCallError(str(exc)))


async def agi_call(host, port, script, args=(), *, token=SIGN, uniqueid="1700000000.1",
                   channel="Local/100@pstn-00000001;2", timeout=10.0, lines=None,
                   local_addr=None):
    """Run one FastAGI request against ``host:port``; return when the server closed.

    ``args`` are the report's own (the dialplan's ``<arg>``); ``token`` is
    ``SIGN`` (the attempt's real token), a string (a forged one), or None (send
    ``args`` exactly as given). ``lines`` replaces the whole block.

    Returns True when the server confirmed the event (``CALLCAST_AGI_STATUS``
    set to ``STORED``), False when it closed without confirming.

    Raises:
        OSError: the connection was refused or reset (``AgiCallError``).
        asyncio.TimeoutError: the server kept the connection open past ``timeout``.
    """
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    if lines is None:
        lines = asterisk_block(script, report_args(script, args, token), channel=channel,
                               uniqueid=uniqueid, host=f"{host}:{port}")
    transport, _ = await loop.create_connection(lambda: _Call(lines, done), host, port,
                                                local_addr=local_addr)
    try:
        return await asyncio.wait_for(done, timeout)
    finally:
        transport.abort()
