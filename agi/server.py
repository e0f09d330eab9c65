"""The asyncio FastAGI server: the only code of the daemon that touches sockets.

Each connection feeds a ``RequestParser``; a complete block becomes an
``Event`` handed to the writer thread. Only when the writer reports the event
durable (committed or journaled) does the server send its one command,
``SET VARIABLE CALLCAST_AGI_STATUS STORED``, and close. Asterisk reads EOF,
sets ``AGISTATUS=SUCCESS`` and the dialplan goes on; it reads the same EOF when
the daemon is killed mid-request, which is why the confirmation, not the
close, is what tells the dialplan the event is safe.

Connections are accepted by our own loop rather than ``create_server`` so that
at ``max_connections`` the daemon simply stops accepting and lets the kernel
backlog hold the next callers, instead of accepting and dropping them (a
dropped FastAGI connection still reads as SUCCESS to Asterisk: the event
would be gone).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import datetime, timezone

from agi.errors import AgiProtocolError
from agi.protocol import CONFIRM_COMMAND, RequestParser, event_from_request
from agi.writer import LOST

log = logging.getLogger(__name__)

BACKLOG = 4096


class _Connection(asyncio.Protocol):
    __slots__ = ("server", "transport", "parser", "event", "deadline", "peer", "state")

    def __init__(self, server):
        self.server = server
        self.transport = None
        self.parser = RequestParser()
        self.event = None
        self.deadline = float("inf")  # set once the transport exists
        self.peer = None
        self.state = "reading"  # reading -> writing -> closed

    def connection_made(self, transport):
        self.transport = transport
        # Checked by the server's sweep rather than a timer per connection.
        self.deadline = self.server.loop.time() + self.server.read_timeout

    def data_received(self, data):
        if self.state != "reading":
            return  # an unprompted HANGUP after the block, or junk: not our business
        try:
            request = self.parser.feed(data)
            if request is None:
                return
            event = event_from_request(request, received_at=datetime.now(timezone.utc),
                                       source=self.server.source)
        except AgiProtocolError as exc:
            self._reject(exc.reason, exc.detail)
            return
        self.state = "writing"
        self.event = event
        self.server.writer.submit(event, self)

    def eof_received(self):
        return False  # close our side too; a half-written block counts as truncated

    def durable(self, stored):
        """Called on the loop once the writer has stored (or failed to store) the event."""
        server = self.server
        if stored == LOST:
            server.metrics.lost.inc()
            e = self.event
            self._log().critical(
                "event not stored (database and journal both failed) campaign=%s contact=%s "
                "attempt=%s event=%s; left unconfirmed for the dialplan's fallback",
                e.campaign_id, e.contact_id, e.attempt, e.name)
            # No confirmation: the dialplan sees no STORED and takes its fallback.
            self.state = "closed"
            self.transport.close()
            return
        server.metrics.event(self.event.name, stored)
        if self.transport.is_closing():
            self.state = "closed"
            return
        # Send the confirmation and close at once: Asterisk reads the command
        # before it sees our FIN, runs it, and its "200 result=1" reply only
        # meets a closed socket (a RST it reads as a normal end of script).
        # Waiting for that reply would cost a wake-up per request for nothing.
        self.state = "closed"
        self.transport.write(CONFIRM_COMMAND)
        self.transport.close()

    def _reject(self, reason, detail=""):
        self.state = "closed"
        self.server.metrics.reject(reason)
        self._log().warning("rejected peer=%s reason=%s %s", self._peer(), reason, detail)
        self.transport.abort()

    def _log(self):
        """A logger carrying this connection's ids (uniqueid, campaign, peer)."""
        env = self.parser.env
        event = self.event
        return logging.LoggerAdapter(log, {
            "peer": self._peer(),
            "uniqueid": event.uniqueid if event else env.get("agi_uniqueid"),
            "campaign_id": event.campaign_id if event else None,
        })

    def _timed_out(self):
        if self.state == "reading":
            reason = "read_timeout" if self.parser.started else "idle_timeout"
            self._reject(reason, f"no complete block within {self.server.read_timeout}s")

    def _peer(self):
        if self.peer is None and self.transport is not None:
            peer = self.transport.get_extra_info("peername")
            self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        return self.peer

    def connection_lost(self, exc):
        server = self.server
        if self.state == "reading":
            # The peer left before the blank line: nothing to record.
            self.state = "closed"
            reason = "truncated" if self.parser.started else "empty"
            server.metrics.reject(reason)
            self._log().info("peer=%s closed before a complete block (%s)", self._peer(), reason)
        server._released(self)


class AgiServer:
    """Accepts FastAGI connections on ``bind:port`` and feeds the writer."""

    def __init__(self, writer, metrics, bind="127.0.0.1", port=4573, read_timeout=5.0,
                 max_connections=2000, backlog=BACKLOG, source="agi"):
        self.writer = writer
        self.source = source
        self.metrics = metrics
        self.bind = bind
        self.port = port
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.backlog = backlog
        self.loop = None
        self.sock = None
        self._active = set()
        self._slot_free = None
        self._idle = None
        self._accept_task = None
        self._sweep_task = None
        self._parked = False
        self._closing = False

    # -- writer callback (writer thread) -----------------------------------

    def notify(self, waiters, stored):
        self.loop.call_soon_threadsafe(_settle, waiters, stored)

    # -- lifecycle ---------------------------------------------------------

    async def start(self):
        """Bind and listen; return the bound port."""
        self.loop = asyncio.get_running_loop()
        self._slot_free = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        self._family = family
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.bind, self.port))
        # Asterisk gives up on a connection not accepted within 2 s: a deep
        # backlog absorbs bursts while the loop is busy.
        sock.listen(self.backlog)
        sock.setblocking(False)
        self.sock = sock
        self.port = sock.getsockname()[1]
        self._accept_task = self.loop.create_task(self._accept_loop())
        self._sweep_task = self.loop.create_task(self._sweep())
        log.info("FastAGI listening on %s:%s", self.bind, self.port)
        return self.port

    async def _accept_loop(self):
        loop, sock = self.loop, self.sock
        active = self._active
        while not self._closing:
            if len(active) >= self.max_connections:
                self._slot_free.clear()
                self._parked = True
                try:
                    await self._slot_free.wait()
                except asyncio.CancelledError:
                    return
                finally:
                    self._parked = False
                continue
            try:
                fd, _addr = sock._accept()
                conn = socket.socket(self._family, socket.SOCK_STREAM, 0, fileno=fd)
            except BlockingIOError:
                self._parked = True
                try:
                    conn, _addr = await loop.sock_accept(sock)
                except asyncio.CancelledError:
                    return
                except OSError:
                    if self._closing:
                        return
                    log.exception("accept failed")
                    continue
                finally:
                    self._parked = False
            except OSError:
                # EMFILE and friends: back off a little instead of spinning.
                log.exception("accept failed")
                await asyncio.sleep(0.05)
                continue
            await self._connect(conn, self._adopt())

    async def _sweep(self):
        """Cut connections that did not deliver a block within the read timeout."""
        interval = min(max(self.read_timeout / 5, 0.02), 0.5)
        while True:
            await asyncio.sleep(interval)
            now = self.loop.time()
            for conn in [c for c in self._active if c.state == "reading" and c.deadline <= now]:
                conn._timed_out()

    def _adopt(self):
        proto = _Connection(self)
        self._active.add(proto)
        self._idle.clear()
        return proto

    async def _connect(self, conn, proto):
        try:
            conn.setblocking(False)
            await self.loop.connect_accepted_socket(lambda: proto, conn)
        except OSError:
            # The caller reset before we set the socket up: nothing was received.
            self._released(proto)
            conn.close()
        except BaseException:
            self._released(proto)
            conn.close()
            raise

    def _released(self, proto):
        self._active.discard(proto)
        if not self._slot_free.is_set():
            self._slot_free.set()
        if not self._active:
            self._idle.set()

    @property
    def active(self):
        return len(self._active)

    async def stop_accepting(self):
        """Accept what is already queued in the kernel backlog, then close the listener."""
        self._closing = True
        if self._accept_task is not None:
            # Cancel only a loop parked on accept or on a free slot: cancelled
            # inside _connect it would abandon a socket halfway to a connection.
            # Busy, it sees _closing at its next turn.
            if self._parked:
                self._accept_task.cancel()
            try:
                await self._accept_task
            except asyncio.CancelledError:
                pass
        # A connection already queued has had its AGI block written by Asterisk;
        # closing the listener over it would reset it after Asterisk thought it
        # was connected. Take them all first.
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                break
            self.loop.create_task(self._connect(conn, self._adopt()))
        self.sock.close()

    async def drain(self, timeout):
        """Wait until every open connection is finished; True if they all were."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            log.warning("%d connections still open at shutdown", len(self._active))
            return False
        finally:
            if self._sweep_task is not None:
                self._sweep_task.cancel()


def _settle(waiters, stored):
    for waiter in waiters:
        try:
            waiter.durable(stored)
        except Exception:
            log.exception("releasing a connection failed")

