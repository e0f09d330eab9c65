"""Sans-I/O FastAGI request parsing: bytes in, an ``AgiRequest`` and an ``Event`` out.

Asterisk (``res_agi.c``: ``launch_netscript`` then ``setup_env``) opens the TCP
connection and writes ``agi_network: yes``, ``agi_network_script: <path>`` and
then the ``agi_*: value`` environment, one ``\\n``-terminated line per
``ast_agi_send`` call, ``agi_arg_N`` lines last, and a blank line. If the channel
hangs up while the script runs it also writes an unprompted ``HANGUP`` line.

Nothing here touches a socket or a clock: ``RequestParser.feed`` takes whatever
bytes arrived and says "need more", returns the request, or raises
``AgiProtocolError`` with a fixed ``reason`` token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from agi.errors import AgiProtocolError
from app.amd import AMD_PREFIX, CAUSE_MAX
from app.events import (
    CONFIRM_VALUE,
    CONFIRM_VARIABLE,
    EVENT_NAMES,
    FAILED_PREFIX,
    HANGUP,
    INVALID,
)

# Limits. Asterisk's own lines are short (the longest is agi_request with the
# URL); a generous bound per line and per block still stops a peer from making
# the daemon buffer megabytes.
MAX_LINE_BYTES = 4096
MAX_LINES = 128
MAX_BLOCK_BYTES = 32 * 1024

# The vocabulary is app.events' (shared with the dialplan generator and the fold).
EVENTS = EVENT_NAMES

# The one command the daemon sends, once the event is durable. Asterisk runs it
# (allowed on dead channels too) and answers "200 result=1". A daemon killed
# before this point still looks to Asterisk like a normal end of script
# (AGISTATUS=SUCCESS, for a FIN and a RST alike), so the dialplan must treat
# "variable not STORED" as "not recorded" and take its fallback path.
CONFIRM_COMMAND = f"SET VARIABLE {CONFIRM_VARIABLE} {CONFIRM_VALUE}\n".encode()

# Column widths of call_event; longer values are cut, not refused: an event
# Asterisk handed over is never dropped for an over-long channel name.
ID_MAX = 2**31 - 1  # call_event's integer columns (PostgreSQL integer)
UNIQUEID_MAX = 64
CHANNEL_MAX = 128
ARG_MAX = 16  # the one argument kept in data (a cause, a key, a reason code)
# The dialplan passes AGI(url,<arg>,${CC_TOKEN}): the call token is argument 2.
TOKEN_ARG = 1
TOKEN_MAX = 128  # a longer one is wrong anyway; this bounds what is compared and logged

_KEY_RE = re.compile(r"agi_[a-z0-9_]{1,60}\Z")
# A block of well-formed lines (each ending in \n, unprompted HANGUPs allowed),
# and the (key, value) pairs in it; one optional space after the colon.
_BLOCK_RE = re.compile(rf"(?:(?:agi_[a-z0-9_]{{1,60}}:[^\n]{{0,{MAX_LINE_BYTES - 70}}}|HANGUP)\n)*")
_PAIR_RE = re.compile(r"^(agi_[a-z0-9_]{1,60}): ?([^\n]*)\n", re.M)
_ARG_RE = re.compile(r"agi_arg_([1-9][0-9]{0,2})\Z")
_ID = r"[1-9][0-9]{0,9}"
_SCRIPT_RE = re.compile(rf"({_ID})/({_ID})/(0|{_ID})/([a-z0-9*#-]{{1,32}})\Z")
_REQUEST_RE = re.compile(r"agi://[^/]*/(.*)\Z", re.S)


@dataclass(frozen=True, slots=True)
class AgiRequest:
    """One FastAGI environment block: ``agi_*`` headers and ``agi_arg_N`` args."""

    env: dict
    args: tuple = ()


@dataclass(frozen=True, slots=True)
class Event:
    """One row of ``call_event`` as the daemon stores it."""

    campaign_id: int
    contact_id: int
    attempt: int
    name: str
    received_at: datetime | None = None
    uniqueid: str = ""
    channel: str = ""
    source: str = "agi"
    data: dict = field(default_factory=dict)

    @property
    def key(self):
        return (self.campaign_id, self.contact_id, self.attempt, self.name)


class RequestParser:
    """Incremental parser of one FastAGI environment block.

    Feed it the bytes as they arrive; ``feed`` returns ``None`` until the blank
    line, then the ``AgiRequest``. Bytes after the blank line are ignored (an
    unprompted ``HANGUP``, for instance).

    Raises (from ``feed``):
        AgiProtocolError: the block breaks a limit or the line format.
    """

    __slots__ = ("_buf", "_consumed", "_env", "_lines", "_nargs", "_result", "_slow",
                 "_newlines", "max_line", "max_lines", "max_bytes")

    def __init__(self, max_line=MAX_LINE_BYTES, max_lines=MAX_LINES, max_bytes=MAX_BLOCK_BYTES):
        self.max_line, self.max_lines, self.max_bytes = max_line, max_lines, max_bytes
        self._buf = bytearray()
        self._consumed = 0
        self._env = {}
        self._lines = 0
        self._nargs = 0
        self._result = None
        self._slow = False
        self._newlines = 0

    @property
    def done(self):
        return self._result is not None

    @property
    def env(self):
        """The headers read so far (all of them once done): for logging a refusal."""
        return self._result.env if self._result is not None else self._env

    @property
    def started(self):
        """True once any byte arrived (an idle connect is not a truncated request)."""
        return bool(self._buf) or self._consumed > 0

    def feed(self, data):
        """Consume ``data``; return the ``AgiRequest`` once the block is complete."""
        if self._result is not None:
            return self._result
        buf = self._buf
        scan = len(buf) - 1 if buf else 0
        buf += data
        if self._slow:
            return self._feed_lines()
        if b"\r" in data:
            self._slow = True
            return self._feed_lines()
        # Fast path, the common case: keep the bytes until the blank line, then
        # check and split the whole block with two regular expressions (C loops)
        # instead of a Python loop over twenty-odd lines. Anything odd goes to
        # the line-by-line path, which names the exact fault.
        if buf[:1] == b"\n":
            end = 0
        else:
            end = buf.find(b"\n\n", scan)
            if end == -1:
                self._newlines += data.count(b"\n")
                self._check_waiting()
                return None
            end += 1
        if end <= self.max_bytes:
            text = buf[:end].decode("utf-8", "replace")
            if _BLOCK_RE.fullmatch(text):
                pairs = _PAIR_RE.findall(text)
                env = dict(pairs)
                if len(env) == len(pairs) and len(pairs) <= self.max_lines:
                    nargs = text.count("\nagi_arg_") + text.startswith("agi_arg_")
                    self._consumed = end + 1
                    self._result = _finish(env, nargs)
                    self._buf = bytearray()
                    return self._result
        self._slow = True
        return self._feed_lines()

    def _check_waiting(self):
        buf = self._buf
        if len(buf) - buf.rfind(b"\n") - 1 > self.max_line:
            raise AgiProtocolError("line_too_long", f"more than {self.max_line} bytes")
        if self._newlines > self.max_lines:
            raise AgiProtocolError("too_many_lines", f"more than {self.max_lines} lines")
        if len(buf) > self.max_bytes:
            raise AgiProtocolError("block_too_large", f"more than {self.max_bytes} bytes")

    def _feed_lines(self):
        """Line-by-line parsing of whatever complete lines ``_buf`` holds."""
        buf = self._buf
        last = buf.rfind(b"\n")
        if last == -1:
            self._check_partial(len(buf))
            return None
        # Decode once per piece, not once per line: the block usually arrives
        # in one or two pieces of twenty-odd lines.
        text = buf[:last].decode("utf-8", "replace")
        del buf[: last + 1]
        crlf = "\r" in text
        env = self._env
        max_line = self.max_line
        for line in text.split("\n"):
            if crlf and line[-1:] == "\r":
                line = line[:-1]
            size = len(line)
            if size > max_line:
                raise AgiProtocolError("line_too_long", f"more than {max_line} bytes")
            self._consumed += size + 1
            if not size:
                self._result = _finish(env, self._nargs)
                self._buf = bytearray()
                return self._result
            if line == "HANGUP":
                # Asterisk tells a running script its channel hung up; the block
                # that carries the event is still complete and worth storing.
                continue
            self._lines += 1
            if self._lines > self.max_lines:
                raise AgiProtocolError("too_many_lines", f"more than {self.max_lines} lines")
            if self._consumed > self.max_bytes:
                raise AgiProtocolError("block_too_large", f"more than {self.max_bytes} bytes")
            key, sep, value = line.partition(":")
            if not sep:
                raise AgiProtocolError("malformed_line", "no ':' in header line")
            if key not in _KNOWN_KEYS:
                if not _KEY_RE.match(key):
                    raise AgiProtocolError("bad_header", f"header name {key[:40]!r}")
                if key.startswith("agi_arg_") and not _ARG_RE.match(key):
                    raise AgiProtocolError("bad_args", f"argument header {key[:40]!r}")
            if key[4:8] == "arg_":
                self._nargs += 1
            if key in env:
                raise AgiProtocolError("duplicate_header", key)
            # setup_env writes "%s: %s": exactly one space follows the colon.
            env[key] = value[1:] if value[:1] == " " else value
        self._check_partial(len(buf))
        return None

    def _check_partial(self, pending):
        if pending > self.max_line:
            raise AgiProtocolError("line_too_long", f"more than {self.max_line} bytes")
        if self._consumed + pending > self.max_bytes:
            raise AgiProtocolError("block_too_large", f"more than {self.max_bytes} bytes")


_KNOWN_KEYS = frozenset(
    (
        "agi_network agi_network_script agi_request agi_channel agi_language agi_type "
        "agi_uniqueid agi_version agi_callerid agi_calleridname agi_callingpres "
        "agi_callingani2 agi_callington agi_callingtns agi_dnid agi_rdnis agi_context "
        "agi_extension agi_priority agi_enhanced agi_accountcode agi_threadid "
        + " ".join(f"agi_arg_{i}" for i in range(1, 10))
    ).split()
)


_ARG_KEYS = tuple(f"agi_arg_{i}" for i in range(1000))


def _finish(env, nargs):
    if not nargs:
        return AgiRequest(env, ())
    args = []
    for key in _ARG_KEYS[1 : nargs + 1]:
        value = env.get(key)
        if value is None:
            raise AgiProtocolError("bad_args", "agi_arg_N numbers are not 1..n")
        args.append(value)
    return AgiRequest(env, tuple(args))


def parse_request(data):
    """Parse one complete block given as bytes (tests and tools).

    Raises:
        AgiProtocolError: the block is malformed or truncated.
    """
    parser = RequestParser()
    request = parser.feed(data)
    if request is None:
        raise AgiProtocolError("truncated", "no blank line")
    return request


def script_of(request):
    """The script path of a request: ``agi_network_script``, else from ``agi_request``."""
    script = request.env.get("agi_network_script")
    if script is None:
        m = _REQUEST_RE.match(request.env.get("agi_request", ""))
        script = m.group(1) if m else None
    return script


def token_of(request):
    """The call token a request carries: its second argument (``app.calltokens``), or ""."""
    args = request.args
    return args[TOKEN_ARG][:TOKEN_MAX] if len(args) > TOKEN_ARG else ""


def event_from_request(request, received_at=None, source="agi"):
    """Validate a request's script path and build the ``Event`` to store.

    Raises:
        AgiProtocolError: no script path, a malformed one, or an unknown event.
    """
    script = script_of(request)
    if not script:
        raise AgiProtocolError("no_script", "neither agi_network_script nor a path in agi_request")
    m = _SCRIPT_RE.match(script)
    if not m:
        raise AgiProtocolError("bad_script", f"script {script[:80]!r}")
    campaign_id, contact_id, attempt = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if max(campaign_id, contact_id, attempt) > ID_MAX:
        # The columns are 32-bit integers: a larger id would fail its whole batch.
        raise AgiProtocolError("bad_script", f"id out of range in {script[:80]!r}")
    name = m.group(4)
    if name not in EVENTS:
        raise AgiProtocolError("unknown_event", f"event {name!r}")
    # the dialplan's argument: ${HANGUPCAUSE} for hangup, the key pressed
    # (${INVALID_EXTEN}) for invalid, Asterisk's raw ${REASON} code for failed-*
    data = {}
    arg = request.args[0][:ARG_MAX] if request.args else ""
    if arg:
        if name == HANGUP:
            data["hangupcause"] = arg
        elif name == INVALID:
            data["key"] = arg
        elif name.startswith(FAILED_PREFIX):
            data["reason"] = arg
        elif name.startswith(AMD_PREFIX):
            # AMDCAUSE (app_amd.c): TOOLONG-5000, INITIALSILENCE-2500-2500 ...
            cause = request.args[0][:CAUSE_MAX]
            data["cause"] = "".join(c for c in cause if c.isalnum() or c == "-")
    env = request.env
    return Event(
        campaign_id=campaign_id,
        contact_id=contact_id,
        attempt=attempt,
        name=name,
        received_at=received_at,
        uniqueid=env.get("agi_uniqueid", "")[:UNIQUEID_MAX],
        channel=env.get("agi_channel", "")[:CHANNEL_MAX],
        source=source,
        data=data,
    )


def asterisk_block(script, args=(), channel="Local/100@pstn-00000001;2",
                   uniqueid="1700000000.1", accountcode="", host="127.0.0.1:4573"):
    """The lines Asterisk 22 sends for ``AGI(agi://host/script,args...)``, in order.

    Used by the load generator, the simulator and the tests, so all of them
    speak exactly what ``launch_netscript`` and ``setup_env`` write.
    """
    lines = ["agi_network: yes"]
    if script:
        lines.append(f"agi_network_script: {script}")
    lines += [
        f"agi_request: agi://{host}/{script}",
        f"agi_channel: {channel}",
        "agi_language: en",
        "agi_type: Local",
        f"agi_uniqueid: {uniqueid}",
        "agi_version: 22.0.0",
        "agi_callerid: unknown",
        "agi_calleridname: unknown",
        "agi_callingpres: 67",
        "agi_callingani2: 0",
        "agi_callington: 0",
        "agi_callingtns: 0",
        "agi_dnid: unknown",
        "agi_rdnis: unknown",
        "agi_context: callcast",
        "agi_extension: s",
        "agi_priority: 2",
        "agi_enhanced: 0.0",
        f"agi_accountcode: {accountcode}",
        "agi_threadid: 139872538949184",
    ]
    lines += [f"agi_arg_{i}: {a}" for i, a in enumerate(args, 1)]
    return [(line + "\n").encode() for line in lines] + [b"\n"]
