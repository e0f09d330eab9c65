"""The end of a campaign, second half: finalization, step by step.

A FINALIZING campaign goes through ``STEPS`` in order. ``CampaignReport.step``
names the last one done; each step claims its turn with a conditional update
of that column inside its own transaction (``step == previous``), so

- a step is done once, even when two finalizers race (the loser's claim
  updates no row and it rolls back);
- a crash (``kill -9``) anywhere rolls back the step in progress, and the
  redelivered message carries on from the last committed step.

Files are written to a temporary name, fsync'd and renamed before the step that
records them commits, and their content depends only on the data: a step redone
after a crash writes the same bytes again.

Every query aggregates in the database or pages through an index, so a
campaign of a million events is finalized in bounded memory.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import uuid
import zipfile
from pathlib import Path

from app.campaigns import get_campaign, transition
from app.chains import release_lease, renew_lease
from app.config import get_settings
from app.db import database, is_postgres
from app.models import CLOSED, FINALIZING, CampaignOption, CampaignReport
from app.reports import (
    NOT_CALLED,
    PAGE,
    build_report,
    chart_images,
    export_folder,
    sql,
    write_atomically,
    write_csv,
)

log = logging.getLogger(__name__)

RESULTS, REPORT, CSV_EXPORT, CHARTS, ARCHIVE, PURGE, CLOSE = (
    "results",
    "report",
    "csv",
    "charts",
    "archive",
    "purge",
    "closed",
)
STEPS = (RESULTS, REPORT, CSV_EXPORT, CHARTS, ARCHIVE, PURGE, CLOSE)
ARCHIVE_LEVEL = 1  # zlib level: level 6 costs ~3x the time for ~15% less size
ZIP_DATE = (2000, 1, 1, 0, 0, 0)  # fixed member dates: the same data, the same bytes


class StepTakenError(Exception):
    """Another finalizer committed this step first (internal: rolls the step back)."""


def previous_step(step: str) -> str:
    index = STEPS.index(step)
    return STEPS[index - 1] if index else ""


def next_step(done: str) -> str | None:
    """The step after ``done`` ('' = none done yet); None when all are done."""
    if done == "":
        return STEPS[0]
    index = STEPS.index(done)
    return STEPS[index + 1] if index + 1 < len(STEPS) else None


def ensure_report_row(campaign_id: int, now) -> CampaignReport:
    """The campaign's CampaignReport, created empty when the drain did not create it."""
    CampaignReport.insert(
        campaign=campaign_id, step="", data={}, created_at=now, updated_at=now
    ).on_conflict_ignore().execute()
    return CampaignReport.get(CampaignReport.campaign == campaign_id)


def _claim(campaign_id: int, step: str, now, **values) -> None:
    """Mark ``step`` done if the previous one is the last done (call inside the step's transaction).

    Raises:
        StepTakenError: another finalizer got there first.
    """
    updated = (
        CampaignReport.update(step=step, updated_at=now, **values)
        .where(
            (CampaignReport.campaign == campaign_id)
            & (CampaignReport.step == previous_step(step))
        )
        .execute()
    )
    if updated != 1:
        raise StepTakenError(step)


# --- the per-contact fold --------------------------------------------------------

# Small integer codes so that one MAX() per contact picks "the latest" of a kind.
FAILURE_CODES = {"busy": 1, "noanswer": 2, "congestion": 3, "unavailable": 4, "failed": 5}
DIGIT_CODES = {d: i for i, d in enumerate("0123456789*#")}


def _case(expr: str, mapping: dict, prefix: str, invert: bool) -> str:
    if invert:
        whens = " ".join(f"WHEN {code} THEN '{name}'" for name, code in mapping.items())
    else:
        whens = " ".join(f"WHEN '{prefix}{name}' THEN {code}" for name, code in mapping.items())
    return f"CASE {expr} {whens} END"


def _aggregate_sql() -> str:
    """One row per contact with events: the figures the outcome rule needs, in contact order.

    Read through the (campaign, contact, attempt, name) index, so the groups come
    out already sorted; FILTER feeds each aggregate only the rows it concerns.
    """
    pg = is_postgres()
    event_id = "CAST(id AS BIGINT)" if pg else "id"
    fail_code = _case("name", FAILURE_CODES, "failed-", invert=False)
    digit_code = _case("name", DIGIT_CODES, "dtmf-", invert=False)
    if pg:
        # a locale collation may ignore punctuation when comparing: match the pattern
        is_dtmf, is_failed = "name LIKE 'dtmf-%'", "name LIKE 'failed-%'"
    else:
        # SQLite compares bytes: a range is cheaper than LIKE on every row
        # ('.' follows '-', so every 'dtmf-X' lies between 'dtmf-' and 'dtmf.')
        is_dtmf = "(name > 'dtmf-' AND name < 'dtmf.')"
        is_failed = "(name > 'failed-' AND name < 'failed.')"
    return f"""
    SELECT contact_id,
      MAX(attempt) AS max_attempt,
      MIN(received_at) FILTER (WHERE name IN ('answered', 'timeout', 'invalid') OR {is_dtmf})
        AS answered_at,
      MAX(received_at) FILTER (WHERE name = 'hangup') AS hangup_at,
      MAX(attempt) FILTER (WHERE name = 'hangup') AS hangup_attempt,
      MAX(attempt * 16 + {fail_code}) FILTER (WHERE {is_failed}) AS fail_key,
      MAX({event_id} * 16 + {digit_code}) FILTER (WHERE {is_dtmf}) AS digit_key,
      MAX(received_at) AS last_event_at
    FROM call_event WHERE campaign_id = ?
    GROUP BY contact_id"""


def _base_sql(with_list: bool) -> str:
    """The campaign's contacts: its list's, or (no list) those the dialer seeded."""
    if with_list:
        return "c.contact_list_id = ?"
    return "c.id IN (SELECT contact_id FROM campaign_contact WHERE campaign_id = ?)"


RESULT_COLUMNS = (
    "campaign_id, contact_id, phone, outcome, attempts, digit, digit_label, "
    "answered_at, talk_seconds, last_attempt_at"
)


def results_sql(with_list: bool, option_count: int = 0) -> str:
    """INSERT ... SELECT that folds the events of each contact that has some into its result row.

    The rule is the dialer's per-attempt rule (``app.dialer.facts_of``) applied
    to the contact's last attempt, in one set-based pass: answered if any
    attempt shows a sign of an answer (answered, a digit, timeout, invalid) —
    even when its hangup event never came, since the person was reached; else
    the failure reason of its last attempt; else 'failed' for a last attempt
    that hung up unanswered; else 'dnc' when the dialer skipped it as
    do-not-call; else 'lost' (its last attempt has no outcome and the PBX no
    longer has it: the reconciliation rule). Attempts are the dialer's counter
    or the events' highest attempt, whichever is larger; the digit is the last
    one pressed; talk time runs from the first answer sign to 'hangup'.

    The aggregate drives the join (contacts looked up by primary key in the
    same order), so no temporary index is built over 300,000 groups.
    Parameters: campaign, the option (digit, label) pairs, campaign (events),
    campaign (dial state), list or campaign (``_base_sql``).
    """
    if is_postgres():
        talk = "CAST(ROUND(EXTRACT(EPOCH FROM (a.hangup_at - a.answered_at))) AS INTEGER)"
        join = "JOIN"
    else:
        talk = "CAST(ROUND((julianday(a.hangup_at) - julianday(a.answered_at)) * 86400) AS INTEGER)"
        join = "CROSS JOIN"  # SQLite: keeps the aggregate as the outer loop
    fail_name = _case("a.fail_key % 16", FAILURE_CODES, "", invert=True)
    digit_name = _case("a.digit_key % 16", DIGIT_CODES, "", invert=True)
    dialed = "COALESCE(cc.attempts, 0)"
    # the option labels are bound parameters of a CASE: no join, no lookup per contact
    whens = " ".join("WHEN ? THEN ?" for _ in range(option_count))
    label = f"CASE r.digit {whens} ELSE '' END" if option_count else "''"
    return sql(
        f"""
INSERT INTO contact_result ({RESULT_COLUMNS})
SELECT ?, r.contact_id, r.phone, r.outcome, r.attempts, r.digit,
       {label}, r.answered_at, r.talk_seconds, r.last_event_at
FROM (
  SELECT c.id AS contact_id, c.phone AS phone,
    CASE
      WHEN a.answered_at IS NOT NULL THEN 'answered'
      WHEN a.fail_key / 16 >= a.max_attempt AND a.fail_key / 16 >= {dialed} THEN {fail_name}
      WHEN a.hangup_attempt >= a.max_attempt AND a.hangup_attempt >= {dialed} THEN 'failed'
      WHEN cc.last_outcome = 'dnc' THEN 'dnc'
      ELSE 'lost'
    END AS outcome,
    CASE WHEN {dialed} > a.max_attempt THEN {dialed} ELSE a.max_attempt END AS attempts,
    CASE WHEN a.digit_key IS NULL THEN '' ELSE {digit_name} END AS digit,
    a.answered_at AS answered_at,
    CASE WHEN a.hangup_at >= a.answered_at THEN {talk} END AS talk_seconds,
    a.last_event_at AS last_event_at
  FROM ({_aggregate_sql()}
  ) a
  {join} contact c ON c.id = a.contact_id
  LEFT JOIN campaign_contact cc ON cc.campaign_id = ? AND cc.contact_id = c.id
  WHERE {_base_sql(with_list)}
) r
"""
    )


def silent_results_sql(with_list: bool) -> str:
    """INSERT ... SELECT of the result of each contact with no event (run after ``results_sql``).

    'dnc' when the dialer skipped it as do-not-call, 'not_called' when it was
    never dialed, else 'lost' (dialed, but no event ever came back).
    Parameters: campaign, campaign (dial state), list or campaign, campaign (results).
    """
    dialed = "COALESCE(cc.attempts, 0)"
    return sql(
        f"""
INSERT INTO contact_result ({RESULT_COLUMNS})
SELECT ?, c.id, c.phone,
  CASE WHEN cc.last_outcome = 'dnc' THEN 'dnc'
       WHEN {dialed} = 0 THEN '{NOT_CALLED}'
       ELSE 'lost' END,
  {dialed}, '', '', NULL, NULL, NULL
FROM contact c
LEFT JOIN campaign_contact cc ON cc.campaign_id = ? AND cc.contact_id = c.id
WHERE {_base_sql(with_list)}
  AND NOT EXISTS (SELECT 1 FROM contact_result r WHERE r.campaign_id = ? AND r.contact_id = c.id)
"""
    )


def fold_results(campaign_id: int, contact_list_id: int | None) -> int:
    """Insert one ContactResult per contact of the campaign; return how many."""
    with_list = contact_list_id is not None
    base = contact_list_id if with_list else campaign_id
    labels = [
        value
        for option in CampaignOption.select()
        .where(CampaignOption.campaign == campaign_id)
        .order_by(CampaignOption.digit)
        for value in (option.digit, option.label)
    ]
    params = (campaign_id, *labels, campaign_id, campaign_id, base)
    folded = database.execute_sql(results_sql(with_list, len(labels) // 2), params).rowcount
    count_sql = (
        "SELECT COUNT(*) FROM contact WHERE contact_list_id = ?"
        if with_list
        else "SELECT COUNT(*) FROM campaign_contact WHERE campaign_id = ?"
    )
    (contacts,) = database.execute_sql(sql(count_sql), (base,)).fetchone()
    if folded < contacts:  # some contacts have no event at all
        params = (campaign_id, campaign_id, base, campaign_id)
        folded += database.execute_sql(silent_results_sql(with_list), params).rowcount
    return folded


# --- steps ------------------------------------------------------------------------


def step_results(campaign_id: int, now) -> None:
    campaign = get_campaign(campaign_id)
    if is_postgres():
        # fresh statistics for the fold's plan (~0.2 s): events imported or
        # replayed in bulk since autovacuum last looked would make the planner
        # guess, and a bad guess costs seconds over a million rows
        database.execute_sql("ANALYZE call_event, campaign_contact, contact")
    with database.atomic():
        _claim(campaign_id, RESULTS, now)
        database.execute_sql(sql("DELETE FROM contact_result WHERE campaign_id = ?"), (campaign_id,))
        count = fold_results(campaign_id, campaign.contact_list_id)
    if is_postgres():
        # the CSV pages through these rows: with the statistics of an empty
        # table the planner sorted all 330,000 of them for every page (0.4 s each)
        database.execute_sql("ANALYZE contact_result")
    log.info("campaign=%s results: %s contacts", campaign_id, count)


def step_report(campaign_id: int, now) -> None:
    data = build_report(campaign_id)
    with database.atomic():
        # the claim (a write) comes first in every step: on SQLite a transaction
        # that reads before it writes can fail at once instead of waiting its turn
        _claim(campaign_id, REPORT, now)
        row = CampaignReport.get(CampaignReport.campaign == campaign_id)
        # keep what the drain recorded (calls still up, how the drain ended)
        row.data = {**(row.data or {}), **data}
        row.save(only=[CampaignReport.data])
    log.info("campaign=%s report: %s contacts, %s answered", campaign_id, data["contacts"], data["answered"])


def step_csv(campaign_id: int, now) -> None:
    path = export_folder(get_settings().export_dir, campaign_id) / "contacts.csv"
    counted = {}

    def write(handle):
        if is_postgres():
            with database.atomic():  # one snapshot for every page
                counted["rows"] = write_csv(campaign_id, handle)
        else:
            counted["rows"] = write_csv(campaign_id, handle)

    write_atomically(path, write)
    with database.atomic():
        _claim(campaign_id, CSV_EXPORT, now, csv_path=str(path))
    log.info("campaign=%s csv: %s rows in %s", campaign_id, counted.get("rows"), path)


def step_charts(campaign_id: int, now) -> None:
    row = CampaignReport.get(CampaignReport.campaign == campaign_id)
    folder = export_folder(get_settings().export_dir, campaign_id)
    paths = {}
    for name, png in chart_images(row.data).items():
        path = folder / f"{name}.png"
        write_atomically(path, lambda handle, png=png: handle.write(png))
        paths[name] = str(path)
    with database.atomic():
        _claim(campaign_id, CHARTS, now, charts=paths)
    log.info("campaign=%s charts: %s", campaign_id, ", ".join(sorted(paths)))


# What the archive keeps: the campaign's events and attempts (campaign_contact is
# only the dialer's working copy of what the results now hold), each in the order
# of its unique index, which is also how the pages are read.
ARCHIVED = (
    (
        "call_event",
        ("id", "campaign_id", "contact_id", "attempt", "name", "received_at",
         "uniqueid", "channel", "source", "data"),
        ("contact_id", "attempt", "name"),
    ),
    (
        "call_attempt",
        ("id", "campaign_id", "contact_id", "number", "state", "channel_id", "originated_at",
         "answered_at", "finished_at", "outcome", "digit", "hangup_cause"),
        ("contact_id", "number"),
    ),
)


INTEGER_COLUMNS = {"id", "campaign_id", "contact_id", "attempt", "number"}
DATETIME_COLUMNS = {"received_at", "originated_at", "answered_at", "finished_at"}
_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_COPY_ESCAPE_RE = re.compile(r"\\(.)")


def _copy_value(text: str):
    """One field of COPY's text format: \\N is NULL, backslash escapes undone."""
    if text == "\\N":
        return None
    return _COPY_ESCAPE_RE.sub(lambda m: _COPY_ESCAPES.get(m.group(1), m.group(1)), text)


class _CopyIntoSqlite:
    """A file for ``copy_expert``: COPY ... TO STDOUT rows (text format) go into SQLite.

    psycopg2 writes each CopyData message as it arrives (one row, usually), so
    rows stream from PostgreSQL into the archive in bounded memory, and no
    Python object is made per value except the strings themselves.
    """

    def __init__(self, out, insert: str):
        self.out, self.insert = out, insert
        self.tail = b""
        self.rows = []
        self.count = 0

    def write(self, data) -> int:
        if isinstance(data, str):
            data = data.encode()
        lines = (self.tail + data).split(b"\n")
        self.tail = lines.pop()  # b"" after a whole row
        for line in lines:
            text = line.decode()
            if "\\" in text:  # an escape or a NULL: the slow path
                self.rows.append([_copy_value(v) for v in text.split("\t")])
            else:
                self.rows.append(text.split("\t"))
        if len(self.rows) >= PAGE:
            self.flush()
        return len(data)

    def flush(self):
        if self.rows:
            self.out.executemany(self.insert, self.rows)
            self.count += len(self.rows)
            self.rows = []


def _copy_select(column: str) -> str:
    """``column`` as COPY should print it: timestamps as Python's isoformat(" ") prints them."""
    if column not in DATETIME_COLUMNS:
        return column
    return (
        f"CASE WHEN date_part('microseconds', {column})::integer % 1000000 = 0 "
        f"THEN to_char({column}, 'YYYY-MM-DD HH24:MI:SS') "
        f"ELSE to_char({column}, 'YYYY-MM-DD HH24:MI:SS.US') END"
    )


def _archive_ddl(table: str, columns) -> str:
    types = ", ".join(f"{c} {'INTEGER' if c in INTEGER_COLUMNS else 'TEXT'}" for c in columns)
    return f"CREATE TABLE {table} ({types})"


def build_archive_db(campaign_id: int, target: Path) -> dict:
    """Copy the campaign's events and attempts into a new SQLite file; rows per table.

    On SQLite the copy is one ``CREATE TABLE ... AS SELECT`` per table into an
    attached file: no row passes through Python. On PostgreSQL each table is one
    ``COPY (SELECT ... ORDER BY key) TO STDOUT`` streamed into the file.
    """
    target.unlink(missing_ok=True)
    counts = {}
    if not is_postgres():
        database.execute_sql("ATTACH DATABASE ? AS archive", (str(target),))
        try:
            database.execute_sql("PRAGMA archive.journal_mode = OFF")
            database.execute_sql("PRAGMA archive.synchronous = OFF")
            with database.atomic():
                for table, columns, key in ARCHIVED:
                    database.execute_sql(
                        f"CREATE TABLE archive.{table} AS SELECT {', '.join(columns)} "
                        f"FROM main.{table} WHERE campaign_id = ? ORDER BY {', '.join(key)}",
                        (campaign_id,),
                    )
                    (counts[table],) = database.execute_sql(
                        f"SELECT COUNT(*) FROM archive.{table}"
                    ).fetchone()
        finally:
            database.execute_sql("DETACH DATABASE archive")
        return counts
    out = sqlite3.connect(target, isolation_level=None)
    try:
        out.execute("PRAGMA journal_mode = OFF")
        out.execute("PRAGMA synchronous = OFF")
        out.execute("BEGIN")
        with database.atomic():  # one snapshot for both tables
            for table, columns, key in ARCHIVED:
                out.execute(_archive_ddl(table, columns))
                sink = _CopyIntoSqlite(
                    out, f"INSERT INTO {table} VALUES ({', '.join('?' for _ in columns)})"
                )
                database.cursor().copy_expert(
                    f"COPY (SELECT {', '.join(_copy_select(c) for c in columns)} FROM {table} "
                    f"WHERE campaign_id = {int(campaign_id)} ORDER BY {', '.join(key)}) TO STDOUT",
                    sink,
                )
                sink.flush()
                counts[table] = sink.count
        out.execute("COMMIT")
    finally:
        out.close()
    return counts


def gzip_file(source: Path, handle) -> None:
    """``source`` gzip-compressed into binary ``handle``; no name or time in the header."""
    with open(source, "rb") as src, gzip.GzipFile(
        fileobj=handle, mode="wb", compresslevel=ARCHIVE_LEVEL, mtime=0, filename=""
    ) as gz:
        shutil.copyfileobj(src, gz, 1 << 20)


def read_archive(path, table: str) -> list[dict]:
    """Every row of ``table`` (call_event, call_attempt) in an archive, as dicts (small archives)."""
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "archive.sqlite3"
        with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        con = sqlite3.connect(plain)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(f"SELECT * FROM {table} ORDER BY rowid")]
        finally:
            con.close()


def step_archive(campaign_id: int, now) -> None:
    folder = export_folder(get_settings().export_dir, campaign_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "archive.sqlite3.gz"
    plain = folder / f".tmp-archive-{os.getpid()}-{uuid.uuid4().hex[:8]}.sqlite3"
    try:
        counts = build_archive_db(campaign_id, plain)
        write_atomically(path, lambda handle: gzip_file(plain, handle))
    finally:
        plain.unlink(missing_ok=True)
    with database.atomic():
        _claim(campaign_id, ARCHIVE, now, archive_path=str(path))
    log.info("campaign=%s archive: %s in %s", campaign_id, counts, path)


def step_purge(campaign_id: int, now) -> None:
    with database.atomic():
        _claim(campaign_id, PURGE, now)
        deleted = {
            table: database.execute_sql(
                sql(f"DELETE FROM {table} WHERE campaign_id = ?"), (campaign_id,)
            ).rowcount
            for table in ("call_event", "call_attempt", "campaign_contact")
        }
    log.info("campaign=%s purged working rows %s", campaign_id, deleted)


def step_close(campaign_id: int, now) -> None:
    with database.atomic():
        _claim(campaign_id, CLOSE, now)
        campaign = transition(campaign_id, CLOSED, now)
        release_lease(campaign_id, campaign.tick_token)
    log.info("campaign=%s closed", campaign_id)


RUNNERS = {
    RESULTS: step_results,
    REPORT: step_report,
    CSV_EXPORT: step_csv,
    CHARTS: step_charts,
    ARCHIVE: step_archive,
    PURGE: step_purge,
    CLOSE: step_close,
}


def finalize(campaign_id: int, now, token: str | None = None, stop_after: str | None = None) -> str:
    """Run the steps left for a FINALIZING campaign; return the last step done.

    With ``token`` each step first renews that finalize chain's lease, and the
    run stops (returning the last step done) once another chain holds the
    campaign. ``stop_after`` stops after that step (tests, benchmarks).
    A CLOSED campaign returns 'closed' at once; any other state is left alone.
    """
    campaign = get_campaign(campaign_id)
    if campaign.state == CLOSED:
        return CLOSE
    if campaign.state != FINALIZING:
        log.warning("campaign=%s is %s, not FINALIZING: nothing to finalize", campaign_id, campaign.state)
        return ""
    if not is_postgres():
        # the results fold and the report sort hundreds of thousands of rows:
        # keep SQLite's temporary b-trees in memory rather than in temp files
        database.execute_sql("PRAGMA temp_store = MEMORY")
    done = ensure_report_row(campaign_id, now).step
    while (step := next_step(done)) is not None:
        if token is not None and not renew_lease(campaign_id, FINALIZING, token, now):
            log.info("campaign=%s finalize chain %s no longer holds the lease", campaign_id, token)
            break
        try:
            RUNNERS[step](campaign_id, now)
        except StepTakenError:
            # another finalizer committed this step while we ran it: go on from there
            log.info("campaign=%s step %s was done by another finalizer", campaign_id, step)
        done = CampaignReport.get(CampaignReport.campaign == campaign_id).step
        if stop_after is not None and STEPS.index(done) >= STEPS.index(stop_after):
            break
    return done


def report_files(campaign_id: int) -> list[Path]:
    """The export files a closed campaign left (CSV, charts, archive)."""
    row = CampaignReport.get_or_none(CampaignReport.campaign == campaign_id)
    if row is None:
        return []
    paths = [row.csv_path, row.archive_path, *(row.charts or {}).values()]
    return [Path(p) for p in paths if p]


# --- events that arrive after the close ---------------------------------------------


def campaigns_with_late_events() -> list[int]:
    """CLOSED campaigns with events in the working table again (a journal replayed late)."""
    query = sql(
        "SELECT DISTINCT e.campaign_id FROM call_event e JOIN campaign c ON c.id = e.campaign_id "
        "WHERE c.state = ? ORDER BY e.campaign_id"
    )
    return [row[0] for row in database.execute_sql(query, (CLOSED,)).fetchall()]


def archive_late_events(campaign_id: int, now) -> int:
    """Move a CLOSED campaign's late events to a zip next to its archive; return how many.

    An event Asterisk handed over is never dropped: it is archived (and counted
    in the report's ``late_events``) before it leaves the working table.
    """
    (last_id,) = database.execute_sql(
        sql("SELECT MAX(id) FROM call_event WHERE campaign_id = ?"), (campaign_id,)
    ).fetchone()
    if last_id is None:
        return 0
    columns = ARCHIVED[0][1]
    rows = database.execute_sql(
        sql(f"SELECT {', '.join(columns)} FROM call_event WHERE campaign_id = ? AND id <= ? ORDER BY id"),
        (campaign_id, last_id),
    ).fetchall()
    path = export_folder(get_settings().export_dir, campaign_id) / (
        f"late-events-{now.strftime('%Y%m%dT%H%M%S')}-{last_id}.zip"
    )

    def write(handle):
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            info = zipfile.ZipInfo("events.csv", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                writer = csv.writer(text)
                writer.writerow(columns)
                writer.writerows(rows)
                text.flush()
                text.detach()

    write_atomically(path, write)
    with database.atomic():
        deleted = database.execute_sql(
            sql("DELETE FROM call_event WHERE campaign_id = ? AND id <= ?"), (campaign_id, last_id)
        ).rowcount
        row = CampaignReport.get_or_none(CampaignReport.campaign == campaign_id)
        if row is not None:
            late = list((row.data or {}).get("late_events", []))
            late.append({"path": str(path), "events": len(rows), "archived_at": now.isoformat()})
            row.data = {**(row.data or {}), "late_events": late}
            row.save(only=[CampaignReport.data])
    log.warning("campaign=%s: %d events arrived after the close; archived to %s", campaign_id, deleted, path)
    return deleted
