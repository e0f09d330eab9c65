"""The domain's error messages in the console's language.

The core writes its refusals in English with the field named ("max_channels must
be between 1 and 500"); this edge matches each part of a message ("; " joins
several) against the shapes the core writes and gives the catalogue's words,
the values kept. A message of no known shape is shown as written.
"""

from __future__ import annotations

import re

from flask_babel import gettext, lazy_gettext

from app import quoting

# (shape of the English message, its catalogue entry); the groups fill the entry
SHAPES = [
    (r"(?P<field>[\w ]+) must be between (?P<low>\S+) and (?P<high>\S+)",
     lazy_gettext("%(field)s must be between %(low)s and %(high)s")),
    (r"(?P<field>[\w ]+) must be a whole number, not (?P<value>.*)",
     lazy_gettext("%(field)s must be a whole number, not %(value)s")),
    (r"(?P<field>[\w ]+) must be a date and time, not (?P<value>.*)",
     lazy_gettext("%(field)s must be a date and time, not %(value)s")),
    (r"(?P<field>\w+) is required", lazy_gettext("%(field)s is required")),
    (r"(?P<field>[\w ]+) must be one line of printable characters",
     lazy_gettext("%(field)s must be one line of printable characters")),
    (r"ends_at: the end must come after the start", lazy_gettext("ends_at: the end must come after the start")),
    (r"option (?P<digit>\S+): a transfer needs a target",
     lazy_gettext("option %(digit)s: a transfer needs a target")),
    (r"unknown time zone (?P<value>.*)", lazy_gettext("unknown time zone %(value)s")),
    (r"not a phone number", lazy_gettext("not a phone number")),
    (r"unknown country code", lazy_gettext("unknown country code")),
    (r"not a valid (?P<region>\S+) number", lazy_gettext("not a valid %(region)s number")),
    (r"the file is empty", lazy_gettext("the file is empty")),
    (r"the file has no readable CSV record", lazy_gettext("the file has no readable CSV record")),
    (r"nothing to import: the file has a header line and no data rows",
     lazy_gettext("nothing to import: the file has a header line and no data rows")),
    (r"list name: a contact list needs a name", lazy_gettext("list name: a contact list needs a name")),
    (r"campaign (?P<id>\d+) cannot be activated: (?P<why>.*)",
     lazy_gettext("campaign %(id)s cannot be activated: %(why)s")),
    (r"(?P<action>[\w ]+) refused: campaign (?P<id>\d+): cannot go from (?P<source>\w+) to (?P<target>\w+) "
     r"\((?P=action) works on (?P<sources>[\w ]+) campaigns\)",
     lazy_gettext("%(action)s refused: campaign %(id)s: cannot go from %(source)s to %(target)s "
                  "(%(action)s works on %(sources)s campaigns)")),
    (r"campaign (?P<id>\d+): cannot go from (?P<source>\w+) to (?P<target>\w+)",
     lazy_gettext("campaign %(id)s: cannot go from %(source)s to %(target)s")),
]
COMPILED = [(re.compile(rf"^{shape}$", re.S), words) for shape, words in SHAPES]


def _one(part: str) -> str:
    for shape, words in COMPILED:
        found = shape.match(part)
        if found:
            values = found.groupdict()
            if "why" in values:
                values["why"] = translate_error(values["why"])
            if "action" in values:  # a button's name: Pause, Resume, ...
                values["action"] = gettext(values["action"])
            return str(words) % values if values else str(words)
    return part


def translate_error(message: str) -> str:
    """``message`` with each "; "-separated part in the console's language when its shape is known."""
    return "; ".join(_one(part) for part in str(message).split("; "))


def shorten(message) -> str:
    """``app.quoting.shorten`` of the message in the console's language."""
    return quoting.shorten(translate_error(str(message)))
