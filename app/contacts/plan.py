"""The import plan: what sniffing found in a file, with the operator's overrides, and a preview."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from app.contacts.phones import check_country
from app.contacts.sniffing import (
    DELIMITER_NAMES,
    DELIMITERS,
    SNIFF_BYTES,
    SNIFF_ROWS,
    choose_phone_column,
    column_names,
    detect_delimiter,
    detect_encoding,
    detect_header,
    looks_binary,
    sample_records,
)
from app.errors import ValidationError
from app.quoting import quote_input

PREVIEW_ROWS = 10


@dataclass
class ImportPlan:
    """What the sniffer found in a file, and how the import will read it."""

    path: str
    encoding: str
    delimiter: str
    has_header: bool
    columns: list[str]  # every column, phone included, in file order
    phone_index: int
    country: str
    rows: list[list[str]] = field(default_factory=list)  # first data rows

    @property
    def phone_column(self) -> str:
        return self.columns[self.phone_index]

    @property
    def other_columns(self) -> list[str]:
        return [name for i, name in enumerate(self.columns) if i != self.phone_index]

    @property
    def delimiter_name(self) -> str:
        return DELIMITER_NAMES.get(self.delimiter, self.delimiter)

    def as_dict(self) -> dict:
        return {
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "delimiter_name": self.delimiter_name,
            "has_header": self.has_header,
            "columns": self.columns,
            "phone_column": self.phone_column,
            "country": self.country,
            "rows": self.rows,
        }


def plan_import(
    path,
    country: str = "US",
    phone_column: str | None = None,
    delimiter: str | None = None,
    has_header: bool | None = None,
    encoding: str | None = None,
) -> ImportPlan:
    """Sniff ``path``; any argument given overrides what would be detected.

    Raises:
        ValidationError: empty, binary or header-only file, unknown country, no phone column.
    """
    country = check_country(country)
    path = str(path)
    if not os.path.isfile(path):
        raise ValidationError(f"file {path} does not exist")
    encoding = encoding or detect_encoding(path)
    with open(path, encoding=encoding, newline="") as handle:
        sample = handle.read(SNIFF_BYTES)
    if not sample.strip():
        raise ValidationError("the file is empty")
    if looks_binary(sample):
        raise ValidationError(
            "the file is not CSV text (it holds binary data): save it as CSV and upload that"
        )
    if delimiter is not None and delimiter not in DELIMITERS:
        raise ValidationError(f"unsupported delimiter {quote_input(delimiter, 8)}")
    delimiter = delimiter or detect_delimiter(sample)
    records = sample_records(sample, delimiter, SNIFF_ROWS + 1)
    if not records:
        raise ValidationError("the file has no readable CSV record")
    if has_header is None:
        has_header = detect_header(records)
    header = records[0] if has_header else None
    data = records[1:] if has_header else records
    if not data:
        raise ValidationError("nothing to import: the file has a header line and no data rows")
    width = Counter(len(row) for row in data).most_common(1)[0][0]
    columns = column_names(header, width)
    phone_index = choose_phone_column(columns, data, country, phone_column)
    return ImportPlan(
        path=path,
        encoding=encoding,
        delimiter=delimiter,
        has_header=has_header,
        columns=columns,
        phone_index=phone_index,
        country=country,
        rows=data[:PREVIEW_ROWS],
    )


def preview(path, country: str = "US", **overrides) -> dict:
    """What the upload form shows: encoding, delimiter, header, columns, phone column, rows.

    Raises:
        ValidationError: as ``plan_import``.
    """
    return plan_import(path, country, **overrides).as_dict()


def estimate_rows(path) -> int:
    """A quick estimate of the data rows in a file (size / mean line length of its start).

    For a progress bar while ``rows_total`` grows; never used as a count.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    lines = head.count(b"\n")
    if size == 0:
        return 0
    if lines == 0 or len(head) >= size:
        return max(lines, 1)
    return max(1, round(size * lines / len(head)))
