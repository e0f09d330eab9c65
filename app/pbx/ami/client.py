"""The AMI client: one TCP connection shared by every thread of a process.

A supervisor thread owns the socket: it connects, logs in, reads every message
and routes it — responses and list events to the waiting caller by
``ActionID``, other events to listeners. When the connection drops, waiting
callers fail at once with ``AmiConnectionError`` and the supervisor reconnects
with exponential backoff; a caller that needs the connection asks for a fresh
attempt instead of waiting for the backoff to run out.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time

from app.pbx.ami.channels import calls_by_account
from app.pbx.ami.login import open_and_login
from app.pbx.ami.pending import PendingAction
from app.pbx.ami.wire import Message, MessageReader, encode_action, originate_fields
from app.pbx.errors import AmiActionError, AmiConnectionError, PbxError

log = logging.getLogger(__name__)


class AmiClient:
    """Thread-safe AMI connection with ActionID matching, timeouts and reconnects.

    ``events`` is the Login ``Events`` value: ``"off"`` for a process that only
    sends actions, ``"call,user"`` for one that listens to OriginateResponse and
    UserEvent.
    """

    def __init__(self, host, port, username, secret, *, timeout=5.0, events="off",
                 connect_timeout=None, backoff_min=0.1, backoff_max=5.0, name="ami"):
        self.host, self.port = host, int(port)
        self.username, self.secret = username, secret
        self.timeout = float(timeout)
        self.events = events
        self.connect_timeout = float(connect_timeout or timeout)
        self.backoff_min, self.backoff_max = backoff_min, backoff_max
        self.name = name
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._outbox = []  # encoded actions waiting for the thread that is sending
        self._flushing = False
        self._sock = None
        self._up = False
        self._connecting = False
        self._closing = False
        self._attempts = 0  # finished connection attempts
        self._last_error = None
        self._last_attempt_end = 0.0
        self._pending = {}
        self._listeners = []
        self._thread = None
        self._wake = threading.Event()
        self._ids = itertools.count(1)
        self._id_prefix = f"{name}-{os.getpid()}-{id(self) & 0xFFFFFF:x}"
        self.connections = 0  # successful logins, for tests and metrics

    # -- lifecycle -------------------------------------------------------------

    def connect(self, timeout=None):
        """Connect and log in now (optional: every action connects on demand).

        Raises:
            AmiConnectionError, AmiAuthError, AmiTimeoutError
        """
        self._ensure_up(time.monotonic() + (timeout or self.connect_timeout))
        return self

    def close(self):
        """Log off, stop the supervisor thread and fail whatever is still waiting."""
        with self._lock:
            self._closing = True
            sock = self._sock
        self._wake.set()
        if sock is not None:
            try:
                self._write(sock, encode_action("Logoff", (), f"{self._id_prefix}-bye"))
            except AmiConnectionError:
                pass
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.timeout + 1)
        self._fail_pending(AmiConnectionError("AMI client closed"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def connected(self):
        return self._up

    def add_listener(self, fn):
        """Call ``fn(message)`` for every event that is not part of an action's list.

        Listeners run on the reader thread: keep them short (put into a queue).
        """
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn):
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    # -- actions ---------------------------------------------------------------

    def send(self, action, fields=(), *, timeout=None) -> PendingAction:
        """Send an action without waiting for its answer; ``.result()`` waits.

        Raises:
            AmiConnectionError, AmiAuthError: not connected and cannot connect.
        """
        timeout = self.timeout if timeout is None else timeout
        action_id = f"{self._id_prefix}-{next(self._ids)}"
        data = encode_action(action, fields, action_id)
        pending = PendingAction(self, action, action_id)
        self._ensure_up(time.monotonic() + timeout)
        with self._lock:
            sock = self._sock
            if sock is None or not self._up:
                raise AmiConnectionError(f"AMI connection to {self.host}:{self.port} dropped")
            self._pending[action_id] = pending
        try:
            self._write(sock, data)
        except AmiConnectionError:
            self._forget(action_id)
            raise
        return pending

    def _write(self, sock, data):
        """Queue ``data`` and, unless another thread is already sending, send the queue.

        Threads that arrive while one is inside ``sendall`` leave their bytes
        for it: under load many actions go out in one segment.

        Raises:
            AmiConnectionError: the send failed (the socket is shut down so the
            reader fails every waiting action).
        """
        with self._lock:
            self._outbox.append(data)
            if self._flushing:
                return
            self._flushing = True
        while True:
            with self._lock:
                if not self._outbox:
                    self._flushing = False
                    return
                chunk = b"".join(self._outbox)
                self._outbox.clear()
            try:
                sock.sendall(chunk)
            except OSError as exc:
                with self._lock:
                    self._flushing = False
                    self._outbox.clear()
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                raise AmiConnectionError(
                    f"AMI send to {self.host}:{self.port} failed: {exc}") from exc

    def action(self, action, fields=(), *, timeout=None) -> Message:
        """Send an action and wait for its response (list actions: its events too).

        Raises:
            AmiConnectionError, AmiAuthError, AmiTimeoutError, AmiActionError
        """
        timeout = self.timeout if timeout is None else timeout
        start = time.monotonic()
        pending = self.send(action, fields, timeout=timeout)
        return pending.result(max(0.001, timeout - (time.monotonic() - start)))

    def ping(self, timeout=None) -> Message:
        return self.action("Ping", timeout=timeout)

    def originate(self, channel, *, context, exten="s", priority=1, account=None,
                  channel_id=None, variables=None, caller_id=None, ring_timeout_s=None,
                  wait=True, timeout=None):
        """Originate asynchronously (``Async: true``): Asterisk answers at once and
        reports the outcome later in ``Event: OriginateResponse`` with our ActionID.

        Returns the response ``Message`` (``wait=False``: the ``PendingAction``).

        Raises:
            AmiActionError: e.g. "Extension does not exist." (the dialplan is not loaded).
        """
        fields = originate_fields(channel, context, exten, priority, account, channel_id,
                                  variables, caller_id, ring_timeout_s)
        pending = self.send("Originate", fields, timeout=timeout)
        return pending.result(timeout) if wait else pending

    def core_show_channels(self, timeout=None) -> list[Message]:
        """Every live channel (one ``CoreShowChannel`` event each)."""
        return self.action("CoreShowChannels", timeout=timeout).events or []

    def count_channels_by_account(self, timeout=None) -> dict[str, int]:
        """Live channels per ``AccountCode`` (a Local call counts twice: ;1 and ;2)."""
        counts = {}
        for ev in self.core_show_channels(timeout):
            code = ev.get("AccountCode", "")
            counts[code] = counts.get(code, 0) + 1
        return counts

    def count_calls_by_account(self, timeout=None) -> dict[str, int]:
        """Live calls per ``AccountCode``: both halves of a Local channel are one call."""
        calls = calls_by_account(self.core_show_channels(timeout))
        return {code: len(per_call) for code, per_call in calls.items()}

    def command(self, command, timeout=None) -> list[str]:
        """Run a CLI command (e.g. ``dialplan reload``); returns its ``Output`` lines.

        Raises:
            AmiActionError: Asterisk answered Error (unknown or failed command).
        """
        msg = self.action("Command", {"Command": command}, timeout=timeout)
        return msg.getall("Output")

    # -- connection management ---------------------------------------------------

    def _ensure_up(self, deadline):
        with self._cond:
            if self._up:
                return
            if self._closing:
                raise AmiConnectionError("AMI client is closed")
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=f"{self.name}-reader", daemon=True
                )
                self._thread.start()
            attempts = self._attempts
            if not self._connecting:
                self._wake.set()  # skip the backoff: a caller is waiting now
            while not self._up and not self._closing:
                if self._attempts > attempts and not self._connecting:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._up:
                return
            error = self._last_error
        if error is not None and self._attempts > attempts:
            raise type(error)(str(error))
        raise AmiConnectionError(
            f"AMI at {self.host}:{self.port} not connected in time"
            + (f" (last error: {error})" if error else "")
        )

    def _run(self):
        backoff = self.backoff_min
        while True:
            with self._cond:
                if self._closing:
                    self._up = False
                    self._cond.notify_all()
                    return
                self._connecting = True
            self._wake.clear()
            try:
                sock, leftover = open_and_login(
                    self.host, self.port, self.username, self.secret, self.events,
                    self.connect_timeout, f"{self._id_prefix}-login")
            except PbxError as exc:
                with self._cond:
                    self._connecting = False
                    self._last_error = exc
                    self._attempts += 1
                    self._last_attempt_end = time.monotonic()
                    self._cond.notify_all()
                log.warning("AMI connect failed host=%s port=%s error=%s retry_in=%.1fs",
                            self.host, self.port, exc, backoff)
                self._wake.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max)
                continue
            with self._cond:
                self._sock, self._up, self._connecting = sock, True, False
                self._last_error = None
                self._attempts += 1
                self.connections += 1
                self._cond.notify_all()
            log.info("AMI connected host=%s port=%s user=%s", self.host, self.port, self.username)
            backoff = self.backoff_min
            error = self._read_loop(sock, leftover)
            with self._cond:
                self._up, self._sock = False, None
                self._last_error = error
                self._outbox.clear()  # bytes for the dead connection; their actions fail below
                self._flushing = False
                self._cond.notify_all()
            try:
                sock.close()
            except OSError:
                pass
            self._fail_pending(error)
            if not self._closing:
                log.warning("AMI connection lost host=%s port=%s error=%s",
                            self.host, self.port, error)

    def _read_loop(self, sock, leftover):
        reader = MessageReader()
        for msg in leftover:
            self._dispatch(msg)
        while True:
            try:
                chunk = sock.recv(262144)
            except OSError as exc:
                return AmiConnectionError(f"AMI connection to {self.host}:{self.port} lost: {exc}")
            if not chunk:
                return AmiConnectionError(f"AMI connection to {self.host}:{self.port} closed by peer")
            try:
                messages = reader.feed(chunk)
            except AmiConnectionError as exc:
                return exc
            for msg in messages:
                self._dispatch(msg)

    def _dispatch(self, msg):
        action_id = msg.get("ActionID")
        pending = None
        if action_id is not None:
            with self._lock:
                pending = self._pending.get(action_id)
        if pending is not None:
            if msg.response is not None and pending.response is None and pending.events is None:
                if msg.response == "Error":
                    self._forget(action_id)
                    pending._finish(error=AmiActionError(
                        pending.action, msg.get("Message", "Error"), msg))
                elif (msg.get("EventList") or "").lower() == "start":
                    pending.events = []
                    pending.response = msg  # keep waiting for the list
                else:
                    self._forget(action_id)
                    pending._finish(response=msg)
                return
            if msg.event is not None and pending.events is not None:
                if (msg.get("EventList") or "").lower() in ("complete", "cancelled"):
                    self._forget(action_id)
                    response = pending.response
                    response.events = pending.events
                    pending.response = None  # let _finish set it
                    pending._finish(response=response)
                else:
                    pending.events.append(msg)
                return
        if msg.event is not None:
            with self._lock:
                listeners = list(self._listeners)
            for fn in listeners:
                try:
                    fn(msg)
                except Exception:
                    log.exception("AMI event listener failed event=%s", msg.event)

    def _forget(self, action_id):
        with self._lock:
            self._pending.pop(action_id, None)

    def _fail_pending(self, error):
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        for p in pending:
            p._finish(error=type(error)(str(error)))

