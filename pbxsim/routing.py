"""Where a ``Local/<exten>@<context>`` dial string goes: Asterisk's extension patterns
and the outbound contexts pbxsim knows.

Asterisk requests the Local channel pair whatever its destination
(``main/core_local.c`` ``local_alloc``: the data after the last ``/`` are options,
``exten@context``, context ``default`` when none), then ``local_call`` checks
``ast_exists_extension(context, exten, 1)``: when the context has no extension
matching the number it logs ``No such extension/context <exten>@<context> while
calling Local channel`` at NOTICE and the call fails. ``main/dial.c``
``begin_dial_channel`` hangs the channel up, ``ast_dial_run`` returns
``AST_DIAL_RESULT_FAILED`` with no cause, and ``main/pbx.c`` ``pbx_dial_reason``
turns that into Reason 0: the originate fails and the ``failed`` extension runs
with ``REASON=0``, exactly like an unallocated number.

Patterns follow ``main/pbx.c`` ``_extension_match_core`` (the default, non-trie
matcher): a name starting with ``_`` is a pattern where ``X`` is 0-9, ``Z`` 1-9,
``N`` 2-9 (any case), ``[...]`` a set of characters and ``a-b`` ranges, ``.`` one
or more characters, ``!`` zero or more, ``-`` is ignored and anything else matches
itself (``+`` included); a name without ``_`` must equal the number (``-`` ignored).

The callee side of the call (what the ``[pstn]`` context would do: ``Dial`` a
trunk) is the callee model's job (pbxsim/callee.py): pbxsim checks that the
route exists, it does not run it.
"""

from __future__ import annotations

# what the demo dials (DIAL_TEMPLATE Local/{number}@pstn, E.164 with '+') and the
# usual outbound patterns (Local/{digits}@pstn)
DEFAULT_OUTBOUND = "pstn=_X.,_+X."


class RouteSyntaxError(ValueError):
    """An outbound context specification pbxsim cannot read."""


def _in_set(chars: str, c: str) -> bool:
    """``c`` in the body of a ``[...]`` set (``a-b`` is a range when a character follows '-')."""
    k = 0
    while k < len(chars):
        if k + 2 < len(chars) and chars[k + 1] == "-":
            if chars[k] <= c <= chars[k + 2]:
                return True
            k += 3
            continue
        if c == chars[k]:
            return True
        k += 1
    return False


_CLASSES = {"x": "0123456789", "z": "123456789", "n": "23456789"}


def matches(pattern: str, exten: str) -> bool:
    """Whether extension ``pattern`` (a name or a ``_`` pattern) matches the number ``exten``."""
    if not pattern.startswith("_"):
        return pattern.replace("-", "") == exten.replace("-", "")
    p, d = pattern[1:], exten
    i = j = 0
    while True:
        while j < len(d) and d[j] == "-":
            j += 1
        while i < len(p) and p[i] == "-":
            i += 1
        if j >= len(d) or i >= len(p) or p[i] == "/":
            break
        c = p[i]
        if c == "[":
            end = p.find("]", i + 1)
            if end < 0:
                return False  # Asterisk: "Wrong usage of [] in the extension"
            if end == i + 1:
                i = end + 1  # an empty set is ignored
                continue
            if not _in_set(p[i + 1:end], d[j]):
                return False
            i = end
        elif c.lower() in _CLASSES:
            if d[j] not in _CLASSES[c.lower()]:
                return False
        elif c in ".!":
            return True  # '.' needs this one character or more, '!' matches here
        elif d[j] != c:
            return False
        i += 1
        j += 1
    if j < len(d):
        return False  # the number is longer than the pattern
    rest = p[i:]
    return rest == "" or rest[0] in "/!"


def parse_outbound(text: str) -> dict:
    """``"pstn=_X.,_+X.;trunk=_NXXNXXXXXX"`` -> {context: (patterns, ...)}; "" -> {}.

    Raises:
        RouteSyntaxError: a part without ``context=`` or without patterns.
    """
    contexts = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        name, sep, patterns = part.partition("=")
        name = name.strip()
        names = tuple(p.strip() for p in patterns.split(",") if p.strip())
        if not sep or not name or not names:
            raise RouteSyntaxError(
                f"expected CONTEXT=PATTERN[,PATTERN...] (e.g. {DEFAULT_OUTBOUND}), got {part!r}")
        contexts[name] = contexts.get(name, ()) + names
    return contexts


def local_destination(data: str) -> tuple[str, str]:
    """(exten, context) of a Local channel's data ``exten@context[/options]``."""
    if "/" in data:
        data = data.rsplit("/", 1)[0]
    exten, _, context = data.partition("@")
    return exten, context or "default"


class Routes:
    """The outbound contexts: pbxsim's own (``--outbound``) and the loaded dialplan's."""

    def __init__(self, outbound=DEFAULT_OUTBOUND):
        self.contexts = parse_outbound(outbound) if isinstance(outbound, str) else dict(outbound)

    def exists(self, dialplan, context: str, exten: str) -> bool:
        """``ast_exists_extension(context, exten, 1)`` over both sources of contexts."""
        names = list(self.contexts.get(context, ()))
        if dialplan is not None and dialplan.has_context(context):
            names += [name for name, prios in dialplan.contexts[context].items()
                      if any(p.number == 1 for p in prios)]
        return any(matches(name, exten) for name in names)

    def describe(self) -> dict:
        return {name: list(patterns) for name, patterns in self.contexts.items()}
