"""A FastAGI client that behaves like Asterisk's ``AGI(agi://...)``.

It writes the environment block in ``res_agi.c`` order one line per write (so
it reaches the server in pieces, as ``ast_agi_send`` does), answers
``200 result=1`` to any command line the server sends, and waits for the
server to close. It reports whether the server set ``CALLCAST_AGI_STATUS`` to
``STORED`` first: that, not the close, is what the dialplan trusts. Used by the
load benchmark and the tests.
"""

from __future__ import annotations

import asyncio
import socket

from agi.protocol import CONFIRM_COMMAND, asterisk_block

REPLY = b"200 result=1\n"


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


async def agi_call(host, port, script, args=(), *, uniqueid="1700000000.1",
                   channel="Local/100@pstn-00000001;2", timeout=10.0, lines=None):
    """Run one FastAGI request against ``host:port``; return when the server closed.

    Returns True when the server confirmed the event (``CALLCAST_AGI_STATUS``
    set to ``STORED``), False when it closed without confirming.

    Raises:
        OSError: the connection was refused or reset (``AgiCallError``).
        asyncio.TimeoutError: the server kept the connection open past ``timeout``.
    """
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    if lines is None:
        lines = asterisk_block(script, args, channel=channel, uniqueid=uniqueid,
                               host=f"{host}:{port}")
    transport, _ = await loop.create_connection(lambda: _Call(lines, done), host, port)
    try:
        return await asyncio.wait_for(done, timeout)
    finally:
        transport.abort()
