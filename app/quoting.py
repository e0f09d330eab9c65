"""Untrusted text (file contents, form fields) quoted in a message: printable and short.

Messages reach people through flash messages, which travel in the session
cookie (4 KB in all, or the browser drops it and no message shows): a column
name read from a binary file must not carry 64 KB of control bytes there.
"""

from __future__ import annotations

ELLIPSIS = "…"
MESSAGE_CHARS = 600  # the longest message a person is shown


def printable(text: str) -> str:
    """``text`` with whitespace as spaces and every other unprintable character as "?"."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else " " if c.isspace() else "?" for c in text
    )


def cut(text: str, limit: int) -> str:
    """``text`` printable and at most ``limit`` characters, an ellipsis where it was cut."""
    text = str(text)
    if len(text) > limit:
        text = text[: max(limit - 1, 0)] + ELLIPSIS
    return printable(text)


def quote_input(value, limit: int = 40) -> str:
    """``value`` in quotes, printable, at most ``limit`` characters of it."""
    return f"'{cut(value, limit)}'"


def quote_names(names, shown: int = 8, limit: int = 30) -> str:
    """The first ``shown`` names quoted and comma separated, then how many more."""
    names = list(names)
    text = ", ".join(quote_input(name, limit) for name in names[:shown])
    if len(names) > shown:
        text += f" and {len(names) - shown} more"
    return text


def shorten(message) -> str:
    """A whole message as a person is shown it: printable, at most MESSAGE_CHARS."""
    return cut(message, MESSAGE_CHARS)
