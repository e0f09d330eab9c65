"""Sniffing a CSV file: its encoding, delimiter, header line, column names and phone column."""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections import Counter

from app.contacts.phones import looks_like_phone, normalise_phone
from app.errors import ValidationError
from app.quoting import quote_input, quote_names

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SNIFF_BYTES = 64 * 1024
SNIFF_ROWS = 50
# C0 controls but tab, line feed, form feed and carriage return
_CONTROLS = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f]")

# Header names that say "this is the phone column" (lower case, accents and
# punctuation removed), strongest first.
PHONE_NAMES = (
    "phone",
    "phonenumber",
    "telephone",
    "telephonenumber",
    "tel",
    "telefon",
    "telefono",
    "mobile",
    "mobilephone",
    "mobilenumber",
    "cell",
    "cellphone",
    "msisdn",
    "gsm",
    "portable",
    "handy",
    "number",
    "numero",
    "phoneno",
    "telno",
    "contactnumber",
)
PHONE_NAME_PARTS = ("phone", "tel", "mobile", "cell", "msisdn", "gsm", "numero", "number")


def detect_encoding(path) -> str:
    """ "utf-8-sig" (BOM), "utf-8", or "latin-1" when the bytes are not UTF-8.

    The whole file is checked (in C, streamed): a file whose first megabytes
    are ASCII and whose 900,000th line has a Latin-1 "é" is still Latin-1.
    """
    with open(path, "rb") as handle:
        head = handle.read(len(codecs.BOM_UTF8))
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        decoder = codecs.getincrementaldecoder("utf-8")()
        block = head
        try:
            while block:
                decoder.decode(block)
                block = handle.read(1 << 20)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


def looks_binary(sample: str) -> bool:
    """Whether decoded text holds what no CSV text does: a NUL, or 1 % of control characters.

    A spreadsheet, an image or a UTF-16 file decodes as Latin-1 into columns of
    control bytes that no sniffing makes sense of.
    """
    if "\x00" in sample:
        return True
    return len(_CONTROLS.findall(sample)) * 100 > len(sample)


def sample_records(text: str, delimiter: str, limit: int) -> list[list[str]]:
    """The first ``limit`` non-blank records of a sample, read with ``delimiter``."""
    # The sample may end inside a record: drop the last, possibly cut, line.
    if len(text) >= SNIFF_BYTES // 2 and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    rows = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if row and any(cell.strip() for cell in row):
                rows.append(row)
                if len(rows) >= limit:
                    break
    except csv.Error:
        pass
    return rows


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the sample into the most consistent columns."""
    best, best_key = ",", None
    for delimiter in DELIMITERS:
        rows = sample_records(text, delimiter, SNIFF_ROWS)
        if not rows:
            continue
        counts = Counter(len(row) for row in rows)
        width, hits = counts.most_common(1)[0]
        if width < 2:
            continue
        key = (round(hits / len(rows), 2), width)
        if best_key is None or key > best_key:
            best, best_key = delimiter, key
    return best


def detect_header(rows: list[list[str]]) -> bool:
    """Whether the first record is a header line rather than data."""
    if not rows:
        return False
    first, rest = rows[0], rows[1:]
    if any(looks_like_phone(cell) for cell in first):
        return False
    if any(looks_like_phone(cell) for row in rest for cell in row):
        return True
    # No phone-looking data anywhere: a first line of distinct words is a header.
    names = [cell.strip() for cell in first]
    return (
        all(names)
        and len(set(names)) == len(names)
        and not any(name.replace(".", "").isdigit() for name in names)
    )


def column_names(header: list[str] | None, width: int) -> list[str]:
    """Unique, non-empty column names (``column_N`` where the file has none)."""
    names, seen = [], set()
    for index in range(max(width, len(header or ()))):
        name = (header[index].strip() if header and index < len(header) else "") or (
            f"column_{index + 1}"
        )
        base, suffix = name, 2
        while name in seen:
            name, suffix = f"{base}_{suffix}", suffix + 1
        seen.add(name)
        names.append(name)
    return names


def _name_key(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def _valid_share(rows, index, country) -> float:
    values = [row[index] for row in rows if index < len(row) and row[index].strip()]
    if not values:
        return 0.0
    good = sum(1 for value in values if normalise_phone(value, country)[0] is not None)
    return good / len(values)


def choose_phone_column(columns, rows, country, wanted=None) -> int:
    """Index of the phone column: the one named ``wanted``, else by name, else by content.

    Raises:
        ValidationError: ``wanted`` is not a column, or no column holds phone numbers.
    """
    if wanted:
        wanted = str(wanted).strip()
        for index, name in enumerate(columns):
            if name == wanted:
                return index
        lowered = wanted.lower()
        for index, name in enumerate(columns):
            if name.lower() == lowered:
                return index
        if wanted.isdigit() and 1 <= int(wanted) <= len(columns):
            return int(wanted) - 1
        raise ValidationError(
            f"no column named {quote_input(wanted)} in the file; "
            f"its columns are: {quote_names(columns)}"
        )
    keys = [_name_key(name) for name in columns]
    named = [i for name in PHONE_NAMES for i, key in enumerate(keys) if key == name]
    named += [
        i
        for part in PHONE_NAME_PARTS
        for i, key in enumerate(keys)
        if part in key and i not in named
    ]
    for index in named:
        # A column called "phone" that holds no number at all is not trusted.
        if not rows or _valid_share(rows, index, country) > 0:
            return index
    shares = [(_valid_share(rows, i, country), -i) for i in range(len(columns))]
    share, minus_index = max(shares) if shares else (0.0, 0)
    if share >= 0.5:
        return -minus_index
    raise ValidationError(
        f"no phone column found: none of the columns ({quote_names(columns)}) holds phone "
        f"numbers valid for {country}; name one or check the default country"
    )
