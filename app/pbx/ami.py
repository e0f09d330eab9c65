"""A small, thread-safe Asterisk Manager Interface (AMI) client.

Why our own and not panoramisk: panoramisk is asyncio-only, so every Dramatiq
worker thread and every Flask request would have to hop onto an event loop
thread to use it, and its reconnect and ActionID handling would still need a
wrapper of ours for typed errors and per-call timeouts. The part of AMI we use
(Login, Originate, CoreShowChannels, Command, Ping, events) is a few hundred
lines of blocking sockets, which any thread can call directly.

Model: one TCP connection per process (``get_ami()``), shared by all threads.
A supervisor thread owns the socket: it connects, logs in, reads every message
and routes it — responses and list events to the waiting caller by
``ActionID``, other events to listeners. When the connection drops, waiting
callers fail at once with ``AmiConnectionError`` and the supervisor reconnects
with exponential backoff; a caller that needs the connection asks for a fresh
attempt instead of waiting for the backoff to run out.

Wire format (Asterisk ``main/manager.c``): a banner line
``Asterisk Call Manager/<version>\\r\\n``, then messages of ``Key: Value\\r\\n``
lines ending with a blank line. Keys may repeat (``Variable``, ``Output``).
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time

from app.pbx.errors import (
    AmiActionError,
    AmiAuthError,
    AmiConnectionError,
    AmiTimeoutError,
    PbxError,
)

log = logging.getLogger(__name__)

BANNER_PREFIX = "Asterisk Call Manager/"
MAX_MESSAGE_BYTES = 16 << 20  # a CoreShowChannel event is ~600 bytes; PbxsimStats can be MBs
_FORBIDDEN = ("\r", "\n")


class Message:
    """One AMI message: ordered ``(key, value)`` pairs, keys looked up case-insensitively."""

    __slots__ = ("items", "events")

    def __init__(self, items, events=None):
        self.items = items
        self.events = events  # list actions: the events that came with the response

    def get(self, key, default=None):
        """First value of ``key``: an exact-case match wins, else any case.

        Exact first because a UserEvent body may carry ``event: ...`` next to the
        ``Event: UserEvent`` header.
        """
        for k, v in self.items:
            if k == key:
                return v
        lowered = key.lower()
        for k, v in self.items:
            if k.lower() == lowered:
                return v
        return default

    def getall(self, key):
        lowered = key.lower()
        return [v for k, v in self.items if k.lower() == lowered]

    def __getitem__(self, key):
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key):
        return self.get(key) is not None

    def as_dict(self):
        """First value of each key (later repeats are dropped)."""
        out = {}
        for k, v in self.items:
            out.setdefault(k, v)
        return out

    @property
    def event(self):
        return self.get("Event")

    @property
    def response(self):
        return self.get("Response")

    def __repr__(self):
        return f"Message({self.items!r})"


def parse_message(block: str) -> Message:
    """Parse one message body (lines without the final blank line)."""
    items = []
    for line in block.split("\r\n"):
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            # Asterisk never sends this; keep it visible instead of dropping it
            items.append(("", line))
            continue
        items.append((key.strip(), value[1:] if value.startswith(" ") else value))
    return Message(items)


def encode_action(action: str, fields, action_id: str | None = None) -> bytes:
    """Serialize an action; ``fields`` is a mapping or (key, value) pairs; list values repeat the key.

    Raises:
        AmiActionError: a key or value contains a line break (header injection).
    """
    pairs = [("Action", action)]
    if action_id is not None:
        pairs.append(("ActionID", action_id))
    items = fields.items() if hasattr(fields, "items") else (fields or ())
    for key, value in items:
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else (value,)
        for v in values:
            pairs.append((key, str(v)))
    out = []
    for key, value in pairs:
        if any(c in key or c in value for c in _FORBIDDEN) or ":" in key:
            raise AmiActionError(action, f"header {key!r} contains a line break or colon")
        out.append(f"{key}: {value}\r\n")
    out.append("\r\n")
    return "".join(out).encode("utf-8")


class MessageReader:
    """Sans-I/O splitter: bytes in, ``Message`` objects out (the banner is handled by the caller)."""

    def __init__(self):
        self._buf = b""

    def feed(self, data: bytes):
        self._buf += data
        if len(self._buf) > MAX_MESSAGE_BYTES and b"\r\n\r\n" not in self._buf:
            raise AmiConnectionError("AMI message larger than 16 MiB; stream is corrupt")
        messages = []
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                break
            block, self._buf = self._buf[:end], self._buf[end + 4:]
            if block.strip():
                messages.append(parse_message(block.decode("utf-8", "replace")))
        return messages


class PendingAction:
    """A sent action waiting for its response (and, for list actions, its events)."""

    __slots__ = ("action", "action_id", "response", "events", "error", "_done", "_event",
                 "_callbacks", "_client")

    def __init__(self, client, action, action_id):
        self._client = client
        self.action, self.action_id = action, action_id
        self.response = None
        self.events = None
        self.error = None
        self._done = False
        self._event = None  # made only when someone waits: most results are ready first
        self._callbacks = None

    def _finish(self, response=None, error=None):
        with self._client._lock:
            if self._done:
                return
            self.response, self.error = response, error
            self._done = True
            event, callbacks = self._event, self._callbacks
        if event is not None:
            event.set()
        for cb in callbacks or ():
            try:
                cb(self)
            except Exception:
                log.exception("AMI callback failed action=%s id=%s", self.action, self.action_id)

    def add_done_callback(self, cb):
        """Call ``cb(self)`` when done (at once if already done); runs on the reader thread."""
        with self._client._lock:
            if not self._done:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(cb)
                return
        cb(self)

    def done(self):
        return self._done

    def result(self, timeout=None):
        """The response ``Message`` (list actions: with ``.events`` filled).

        Raises:
            AmiTimeoutError: nothing within ``timeout`` seconds (the action is forgotten).
            AmiActionError: Asterisk answered ``Response: Error``.
            AmiConnectionError: the connection dropped before the answer.
        """
        if timeout is None:
            timeout = self._client.timeout
        if not self._done:
            with self._client._lock:
                if not self._done and self._event is None:
                    self._event = threading.Event()
                event = self._event
            if event is not None and not event.wait(timeout):
                self._client._forget(self.action_id)
                raise AmiTimeoutError(
                    f"AMI {self.action} (ActionID {self.action_id}) got no response in "
                    f"{timeout:.3g}s"
                )
        if self.error is not None:
            raise self.error
        return self.response


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
        fields = [
            ("Channel", channel),
            ("Context", context),
            ("Exten", exten),
            ("Priority", str(priority)),
            ("Async", "true"),
        ]
        if ring_timeout_s is not None:
            fields.append(("Timeout", str(int(ring_timeout_s * 1000))))
        if caller_id:
            fields.append(("CallerID", caller_id))
        if account:
            fields.append(("Account", account))
        if channel_id:
            fields.append(("ChannelId", channel_id))
        for key, value in (variables or {}).items():
            # manager.c splits each Variable header on ',' and the first '='
            if "," in str(value) or "=" in str(key):
                raise AmiActionError("Originate", f"variable {key!r} value {value!r} contains ','")
            fields.append(("Variable", f"{key}={value}"))
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
        """Live calls per ``AccountCode``: both halves of a Local channel are one call.

        Asterisk names the second half's Uniqueid ``<ChannelId>;2``
        (``main/core_unreal.c``), so the Uniqueid up to ';' identifies the call.
        """
        calls = {}
        for ev in self.core_show_channels(timeout):
            code = ev.get("AccountCode", "")
            calls.setdefault(code, set()).add(ev.get("Uniqueid", "").split(";")[0])
        return {code: len(ids) for code, ids in calls.items()}

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
                sock, leftover = self._open_and_login()
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

    def _open_and_login(self):
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise AmiConnectionError(
                f"cannot connect to AMI at {self.host}:{self.port}: {exc}"
            ) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = b""
            while b"\r\n" not in buf:
                chunk = sock.recv(4096)
                if not chunk:
                    raise AmiConnectionError(f"AMI at {self.host}:{self.port} closed before banner")
                buf += chunk
                if len(buf) > 4096:
                    raise AmiConnectionError("no AMI banner in the first 4 KiB")
            banner, _, rest = buf.partition(b"\r\n")
            if not banner.decode("latin-1").startswith(BANNER_PREFIX):
                raise AmiConnectionError(f"not an AMI server: banner {banner[:80]!r}")
            login_id = f"{self._id_prefix}-login"
            fields = [("Username", self.username), ("Secret", self.secret)]
            if self.events is not None:
                fields.append(("Events", self.events))
            sock.sendall(encode_action("Login", fields, login_id))
            reader = MessageReader()
            # Asterisk sleeps 1 s before "Authentication failed": allow for it
            sock.settimeout(self.connect_timeout + 1.5)
            messages = reader.feed(rest)
            while True:
                for i, msg in enumerate(messages):
                    if msg.get("ActionID") == login_id and msg.response:
                        if msg.response != "Success":
                            raise AmiAuthError(
                                f"AMI login as {self.username!r} refused: "
                                f"{msg.get('Message', msg.response)}"
                            )
                        sock.settimeout(None)
                        return sock, messages[i + 1:]
                chunk = sock.recv(65536)
                if not chunk:
                    raise AmiConnectionError(f"AMI at {self.host}:{self.port} closed during login")
                messages = reader.feed(chunk)
        except socket.timeout as exc:
            sock.close()
            raise AmiConnectionError(f"AMI login at {self.host}:{self.port} timed out") from exc
        except OSError as exc:
            sock.close()
            raise AmiConnectionError(f"AMI login at {self.host}:{self.port} failed: {exc}") from exc
        except PbxError:
            sock.close()
            raise

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


# -- one client per process -------------------------------------------------------

_client = None
_client_pid = None
_client_lock = threading.Lock()


def get_ami() -> AmiClient:
    """The process's shared AMI client, built from settings on first use (fork-safe)."""
    global _client, _client_pid
    with _client_lock:
        if _client is None or _client_pid != os.getpid():
            from app.config import get_settings

            s = get_settings()
            _client = AmiClient(s.ami_host, s.ami_port, s.ami_user, s.ami_secret,
                                timeout=s.ami_timeout, events="off")
            _client_pid = os.getpid()
        return _client


def reset_ami():
    """Close and forget the shared client (tests; settings changed)."""
    global _client, _client_pid
    with _client_lock:
        client, _client, _client_pid = _client, None, None
    if client is not None:
        client.close()
