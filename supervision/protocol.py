"""supervisord's eventlistener protocol without I/O (supervisor docs, "Event Listener Notification
Protocol"): the READY and RESULT tokens we write, the header line and payload we read.

supervisord sends one event at a time to a listener that wrote ``READY\\n``: a header line of
``key:value`` tokens ending in ``\\n`` whose ``len`` is the byte length of the payload that
follows (no newline after it); the listener answers ``RESULT 2\\nOK`` (done) or
``RESULT 4\\nFAIL`` (supervisord buffers the event again and resends it later).
"""

from __future__ import annotations

from dataclasses import dataclass

READY = b"READY\n"
OK = b"RESULT 2\nOK"
FAIL = b"RESULT 4\nFAIL"

# A header line is ~150 bytes and a process state payload ~120: anything far larger is not
# supervisord talking, and reading it whole would let it take our memory.
MAX_HEADER_LINE = 1024
MAX_PAYLOAD = 64 * 1024
REQUIRED = ("ver", "eventname", "len")
STATE_PREFIX = "PROCESS_STATE_"


class ListenerProtocolError(Exception):
    """What supervisord sent is not an event: the stream cannot be trusted past it."""


@dataclass(frozen=True)
class Transition:
    """One PROCESS_STATE_* event: which process went from which state to which."""

    program: str  # "group" when the process is the group's only one, else "group:process"
    group: str
    from_state: str
    to_state: str
    pid: int | None = None
    expected: bool | None = None  # EXITED only


def parse_tokens(text: str) -> dict[str, str]:
    """``"a:1 b:2"`` -> ``{"a": "1", "b": "2"}`` (a value may hold colons, never spaces).

    Raises:
        ListenerProtocolError: a token has no colon.
    """
    tokens = {}
    for token in text.split():
        key, colon, value = token.partition(":")
        if not colon or not key:
            raise ListenerProtocolError(f"not a key:value token: {token[:80]!r}")
        tokens[key] = value
    return tokens


def parse_header(line: bytes) -> dict[str, str]:
    """The header line of one event; its ``len`` checked to be a bounded byte count.

    Raises:
        ListenerProtocolError: no newline, too long, not ASCII, or a required token missing.
    """
    if not line.endswith(b"\n") or len(line) > MAX_HEADER_LINE:
        raise ListenerProtocolError(f"header line truncated or over {MAX_HEADER_LINE} bytes")
    try:
        headers = parse_tokens(line.decode("ascii"))
    except UnicodeDecodeError:
        raise ListenerProtocolError("header line is not ASCII") from None
    missing = [key for key in REQUIRED if key not in headers]
    if missing:
        raise ListenerProtocolError(f"header line without {', '.join(missing)}")
    if not headers["len"].isdigit() or int(headers["len"]) > MAX_PAYLOAD:
        raise ListenerProtocolError(f"payload length {headers['len'][:20]!r} out of bounds")
    return headers


def payload_length(headers: dict[str, str]) -> int:
    return int(headers["len"])


def transition(headers: dict[str, str], payload: bytes) -> Transition | None:
    """The transition a PROCESS_STATE_* event names; None for any other event.

    Raises:
        ListenerProtocolError: a process state payload without its process or group name.
    """
    event = headers["eventname"]
    if not event.startswith(STATE_PREFIX):
        return None
    first_line = payload.decode("utf-8", "replace").split("\n", 1)[0]
    fields = parse_tokens(first_line)
    name, group = fields.get("processname", ""), fields.get("groupname", "")
    if not name or not group:
        raise ListenerProtocolError(f"{event} without processname/groupname: {first_line[:120]!r}")
    pid = fields.get("pid", "")
    expected = fields.get("expected")
    return Transition(
        program=group if name == group else f"{group}:{name}",
        group=group,
        from_state=fields.get("from_state", "UNKNOWN"),
        to_state=event[len(STATE_PREFIX):],
        pid=int(pid) if pid.isdigit() else None,
        expected=None if expected is None else expected == "1",
    )
