"""Errors of the FastAGI daemon."""

from app.errors import CallcastError, ValidationError


class AgiError(CallcastError):
    """Base of every error the AGI daemon raises on purpose."""


class AgiProtocolError(AgiError, ValidationError):
    """A request broke the wire format or named an unknown event.

    ``reason`` is a short, fixed token (``line_too_long``, ``unknown_event`` ...)
    used as the label of the rejects counter, so it never carries peer data.
    """

    def __init__(self, reason, detail=""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class JournalError(AgiError):
    """The local journal cannot be opened, locked, read or written."""
