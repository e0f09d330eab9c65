"""Contact lists from CSV files: sniffing, phone normalisation, streamed import.

The upload form calls ``preview(path)`` to show what was detected; the
``import_contact_list`` actor (queue ``default``) calls
``import_contact_list(list_id, path)``, which streams the file:

    main process: read CSV records -> chunks of (line, cells)
    worker pool (spawn, one per core): phone -> E.164, other cells -> JSON text
    main process: one writer, batched INSERT ... ON CONFLICT DO NOTHING,
                  rejects CSV, progress counters on the ContactList row

Memory stays bounded whatever the file size: at most ``WINDOW`` chunks are in
flight and nothing keeps a per-row structure (duplicates are found by the
database's unique (contact_list, phone) index, not by a set in memory).
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import json
import logging
import multiprocessing
import os
import re
import time
import unicodedata
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat, ValidationResult

from app.config import get_settings
from app.db import database, is_postgres
from app.errors import NotFoundError, ValidationError
from app.models import Contact, ContactList

log = logging.getLogger(__name__)

IMPORTING, READY, FAILED = "importing", "ready", "failed"
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
CHUNK_ROWS = 5000  # rows per worker task and per INSERT
# Normalised rows are inserted (and the progress counters saved) in one
# transaction per this many rows, or at least once per COMMIT_SECONDS.
COMMIT_ROWS = 20_000
COMMIT_SECONDS = 1.0
SNIFF_BYTES = 64 * 1024
SNIFF_ROWS = 50
PREVIEW_ROWS = 10
# Files smaller than this are normalised in the calling process: starting
# spawned workers costs more than it saves.
POOL_MIN_BYTES = 2 * 1024 * 1024

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

# Separators people type inside phone numbers; removing them first makes
# phonenumbers' own per-character normalisation cheaper and changes no result.
_SEPARATORS = str.maketrans("", "", " \t\u00a0\u2009()-./")
_PLAIN_NUMBER = re.compile(r"\+?[0-9]+")
_DIGIT_RUN = re.compile(r"\d")

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}
_POSSIBLE_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "wrong length",
}


# --- phone numbers ------------------------------------------------------------


def check_country(country: str) -> str:
    """Upper-case ISO 3166 code phonenumbers knows.

    Raises:
        ValidationError: not a region phonenumbers has metadata for.
    """
    code = (country or "").strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"unknown default country {country!r}: use a 2-letter ISO code")
    return code


@functools.lru_cache(maxsize=None)
def _alone_code(country: str) -> int:
    """``country``'s calling code if "valid for ``country``" already means "valid"; else 0.

    True when ``country`` is the first region of its calling code and, if the
    code is shared (+1, +7, +44 ...), carries no leading-digits rule:
    ``region_code_for_number`` then tries it first and keeps it for any number
    valid there.
    """
    code = phonenumbers.country_code_for_region(country)
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    if not regions or regions[0] != country:
        return 0
    metadata = PhoneMetadata.metadata_for_region(country)
    alone = len(regions) == 1 or (metadata is not None and metadata.leading_digits is None)
    return code if alone else 0


def _is_valid(number, country: str) -> bool:
    """``phonenumbers.is_valid_number(number)``, at about half the cost for the usual number.

    ``is_valid_number`` first finds the number's region (for +1 that means
    matching the number against each NANPA region in turn), then validates it
    there. A number of the default country's own calling code is validated for
    that country first; when it passes and ``_alone_code(country)`` is that
    code, the full answer is the same, so the region search is skipped.
    """
    if number.country_code == _alone_code(country) and phonenumbers.is_valid_number_for_region(
        number, country
    ):
        return True
    return phonenumbers.is_valid_number(number)


def normalise_phone(raw: str, country: str) -> tuple[str | None, str]:
    """(E.164, "") for a valid number, (None, reason) otherwise.

    ``country`` is the default region for numbers written without ``+``/IDD.
    """
    text = raw.strip() if raw else ""
    if not text:
        return None, "empty phone number"
    clean = text.translate(_SEPARATORS)
    try:
        number = phonenumbers.parse(clean if _PLAIN_NUMBER.fullmatch(clean) else text, country)
    except NumberParseException as exc:
        return None, _PARSE_REASONS.get(exc.error_type, "not a phone number")
    if not _is_valid(number, country):
        possible = phonenumbers.is_possible_number_with_reason(number)
        reason = _POSSIBLE_REASONS.get(possible)
        if reason is None:
            region = phonenumbers.region_code_for_number(number) or country
            reason = f"not a valid {region} number"
        return None, reason
    return phonenumbers.format_number(number, PhoneNumberFormat.E164), ""


def require_phone(raw: str, country: str) -> str:
    """E.164 of ``raw``.

    Raises:
        ValidationError: the number does not normalise; the message says why.
    """
    e164, reason = normalise_phone(raw, country)
    if e164 is None:
        raise ValidationError(f"{raw!r}: {reason}")
    return e164


def _looks_like_phone(cell: str) -> bool:
    digits = len(_DIGIT_RUN.findall(cell))
    return digits >= 6 and digits >= 0.6 * len(cell.replace(" ", ""))


# --- sniffing -------------------------------------------------------------------


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


def _sample_records(text: str, delimiter: str, limit: int) -> list[list[str]]:
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
        rows = _sample_records(text, delimiter, SNIFF_ROWS)
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
    if any(_looks_like_phone(cell) for cell in first):
        return False
    if any(_looks_like_phone(cell) for row in rest for cell in row):
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
            f"no column named {wanted!r} in the file; its columns are: {', '.join(columns)}"
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
        "no phone column found: none of the columns ("
        + ", ".join(columns)
        + f") holds phone numbers valid for {country}; name one or check the default country"
    )


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
        ValidationError: empty or unreadable file, unknown country, no phone column.
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
    if delimiter is not None and delimiter not in DELIMITERS:
        raise ValidationError(f"unsupported delimiter {delimiter!r}")
    delimiter = delimiter or detect_delimiter(sample)
    records = _sample_records(sample, delimiter, SNIFF_ROWS + 1)
    if not records:
        raise ValidationError("the file has no readable CSV record")
    if has_header is None:
        has_header = detect_header(records)
    header = records[0] if has_header else None
    data = records[1:] if has_header else records
    width = Counter(len(row) for row in data).most_common(1)[0][0] if data else len(header)
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


# Folders under MEDIA_DIR that hold uploaded CSVs: the back office's uploads
# (previewed, then imported by token) and the importer's own copies.
UPLOAD_FOLDERS = ("uploads", "imports")


def upload_dir() -> Path:
    return get_settings().media_dir / "imports"


def is_upload(path) -> bool:
    """Whether ``path`` is a file in one of MEDIA_DIR's upload folders (ours to delete)."""
    media = get_settings().media_dir.resolve()
    parent = Path(path).resolve().parent
    return any(parent == media / name for name in UPLOAD_FOLDERS)


def discard_upload(path) -> bool:
    """Delete an uploaded CSV once its list is imported; a file elsewhere is left alone.

    Returns whether a file was deleted.
    """
    if not is_upload(path):
        return False
    try:
        Path(path).unlink()
    except FileNotFoundError:
        return False
    return True


def save_upload(stream, filename: str = "") -> Path:
    """Copy an uploaded file (a binary stream) under MEDIA_DIR/imports; return its path.

    The stored name is random (the user's name is only kept as a suffix, made
    safe), so two uploads never overwrite each other and no path escapes.
    """
    import shutil
    import uuid

    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename or "upload.csv").name)[-80:]
    target = upload_dir() / f"{uuid.uuid4().hex}-{stem.lstrip('.') or 'upload.csv'}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        shutil.copyfileobj(stream, out, 1 << 20)
    return target


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


# --- reading and normalising ------------------------------------------------------


def read_records(plan: ImportPlan):
    """Yield (line number, cells, error) for each non-blank data record.

    The line number is where the record starts in the file (1 = first line).
    A record the csv module cannot read gives cells None and the error text.
    """
    with open(plan.path, encoding=plan.encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=plan.delimiter)
        skip_header = plan.has_header
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, None, f"unreadable CSV record: {exc}"
                continue
            if skip_header:
                skip_header = False
                continue
            text = "".join(row)
            if not text or text.isspace():  # a blank line, or only empty cells
                continue
            yield start, row, ""


@dataclass(frozen=True)
class ChunkSpec:
    """What a worker needs to normalise chunks (picklable, no database)."""

    country: str
    phone_index: int
    columns: tuple  # every column name, phone included


def normalise_chunk(chunk, spec: ChunkSpec):
    """Turn [(line, cells, error)] into ([(phone, fields_json, line)], [(line, reason, cells)])."""
    good, rejects = [], []
    width = len(spec.columns)
    names = spec.columns
    phone_index = spec.phone_index
    country = spec.country
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode
    for line, cells, error in chunk:
        if cells is None:
            rejects.append((line, error, []))
            continue
        if len(cells) > width:
            rejects.append((line, f"{len(cells)} fields, the file has {width} columns", cells))
            continue
        raw = cells[phone_index] if phone_index < len(cells) else ""
        phone, reason = normalise_phone(raw, country)
        if phone is None:
            rejects.append((line, reason, cells))
            continue
        fields = {
            names[i]: (cells[i] if i < len(cells) else "") for i in range(width) if i != phone_index
        }
        good.append((phone, dumps(fields), line))
    return good, rejects


def _chunks(records, size):
    chunk = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- writing -------------------------------------------------------------------------


class _ContactWriter:
    """Inserts (phone, fields, position) batches for one list; duplicates are skipped.

    Raw cursor calls on purpose: peewee's insert_many builds each row in Python
    (30-50 us/row measured), which alone would take 30+ s for a million rows;
    sqlite3's executemany and psycopg2's execute_values take ~5 us/row.
    """

    def __init__(self, db, list_id):
        self.db, self.list_id = db, list_id
        self.postgres = is_postgres(db)
        table = Contact._meta.table_name
        columns = '"contact_list_id", "phone", "fields", "position"'
        if self.postgres:
            self.sql = f'INSERT INTO "{table}" ({columns}) VALUES %s ON CONFLICT DO NOTHING'
        else:
            self.sql = (
                f'INSERT INTO "{table}" ({columns}) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'
            )

    def write(self, rows) -> int:
        """Insert ``rows``; return how many were new (the rest were duplicates)."""
        if not rows:
            return 0
        list_id = self.list_id
        params = [(list_id, phone, fields, line) for phone, fields, line in rows]
        cursor = self.db.cursor()
        if self.postgres:
            from psycopg2.extras import execute_values

            execute_values(cursor, self.sql, params, page_size=len(params))
        else:
            cursor.executemany(self.sql, params)
        return cursor.rowcount


class _RejectsWriter:
    """The rejects CSV, opened on the first reject."""

    def __init__(self, path: Path, columns):
        self.path, self.columns = path, list(columns)
        self.handle = self.writer = None
        self.count = 0

    def write(self, rejects):
        if not rejects:
            return
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # utf-8-sig: spreadsheet programs then read accents right.
            self.handle = open(self.path, "w", encoding="utf-8-sig", newline="")
            self.writer = csv.writer(self.handle)
            self.writer.writerow(["line", "reason", *self.columns])
        for line, reason, cells in rejects:
            self.writer.writerow([line, reason, *cells])
        self.count += len(rejects)

    def close(self):
        if self.handle is not None:
            self.handle.close()


def rejects_path_for(list_id: int) -> Path:
    return get_settings().export_dir / "rejects" / f"contact-list-{list_id}-rejects.csv"


def rejects_file(list_id: int) -> Path | None:
    """The rejects CSV of a list, if it has one (only ever a file under EXPORT_DIR)."""
    contact_list = ContactList.get_or_none(ContactList.id == list_id)
    if contact_list is None or not contact_list.rejects_path:
        return None
    path = Path(contact_list.rejects_path).resolve()
    root = get_settings().export_dir.resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


# --- the import ------------------------------------------------------------------------


def create_contact_list(
    name: str,
    path,
    country: str = "US",
    phone_column: str | None = None,
    source_filename: str = "",
    created_by=None,
    **overrides,
) -> tuple[ContactList, ImportPlan]:
    """Check an uploaded file and create its list in status ``importing``.

    The caller then sends ``import_contact_list`` (after the commit).

    Raises:
        ValidationError: the file cannot be imported (no phone column, ...).
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError("a contact list needs a name")
    plan = plan_import(path, country, phone_column, **overrides)
    contact_list = ContactList.create(
        name=name,
        source_filename=(source_filename or Path(path).name)[:255],
        default_country=plan.country,
        phone_column=plan.phone_column,
        columns=plan.other_columns,
        status=IMPORTING,
        created_by=created_by,
    )
    log.info("contact list created list=%s file=%s", contact_list.id, path)
    return contact_list, plan


def _save_progress(list_id, **counters):
    ContactList.update(**counters).where(ContactList.id == list_id).execute()


def import_contact_list(
    list_id: int,
    path,
    delimiter: str | None = None,
    has_header: bool | None = None,
    encoding: str | None = None,
    workers: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ContactList:
    """Import ``path`` into list ``list_id`` and mark it ready (or failed).

    Safe to run again: a list already ``ready`` is left alone; a list left
    ``importing`` by a crash is emptied and imported from the start.
    ``workers``: normalising processes (default: one per core for files over
    2 MB, none for smaller files).

    Raises:
        NotFoundError: no such list.
        ValidationError: the file cannot be imported; the list is marked failed.
    """
    contact_list = ContactList.get_or_none(ContactList.id == list_id)
    if contact_list is None:
        raise NotFoundError(f"contact list {list_id} does not exist")
    if contact_list.status == READY:
        log.info("contact list already imported list=%s", list_id)
        return contact_list
    db = database.obj
    try:
        plan = plan_import(
            path,
            contact_list.default_country,
            contact_list.phone_column or None,
            delimiter=delimiter,
            has_header=has_header,
            encoding=encoding,
        )
        with db.atomic():
            # A previous run that died half-way left rows: start over.
            Contact.delete().where(Contact.contact_list == list_id).execute()
            _save_progress(
                list_id,
                status=IMPORTING,
                phone_column=plan.phone_column,
                columns=plan.other_columns,
                rows_total=0,
                rows_imported=0,
                rows_rejected=0,
                rows_duplicate=0,
                rejects_path="",
                error="",
            )
        counts = _run_import(db, list_id, plan, workers, chunk_rows)
    except Exception as exc:
        log.exception("contact import failed list=%s", list_id)
        message = str(exc) if isinstance(exc, ValidationError) else f"import failed: {exc}"
        if db.in_transaction():
            db.rollback()
        _save_progress(list_id, status=FAILED, error=message[:2000])
        raise
    _save_progress(list_id, status=READY, **counts)
    log.info(
        "contact list imported list=%s total=%s imported=%s rejected=%s duplicate=%s",
        list_id,
        counts["rows_total"],
        counts["rows_imported"],
        counts["rows_rejected"],
        counts["rows_duplicate"],
    )
    return ContactList.get_by_id(list_id)


def _normalised(chunks, spec: ChunkSpec, workers: int):
    """normalise_chunk() of each chunk, in file order: here, or in ``workers`` processes."""
    if workers <= 0:
        for chunk in chunks:
            yield normalise_chunk(chunk, spec)
        return
    # spawn, not fork: the caller is often a threaded Dramatiq worker.
    # An executor, not multiprocessing.Pool: a worker that dies (OOM
    # killer) raises BrokenProcessPool here instead of hanging forever.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending = deque()
        window = 2 * workers + 1  # enough to keep every worker busy, no more
        for chunk in chunks:
            pending.append(pool.submit(normalise_chunk, chunk, spec))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _run_import(db, list_id, plan, workers, chunk_rows) -> dict:
    spec = ChunkSpec(plan.country, plan.phone_index, tuple(plan.columns))
    if workers is None:
        big = os.path.getsize(plan.path) >= POOL_MIN_BYTES
        workers = (os.cpu_count() or 1) if big else 0
    rejects = _RejectsWriter(rejects_path_for(list_id), plan.columns)
    writer = _ContactWriter(db, list_id)
    counts = dict(rows_total=0, rows_imported=0, rows_rejected=0, rows_duplicate=0)
    results = _normalised(_chunks(read_records(plan), chunk_rows), spec, workers)
    buffered, rejected = [], 0  # normalised rows not inserted yet
    since = time.monotonic()

    def flush():
        # One short transaction per COMMIT_ROWS rows: each commit writes every
        # index page it dirtied to the WAL, and random phones dirty pages all
        # over the unique index, so 5,000-row transactions rewrote it again and
        # again. The rows wait in memory, not in an open transaction, so other
        # writers (the AGI daemon's 250 ms busy timeout) only wait for the insert.
        nonlocal buffered, rejected, since
        with db.atomic():
            inserted = writer.write(buffered)
            counts["rows_total"] += len(buffered) + rejected
            counts["rows_imported"] += inserted
            counts["rows_rejected"] += rejected
            counts["rows_duplicate"] += len(buffered) - inserted
            _save_progress(list_id, **counts)
        buffered, rejected, since = [], 0, time.monotonic()

    try:
        for good, bad in results:
            rejects.write(bad)
            buffered += good
            rejected += len(bad)
            if len(buffered) >= COMMIT_ROWS or time.monotonic() - since >= COMMIT_SECONDS:
                flush()
        flush()
    finally:
        results.close()  # stops the workers if an insert failed
        rejects.close()
    if rejects.count:
        counts["rejects_path"] = str(rejects.path)
    return counts
