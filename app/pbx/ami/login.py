"""Opening an AMI connection: TCP connect, banner, Login, up to Asterisk's answer."""

from __future__ import annotations

import socket

from app.pbx.ami.wire import BANNER_PREFIX, MessageReader, encode_action
from app.pbx.errors import AmiAuthError, AmiConnectionError, PbxError


def open_and_login(host, port, username, secret, events, connect_timeout, login_id):
    """A connected, logged-in socket and the messages that came after the Login answer.

    Raises:
        AmiConnectionError: unreachable, not an AMI server, closed or timed out.
        AmiAuthError: Asterisk refused the Login.
    """
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except OSError as exc:
        raise AmiConnectionError(f"cannot connect to AMI at {host}:{port}: {exc}") from exc
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rest = _read_banner(sock, host, port)
        fields = [("Username", username), ("Secret", secret)]
        if events is not None:
            fields.append(("Events", events))
        sock.sendall(encode_action("Login", fields, login_id))
        reader = MessageReader()
        # Asterisk sleeps 1 s before "Authentication failed": allow for it
        sock.settimeout(connect_timeout + 1.5)
        messages = reader.feed(rest)
        while True:
            for i, msg in enumerate(messages):
                if msg.get("ActionID") == login_id and msg.response:
                    if msg.response != "Success":
                        raise AmiAuthError(
                            f"AMI login as {username!r} refused: "
                            f"{msg.get('Message', msg.response)}"
                        )
                    sock.settimeout(None)
                    return sock, messages[i + 1:]
            chunk = sock.recv(65536)
            if not chunk:
                raise AmiConnectionError(f"AMI at {host}:{port} closed during login")
            messages = reader.feed(chunk)
    except socket.timeout as exc:
        sock.close()
        raise AmiConnectionError(f"AMI login at {host}:{port} timed out") from exc
    except OSError as exc:
        sock.close()
        raise AmiConnectionError(f"AMI login at {host}:{port} failed: {exc}") from exc
    except PbxError:
        sock.close()
        raise


def _read_banner(sock, host, port) -> bytes:
    """Read and check the banner line; return the bytes that came after it."""
    buf = b""
    while b"\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise AmiConnectionError(f"AMI at {host}:{port} closed before banner")
        buf += chunk
        if len(buf) > 4096:
            raise AmiConnectionError("no AMI banner in the first 4 KiB")
    banner, _, rest = buf.partition(b"\r\n")
    if not banner.decode("latin-1").startswith(BANNER_PREFIX):
        raise AmiConnectionError(f"not an AMI server: banner {banner[:80]!r}")
    return rest
