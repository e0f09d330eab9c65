"""The AMI wire format, sans I/O: bytes in, ``Message`` objects out, and actions encoded.

Asterisk (``main/manager.c``) sends a banner line
``Asterisk Call Manager/<version>\\r\\n``, then messages of ``Key: Value\\r\\n``
lines ending with a blank line. Keys may repeat (``Variable``, ``Output``).
"""

from __future__ import annotations

from app.pbx.errors import AmiActionError, AmiConnectionError

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


def originate_fields(channel, context, exten, priority, account, channel_id, variables,
                     caller_id, ring_timeout_s) -> list:
    """The fields of an asynchronous Originate (``Async: true``).

    Raises:
        AmiActionError: a variable value holds a ',' (Asterisk would split it).
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
            # the value is not quoted: it may be personal data (a contact's field)
            raise AmiActionError("Originate", f"variable {key!r} has a value with a ','")
        fields.append(("Variable", f"{key}={value}"))
    return fields
