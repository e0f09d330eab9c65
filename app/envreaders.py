"""Typed readers of an environment mapping, for ``app.config``.

Each takes the mapping, the variable's name and its default, and raises
``ConfigError`` naming the variable when the value is malformed; an empty value
counts as unset. They read only the mapping they are given: ``app.config``
alone hands them ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import re
import string
from pathlib import Path
from urllib.parse import urlparse

from app.errors import ConfigError

# the forms of a contact's number DIAL_TEMPLATE may name (app.pbx.originate.dial_string)
DIAL_PLACEHOLDERS = ("number", "digits", "national")
# the route breaker looks at no fewer calls than this (0 turns a rule off)
BREAKER_MIN_CALLS = 5


def env_str(env, name, default):
    value = env.get(name)
    return default if value is None or value == "" else value


def env_int(env, name, default, minimum=None, maximum=None):
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be <= {maximum}, got {value}")
    return value


def env_port(env, name, default):
    return env_int(env, name, default, minimum=0, maximum=65535)


def env_float(env, name, default, minimum=None, maximum=None):
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be <= {maximum}, got {value}")
    return value


def env_bool(env, name, default):
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false, yes/no), got {raw!r}")


def env_choice(env, name, default, choices):
    value = env_str(env, name, default).lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_url(env, name, default, schemes):
    value = env_str(env, name, default)
    parsed = urlparse(value)
    scheme = parsed.scheme.split("+")[0]
    if scheme not in schemes:
        raise ConfigError(
            f"{name} must be a URL with scheme {'/'.join(sorted(schemes))}, got {value!r}"
        )
    if scheme == "sqlite":
        if not parsed.path or parsed.path == "/":
            raise ConfigError(f"{name} names no SQLite file: {value!r}")
    else:
        try:
            parsed.port  # noqa: B018 - raises on a non-numeric port
        except ValueError:
            raise ConfigError(f"{name} has a non-numeric port: {value!r}") from None
        if not parsed.hostname:
            raise ConfigError(f"{name} names no host: {value!r}")
    return value


def env_networks(env, name, default=""):
    """A comma-separated list of IP addresses or networks (``10.0.0.0/8, ::1``)."""
    networks = []
    for item in env_str(env, name, default).split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ConfigError(f"{name}: {item.strip()!r} is not an IP address or network") from None
    return tuple(networks)


# an Asterisk context name (at most 79 characters); callcast-* are the generated ones
CONTEXT_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,79}\Z")


def env_contexts(env, name, default=""):
    """A comma-separated list of dialplan context names (``transfer-desk, sales``)."""
    names = []
    for item in (i.strip() for i in env_str(env, name, default).split(",")):
        if not item:
            continue
        if not CONTEXT_NAME_RE.match(item) or item.startswith("callcast-"):
            raise ConfigError(f"{name}: {item!r} is not a context name (letters, digits, _ and -, "
                              "at most 79, not callcast-*)")
        names.append(item)
    return tuple(names)
def env_dial_template(env, name, default):
    """A dial string with at least one placeholder, each one of ``DIAL_PLACEHOLDERS``."""
    value = env_str(env, name, default)
    known = ", ".join("{%s}" % p for p in DIAL_PLACEHOLDERS)
    try:
        parts = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise ConfigError(f"{name} {value!r} is not a template: {exc}") from None
    fields = [(field, spec, conv) for _, field, spec, conv in parts if field is not None]
    for field, spec, conv in fields:
        if field not in DIAL_PLACEHOLDERS or spec or conv:
            written = "{" + field + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            raise ConfigError(f"{name} {value!r} has an unknown placeholder {written} "
                              f"(known: {known})")
    if not fields:
        raise ConfigError(f"{name} {value!r} names no number: use one of {known}")
    return value


def env_breaker_calls(env, name, default):
    """A call count for the route breaker: 0 (off) or at least ``BREAKER_MIN_CALLS``."""
    value = env_int(env, name, default, minimum=0)
    if 0 < value < BREAKER_MIN_CALLS:
        raise ConfigError(f"{name} must be 0 (off) or >= {BREAKER_MIN_CALLS}, got {value}")
    return value


def env_path(env, name, default):
    return Path(env_str(env, name, str(default))).expanduser()


def env_addresses(env, name, default=""):
    """A comma-separated list of e-mail addresses (``ops@example.com, boss@example.com``)."""
    found = []
    for item in (i.strip() for i in env_str(env, name, default).split(",")):
        if item and not EMAIL_RE.match(item):
            raise ConfigError(f"{name}: {item[:80]!r} is not an e-mail address")
        if item:
            found.append(item)
    return tuple(found)


# one address, no display name, no spaces or list separators
EMAIL_RE = re.compile(r"[^@\s,;<>\"]{1,64}@[^@\s,;<>\"]{1,190}\Z")
