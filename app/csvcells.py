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

ALWAYS_FORMULA = ("=", "@", "\t", "\r")
SIGNED = ("+", "-")
# a signed number or a phone number as people write them: kept as it is
PLAIN_NUMBER = re.compile(r"[+-][0-9 ().-]*\Z")


def safe_cell(value):
    """``value`` as a cell no spreadsheet evaluates (non-text values pass unchanged)."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(ALWAYS_FORMULA):
        return "'" + value
    if value.startswith(SIGNED) and not PLAIN_NUMBER.match(value):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` with every cell passed through ``safe_cell``."""

    def __init__(self, handle, **options):
        self._writer = csv.writer(handle, **options)

    def writerow(self, row):
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def writer(handle, **options) -> SafeWriter:
    """A CSV writer on the text ``handle`` that neutralises formula cells."""
    return SafeWriter(handle, **options)
