"""CSV writers whose cells a spreadsheet never runs as formulas.

A contact's name like ``=HYPERLINK(...)`` or ``@SUM(...)`` would run when an
operator opens the report in a spreadsheet (CSV injection). Every CSV the
product writes goes through ``writer()``: a text cell that starts with ``=``,
``@``, a tab or a carriage return, or with ``+``/``-`` followed by anything but
a plain number (``+1 202 555 0100`` stays as it is), gets a leading ``'``.
"""

from __future__ import annotations

import csv
import re

ALWAYS_FORMULA = frozenset("=@\t\r")
# the first characters worth a second look (most cells start with none of them)
RISKY_FIRST = ALWAYS_FORMULA | frozenset("+-")
# a signed number or a phone number as people write them: kept as it is
PLAIN_NUMBER = re.compile(r"[+-][0-9 ().-]*\Z")


def is_formula(value) -> bool:
    """True when a spreadsheet could run text ``value`` (a non-text value never runs)."""
    if value.__class__ is not str or not value or value[0] not in RISKY_FIRST:
        return False
    if value[0] in ALWAYS_FORMULA:
        return True
    # +33612345678 (the usual phone cell) without the regular expression
    return not (value[1:].isdigit() or PLAIN_NUMBER.match(value))


def safe_cell(value):
    """``value`` as a cell no spreadsheet evaluates (non-text values pass unchanged)."""
    return "'" + value if is_formula(value) else value


class SafeWriter:
    """``csv.writer`` with every cell passed through ``safe_cell``."""

    def __init__(self, handle, **options):
        self._writer = csv.writer(handle, **options)

    def writerow(self, row):
        # the common row, with nothing to neutralise, is written as it is
        if any(map(is_formula, row)):
            return self._writer.writerow([safe_cell(c) for c in row])
        return self._writer.writerow(row)

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def writer(handle, **options) -> SafeWriter:
    """A CSV writer on the text ``handle`` that neutralises formula cells."""
    return SafeWriter(handle, **options)
