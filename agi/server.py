"""The asyncio FastAGI server: the only code of the daemon that touches sockets.

Each connection (``agi.connection``) feeds a ``RequestParser``; a complete
block whose call token checks out becomes an ``Event`` handed to the writer
thread. Only when the writer reports the event durable (committed or
journaled) does the server send its one command, ``SET VARIABLE
CALLCAST_AGI_STATUS STORED``, and close. Asterisk reads EOF, sets
``AGISTATUS=SUCCESS`` and the dialplan goes on; it reads the same EOF when the
daemon is killed mid-request, which is why the confirmation, not the close, is
what tells the dialplan the event is safe.

Connections are accepted by our own loop rather than ``create_server`` so that
at ``max_connections`` the daemon simply stops accepting and lets the kernel
backlog hold the next callers, instead of accepting and dropping them. Below
that, ``agi.admission`` decides at once: peers outside the allow-list and
peers at their own cap are closed without a read, so no peer can keep the
accept loop from the others.

The listen backlog is small on purpose (``AGI_BACKLOG``): a connection the
kernel completes while the daemon is stopped or frozen waits there with no
timeout on Asterisk's side, its channel pinned in ``AGI()``; one the kernel
refuses fails Asterisk's 2 s connect and takes the fallback at once.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

from agi.admission import Admission, RejectLog
from agi.connection import Connection
from agi.quarantine import RateGate, quarantined
from app.calltokens import CallTokens

log = logging.getLogger(__name__)

BACKLOG = 1024
REFUSALS_PER_TURN = 64  # a flood of refused peers must not keep the loop from the rest
_LINGER_RESET = struct.pack("ii", 1, 0)  # close with a RST: no TIME_WAIT left by a flood


class AgiServer:
    """Accepts FastAGI connections on ``bind:port`` and feeds the writer."""

    def __init__(self, writer, metrics, bind="127.0.0.1", port=4573, read_timeout=5.0,
                 max_connections=2000, backlog=BACKLOG, source="agi", *, call_token_secret,
                 allowed_peers=(), max_peer_connections=1000, idle_timeout=1.0):
        self.writer = writer
        self.source = source
        self.metrics = metrics
        self.bind = bind
        self.port = port
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.backlog = backlog
        self.tokens = CallTokens(call_token_secret)
        self.admission = Admission(allowed_peers, max_peer_connections, idle_timeout,
                                   read_timeout)
        self.reject_log = RejectLog(log)
        self.quarantine_gate = RateGate()
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

    # -- connection callbacks (loop) ----------------------------------------

    def refused(self, conn, reason, detail):
        """Count and log a connection closed without a confirmation."""
        self.metrics.reject(reason)
        self.reject_log.note(conn.host, reason, detail, self.loop.time())
        self.admission.done_reading(conn)

    def quarantine(self, event, reason, peer, env, token):
        """Keep a report that failed the token check (rate-limited; the rest are counted)."""
        if self.quarantine_gate.take(self.loop.time()):
            self.metrics.quarantined.inc()
            self.writer.quarantine(quarantined(event, reason, peer, env, token))
        else:
            self.metrics.quarantine_dropped.inc()

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
        # Deep enough for a burst while the loop is busy, shallow enough that
        # what it holds is served within Asterisk's 2 s connect window.
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
        refused = 0
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
                fd, addr = sock._accept()
                conn = socket.socket(self._family, socket.SOCK_STREAM, 0, fileno=fd)
            except BlockingIOError:
                self._parked = True
                try:
                    conn, addr = await loop.sock_accept(sock)
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
            proto = self._admit(conn, addr)
            if proto is not None:
                await self._connect(conn, proto)
            else:
                refused += 1
                if refused % REFUSALS_PER_TURN == 0:
                    await asyncio.sleep(0)

    async def _sweep(self):
        """Cut connections past their read deadline; log the counts of refused peers."""
        interval = min(max(self.admission.idle_timeout / 5, 0.02), 0.5)
        while True:
            await asyncio.sleep(interval)
            now = self.loop.time()
            for conn in self.admission.expired(now):
                conn.timed_out()
            self.reject_log.flush(now)

    def _admit(self, conn, addr):
        """A Connection for an accepted socket, or None when it was closed at once."""
        host, port = addr[0], addr[1]
        now = self.loop.time()
        admission = self.admission
        if not admission.allowed(host):
            return self._refuse(conn, host, "not_allowed", "peer not in AGI_ALLOWED_PEERS", now)
        room, evicted = admission.admit(host, now)
        if evicted is not None:
            evicted.evict()
        if not room:
            return self._refuse(conn, host, "peer_cap", "no connection of this peer to evict",
                                now)
        proto = Connection(self, host, port, now)
        admission.opened(proto)
        self._active.add(proto)
        self._idle.clear()
        return proto

    def _refuse(self, conn, host, reason, detail, now):
        self.metrics.reject(reason)
        self.reject_log.note(host, reason, detail, now)
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        except OSError:
            pass  # already reset by the peer
        conn.close()
        return None

    async def _connect(self, conn, proto):
        try:
            conn.setblocking(False)
            await self.loop.connect_accepted_socket(lambda: proto, conn)
        except OSError:
            # The caller reset before we set the socket up: nothing was received.
            self.released(proto)
            conn.close()
        except BaseException:
            self.released(proto)
            conn.close()
            raise

    def released(self, proto):
        """A connection is gone: free its slot."""
        if proto not in self._active:
            return
        self._active.discard(proto)
        self.admission.closed(proto)
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
                conn, addr = self.sock.accept()
            except OSError:
                break
            proto = self._admit(conn, addr)
            if proto is not None:
                self.loop.create_task(self._connect(conn, proto))
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

