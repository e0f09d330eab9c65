"""Errors of the PBX layer (AMI client, dialplan generator)."""

from app.errors import CallcastError


class PbxError(CallcastError):
    """Something went wrong talking to Asterisk."""


class AmiConnectionError(PbxError):
    """The manager port is unreachable, or the connection dropped (transient)."""


class AmiAuthError(PbxError):
    """Asterisk refused the Login (wrong user or secret; permanent until fixed)."""


class AmiTimeoutError(PbxError):
    """No response to an action within its timeout (transient)."""


class AmiActionError(PbxError):
    """Asterisk answered ``Response: Error``; ``message`` is Asterisk's own text."""

    def __init__(self, action, message, response=None):
        self.action, self.message, self.response = action, message, response
        super().__init__(f"AMI {action} failed: {message}")


class DialplanError(PbxError):
    """A campaign cannot be turned into dialplan (bad option, unsafe text)."""


class MediaError(PbxError):
    """A sound file cannot be recorded or written (a path outside MEDIA_DIR, no such copy)."""
