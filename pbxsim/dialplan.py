"""A small extensions.conf reader: enough of Asterisk's pbx_config to load the
dialplan Callcast generates, and to refuse text Asterisk would refuse; plus the
``${VAR}`` substitution and ``$[...]`` expressions applications' data goes through.

Supported: ``[context]``, ``exten => name,prio[(label)],App(data)``,
``same => n[(label)],App(data)``, ``;`` comments, ``${VAR}``/``${ARGn}``
substitution, ``$[...]`` expressions (``= != < > <= >= + - & |``, quoted
strings), and the applications in ``APPS``. Pattern extensions (``_X.``) are
kept: the interpreter never jumps to one (Callcast's generated dialplan uses
none), but a Local channel's route may match one (pbxsim/routing.py).

Running the parsed dialplan (``main/pbx.c`` ``__ast_pbx_run``) is
pbxsim/interpreter.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

APPS = frozenset({
    "AGI", "AMD", "Answer", "Dial", "ExecIf", "Gosub", "GotoIf", "Goto", "Hangup", "NoOp",
    "Playback", "Read", "Return", "Set", "UserEvent", "Wait",
    "WaitForSilence", "SayNumber", "SayDigits", "SayAlpha", "SayUnixTime",
})
MAX_STEPS = 2000  # priorities one channel may run before we call it a loop


class DialplanSyntaxError(ValueError):
    """Text Asterisk's pbx_config would reject (or that pbxsim cannot run)."""


@dataclass
class Priority:
    number: int
    label: str | None
    app: str
    data: str
    line: int


@dataclass
class Dialplan:
    contexts: dict = field(default_factory=dict)  # name -> {exten: [Priority]}
    path: str = ""
    _index: dict | None = field(default=None, repr=False)  # built on first find()

    def has_context(self, ctx):
        return ctx in self.contexts

    def exists(self, ctx, exten, priority=1):
        return self.find(ctx, exten, priority) is not None

    def find(self, ctx, exten, priority):
        index = self._index
        if index is None:
            index = self._index = {
                (c, e, p.number): p
                for c, extens in self.contexts.items() for e, prios in extens.items()
                for p in prios
            }
        return index.get((ctx, exten, priority))

    def label(self, ctx, exten, label):
        for p in self.contexts.get(ctx, {}).get(exten, ()):
            if p.label == label:
                return p.number
        return None


_EXTEN_RE = re.compile(r"^exten\s*=>?\s*([^,]+?)\s*,\s*([0-9]+|n|hint)(?:\(([A-Za-z0-9_-]+)\))?\s*,\s*(.*)$")
_SAME_RE = re.compile(r"^same\s*=>?\s*(n|[0-9]+)(?:\(([A-Za-z0-9_-]+)\))?\s*,\s*(.*)$")
APP_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)


def _strip_comment(line):
    out = []
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            out.append(line[i + 1])
            i += 2
            continue
        if c == ";":
            break
        out.append(c)
        i += 1
    return "".join(out).strip()


def _check_balance(text, lineno):
    depth = {"(": 0, "[": 0, "{": 0}
    pairs = {")": "(", "]": "[", "}": "{"}
    in_quote = False
    for c in text:
        if c == '"':
            in_quote = not in_quote
        elif c in depth:
            depth[c] += 1
        elif c in pairs:
            depth[pairs[c]] -= 1
            if depth[pairs[c]] < 0:
                raise DialplanSyntaxError(f"line {lineno}: unbalanced {c!r}")
    if any(depth.values()):
        raise DialplanSyntaxError(f"line {lineno}: unbalanced brackets in {text!r}")
    if in_quote:
        raise DialplanSyntaxError(f"line {lineno}: unterminated quote")


def parse(text, path="") -> Dialplan:
    """Parse extensions.conf text.

    Raises:
        DialplanSyntaxError: a line Asterisk would not load, or an unknown application.
    """
    dp = Dialplan(path=str(path))
    ctx = None
    last = None  # (exten, number)
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if not line:
            continue
        if line.startswith("#include"):
            continue  # pbxsim loads DIALPLAN_PATH itself
        if line.startswith("["):
            ctx = _context_header(line, lineno, dp)
            last = None
            continue
        if ctx is None:
            raise DialplanSyntaxError(f"line {lineno}: {line!r} outside any [context]")
        last = _add_priority(dp.contexts[ctx], ctx, line, lineno, last) or last
    for ctx_name, extens in dp.contexts.items():
        for exten, prios in extens.items():
            if not any(p.number == 1 for p in prios):
                raise DialplanSyntaxError(f"{ctx_name},{exten} has no priority 1")
    return dp


def _context_header(line, lineno, dp):
    """A ``[context]`` line: the context's name, added to ``dp``."""
    m = re.match(r"^\[([A-Za-z0-9_.+-]+)\](\(.*\))?$", line)
    if not m:
        raise DialplanSyntaxError(f"line {lineno}: bad context header {line!r}")
    ctx = m.group(1)
    if ctx in dp.contexts:
        raise DialplanSyntaxError(f"line {lineno}: context [{ctx}] defined twice")
    dp.contexts[ctx] = {}
    return ctx


def _add_priority(extens, ctx, line, lineno, last):
    """An ``exten =>``/``same =>`` line added to ``extens``: its (exten, number), or
    None for a hint."""
    m = _EXTEN_RE.match(line)
    if m:
        exten, prio, label, appdata = m.groups()
        if prio == "hint":
            return None
        if prio == "n":
            if last is None or last[0] != exten:
                raise DialplanSyntaxError(f"line {lineno}: priority 'n' with no previous priority")
            number = last[1] + 1
        else:
            number = int(prio)
    else:
        m = _SAME_RE.match(line)
        if not m:
            raise DialplanSyntaxError(f"line {lineno}: not an exten/same line: {line!r}")
        if last is None:
            raise DialplanSyntaxError(f"line {lineno}: 'same =>' before any 'exten =>'")
        prio, label, appdata = m.groups()
        exten = last[0]
        number = last[1] + 1 if prio == "n" else int(prio)
    _check_balance(appdata, lineno)
    am = APP_RE.match(appdata)
    if not am:
        raise DialplanSyntaxError(f"line {lineno}: bad application call {appdata!r}")
    app, data = am.group(1), am.group(2) or ""
    if app not in APPS:
        raise DialplanSyntaxError(f"line {lineno}: application {app} is not known to pbxsim")
    prios = extens.setdefault(exten, [])
    if any(p.number == number for p in prios):
        raise DialplanSyntaxError(f"line {lineno}: {ctx},{exten},{number} defined twice")
    if label and any(p.label == label for p in prios):
        raise DialplanSyntaxError(f"line {lineno}: label {label} defined twice in {ctx},{exten}")
    prios.append(Priority(number, label, app, data, lineno))
    return (exten, number)


def load(path) -> Dialplan:
    return parse(Path(path).read_text(encoding="utf-8"), path)


# -- substitution and expressions --------------------------------------------------

_VAR_RE = re.compile(r"\$\{([^${}\[\]]*)\}")
_EXPR_RE = re.compile(r"\$\[([^\[\]]*)\]")


def substitute(text, lookup):
    """Expand ``${VAR}`` and ``$[expr]`` innermost first, like pbx_substitute_variables."""
    if "$" not in text:
        return text

    def var(m):
        value = lookup(m.group(1))
        return "" if value is None else str(value)

    def expr(m):
        # an expression whose body still holds ${...} waits for the variable
        return m.group(0) if "${" in m.group(1) else evaluate(m.group(1))

    for _ in range(100):
        new = _VAR_RE.sub(var, text) if "${" in text else text
        if "$[" in new:
            new = _EXPR_RE.sub(expr, new)
        if new == text:
            return text
        text = new
    raise DialplanSyntaxError(f"substitution does not converge: {text!r}")


_TOKEN_RE = re.compile(r'\s*("(?:[^"]*)"|<=|>=|!=|=|<|>|\+|-|&|\||[^\s"<>=!+&|-]+)')


_NUM_RE = re.compile(r"[+-]?[0-9]+(\.[0-9]*)?\Z")


def _num(v):
    if not _NUM_RE.match(v):
        return None
    return float(v) if "." in v else int(v)


def _tokenize(expr):
    tokens = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN_RE.match(expr, pos)
        if not m:
            raise DialplanSyntaxError(f"cannot read expression {expr!r}")
        tokens.append(m.group(1))
        pos = m.end()
        while pos < len(expr) and expr[pos].isspace():
            pos += 1
    return tokens


def evaluate(expr) -> str:
    """Evaluate an Asterisk ``$[...]`` expression (the subset the generator uses)."""
    expr = expr.strip()
    tokens = _tokenize(expr)

    def atom(i):
        if i >= len(tokens):
            return "", i
        tok = tokens[i]
        if tok.startswith('"') and tok.endswith('"'):
            return tok[1:-1], i + 1
        return tok, i + 1

    def additive(i):
        left, i = atom(i)
        while i < len(tokens) and tokens[i] in ("+", "-"):
            op = tokens[i]
            right, i = atom(i + 1)
            a, b = _num(left), _num(right)
            if a is None or b is None:
                raise DialplanSyntaxError(f"non-numeric operand in {expr!r}")
            left = str(a + b if op == "+" else a - b)
        return left, i

    def comparison(i):
        left, i = additive(i)
        while i < len(tokens) and tokens[i] in ("=", "!=", "<", ">", "<=", ">="):
            op = tokens[i]
            right, i = additive(i + 1)
            a, b = _num(left), _num(right)
            if a is None or b is None:
                a, b = left, right
            result = {"=": a == b, "!=": a != b, "<": a < b, ">": a > b,
                      "<=": a <= b, ">=": a >= b}[op]
            left = "1" if result else "0"
        return left, i

    def conj(i):
        left, i = comparison(i)
        while i < len(tokens) and tokens[i] == "&":
            right, i = comparison(i + 1)
            left = "1" if truthy(left) and truthy(right) else "0"
        return left, i

    def disj(i):
        left, i = conj(i)
        while i < len(tokens) and tokens[i] == "|":
            right, i = conj(i + 1)
            left = "1" if truthy(left) or truthy(right) else "0"
        return left, i

    value, i = disj(0)
    if i != len(tokens):
        raise DialplanSyntaxError(f"trailing tokens in expression {expr!r}")
    return value


def truthy(v):
    """Asterisk's idea of true: anything but empty and "0"."""
    v = (v or "").strip()
    return v not in ("", "0")


def split_args(data):
    """Split application data on top-level commas (quotes and brackets nest), like
    ``ast_app_separate_args``."""
    if not any(c in data for c in '"([{'):
        return [a.strip() for a in data.split(",")]
    args, cur, depth, quote = [], [], 0, False
    for c in data:
        if c == '"':
            quote = not quote
        elif not quote and c in "([{":
            depth += 1
        elif not quote and c in ")]}":
            depth -= 1
        if c == "," and depth == 0 and not quote:
            args.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    args.append("".join(cur))
    return [a.strip() for a in args]


def split_condition(data):
    """``cond?iftrue:iffalse`` as used by GotoIf/ExecIf."""
    cond, _, branches = data.partition("?")
    iftrue, _, iffalse = branches.partition(":")
    return cond, iftrue, iffalse
