"""The writer thread: group-commits queued events, or journals them.

The event loop hands each event over with ``submit`` and goes on accepting;
this thread takes whatever is queued (up to ``batch_max``), inserts it in one
transaction with ``ON CONFLICT DO NOTHING`` and then tells the waiting
connections, all at once, that their events are durable. If the database
refuses (down, locked, any error), the batch goes to the local journal
instead, fsync'd, and the connections are released just the same. While the
journal holds events every new batch is appended behind them, so events reach
the database in the order they arrived; the journal is replayed in slices
between batches and truncated once all of it is committed.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from datetime import datetime, timezone

import peewee
from peewee import DataError, IntegrityError, PostgresqlDatabase

from agi import quarantine
from agi.errors import JournalError
from app.models import CallEvent

log = logging.getLogger(__name__)

STORED_DB = "db"
STORED_JOURNAL = "journal"
LOST = "lost"

COLUMNS = ("campaign_id", "contact_id", "attempt", "name", "received_at", "uniqueid",
           "channel", "source", "data")
# call_event's column types on PostgreSQL, for the unnest() arrays
PG_TYPES = {"campaign_id": "integer", "contact_id": "integer", "attempt": "integer",
            "name": "varchar", "received_at": "timestamp", "uniqueid": "varchar",
            "channel": "varchar", "source": "varchar", "data": "text"}
REPLAY_CHUNK = 1000
BATCH_WAIT_FROM = 32  # events in the last batch from which the writer waits batch_wait
REPLAY_SLICE_SECONDS = 0.05
QUARANTINE_QUEUE_MAX = 1000  # rows waiting for the writer; beyond, they are counted only
# peewee's own mapping of driver exceptions (sqlite3, psycopg2) to its classes.
_exception_wrapper = peewee.__exception_wrapper__


def _row_builder():
    """A function Event -> row tuple, using the model's own conversions where they matter."""
    fields = CallEvent._meta.fields
    when = fields["received_at"].db_value
    data = fields["data"].db_value

    def row(e):
        return (e.campaign_id, e.contact_id, e.attempt, e.name, when(e.received_at),
                e.uniqueid, e.channel, e.source, data(e.data))

    return row


class EventWriter:
    """Owns the database connection of the daemon (one thread, one connection).

    ``notify(waiters, stored)`` is called from the writer thread once per batch,
    with ``stored`` in ``db``, ``journal`` or ``lost``; the server turns it into
    one ``call_soon_threadsafe`` so a batch costs the event loop one wake-up.
    """

    def __init__(self, db, journal, metrics, notify, *, batch_max=500, batch_wait=0.002,
                 busy_timeout_ms=250, statement_timeout_ms=3000, retry_interval=0.5,
                 heartbeat_interval=10.0, heartbeat=None, on_stored=None):
        self.db = db
        self.journal = journal
        self.metrics = metrics
        self.notify = notify
        self.batch_max = batch_max
        self.batch_wait = batch_wait
        self.busy_timeout_ms = busy_timeout_ms
        self.statement_timeout_ms = statement_timeout_ms
        self.retry_interval = retry_interval
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat = heartbeat  # callable(now) run in this thread, or None
        self.on_stored = on_stored  # callable(events) after a commit (agi.refill.Nudger.stored)
        self.is_postgres = isinstance(db, PostgresqlDatabase)
        # A deque plus a wake-up event rather than a queue.Queue: putting into a
        # queue wakes the writer (and hands it the GIL) once per event, which
        # stalls the event loop; here the loop wakes the writer at most once per
        # batch, only when it sleeps.
        self._pending = collections.deque()
        self._quarantined = collections.deque()
        self._wake = threading.Event()
        self._sleeping = False
        self._stop_requested = False
        self._thread = threading.Thread(target=self._run, name="agi-writer", daemon=True)
        self._row = _row_builder()
        cols = ", ".join(f'"{c}"' for c in COLUMNS)
        table = CallEvent._meta.table_name
        if self.is_postgres:
            # One array per column, unnested by the server: psycopg2 adapts a
            # list in C, where a multi-row VALUES is mogrified row by row in Python.
            # Prepared once per connection: a batch is then one EXECUTE, not
            # parsed and planned again.
            arrays = ", ".join(f"${i}::{PG_TYPES[c]}[]" for i, c in enumerate(COLUMNS, 1))
            self._prepare = (f'PREPARE callcast_insert_events AS INSERT INTO "{table}" ({cols}) '
                             f"SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING")
            self._sql = f"EXECUTE callcast_insert_events ({', '.join('%s' for _ in COLUMNS)})"
        else:
            marks = ", ".join("?" for _ in COLUMNS)
            self._sql = f'INSERT INTO "{table}" ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING'
        self._retry_at = 0.0
        self._next_beat = 0.0
        self._last_batch = 0

    # -- event loop side ---------------------------------------------------

    def start(self):
        self._thread.start()

    def submit(self, event, waiter):
        """Queue ``event``; ``waiter`` comes back through ``notify`` once it is durable."""
        self._pending.append((event, waiter))
        if self._sleeping:
            self._sleeping = False
            self._wake.set()

    def quarantine(self, record):
        """Queue a ``quarantine.Quarantined`` row (best effort: never journaled)."""
        if len(self._quarantined) >= QUARANTINE_QUEUE_MAX:
            self.metrics.quarantine_dropped.inc()
            return
        self._quarantined.append(record)
        if self._sleeping:
            self._sleeping = False
            self._wake.set()

    def stop(self, timeout=None):
        """Write everything queued so far, then end the thread; True if it ended."""
        self._stop_requested = True
        self._wake.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def degraded(self):
        return self.journal.depth > 0

    # -- writer thread -----------------------------------------------------

    def _run(self):
        if self.journal.depth:
            # Replayed in slices between batches: events arriving meanwhile go
            # behind them in the journal, so the order holds and no caller
            # waits for the whole replay.
            log.warning("journal holds %d events from a previous run; replaying them first",
                        self.journal.depth)
            self._replay(deadline=time.monotonic() + REPLAY_SLICE_SECONDS)
        self.metrics.journal_depth.set(self.journal.depth)
        stopping = False
        while not stopping:
            batch, stopping = self._collect()
            if batch:
                self._write(batch)
            if self._quarantined:
                self._write_quarantined()
            now = time.monotonic()
            if self.journal.depth and now >= self._retry_at:
                self._replay(deadline=now + REPLAY_SLICE_SECONDS)
            if self.heartbeat and now >= self._next_beat:
                self._next_beat = now + self.heartbeat_interval
                # While the journal holds events the database is away or was:
                # no beat, so /health sees this daemon go stale.
                if not self.journal.depth:
                    self._beat()
        if self.journal.depth:
            self._replay(deadline=time.monotonic() + 1.0)
        self._close_connection()

    def _collect(self):
        """Wait for work; return (batch, stopping)."""
        pending = self._pending
        if not pending:
            now = time.monotonic()
            timeout = max(self._next_beat - now, 0.0) if self.heartbeat else 1.0
            if self.journal.depth:
                timeout = min(timeout, max(self._retry_at - now, 0.0))
            self._sleeping = True
            # Checked again after announcing sleep: an event queued in between
            # saw _sleeping False and did not set the wake-up.
            if not pending and not self._quarantined and not self._stop_requested:
                self._wake.wait(max(timeout, 0.001))
            self._sleeping = False
            self._wake.clear()
        if (pending and self._last_batch >= BATCH_WAIT_FROM and self.batch_wait
                and len(pending) < self.batch_max):
            # Under heavy load a short wait lets more requests join this commit;
            # with a few requests at a time it would only add latency (at 10 in
            # flight a 2 ms wait halved the throughput).
            time.sleep(self.batch_wait)
        batch = []
        popleft = pending.popleft
        while pending and len(batch) < self.batch_max:
            batch.append(popleft())
        self._last_batch = len(batch)
        return batch, self._stop_requested and not pending

    def _write(self, batch):
        events = [e for e, _ in batch]
        stored = None
        if not self.journal.depth:
            try:
                self._insert(events)
                stored = STORED_DB
            except Exception:
                log.exception("commit of %d events failed; journaling them", len(events))
                self.metrics.commit_failures.inc()
                self._close_connection()
                self._retry_at = time.monotonic() + self.retry_interval
        if stored is None:
            try:
                self.journal.append(events)
                stored = STORED_JOURNAL
            except JournalError:
                log.critical("%d events could not be committed nor journaled", len(events),
                             exc_info=True)
                stored = LOST
            self.metrics.journal_depth.set(self.journal.depth)
        try:
            self.notify([w for _, w in batch], stored)
        except Exception:
            log.exception("could not release %d waiting connections", len(batch))
        if stored == STORED_DB and self.on_stored is not None:
            try:
                self.on_stored(events)
            except Exception:
                log.exception("on_stored failed for %d events", len(events))

    def _write_quarantined(self):
        """Insert the queued quarantine rows; drop them (counted) while the database is away."""
        records = []
        while self._quarantined and len(records) < self.batch_max:
            records.append(self._quarantined.popleft())
        if self.journal.depth:
            self.metrics.quarantine_dropped.inc(len(records))
            return
        try:
            if self.db.is_closed():
                self._open_connection()
            with _exception_wrapper, self.db.atomic():
                self.db.cursor().executemany(quarantine.insert_sql(self.db),
                                             [quarantine.row_of(r) for r in records])
        except Exception:
            log.exception("could not store %d quarantined reports; dropped", len(records))
            self.metrics.quarantine_dropped.inc(len(records))
            self._close_connection()

    def _replay(self, deadline):
        """Commit journaled events in order until done, ``deadline`` or a failure."""
        while self.journal.depth:
            events, offset, lines = self.journal.pending(REPLAY_CHUNK)
            if events:
                refused = 0
                try:
                    self._insert(events)
                except (DataError, IntegrityError):
                    refused = self._insert_one_by_one(events)
                    if refused is None:
                        self._retry_at = time.monotonic() + self.retry_interval
                        return False
                except Exception as exc:
                    log.warning("journal replay failed (%s); %d events wait, retry in %.1fs",
                                exc, self.journal.depth, self.retry_interval)
                    self.metrics.commit_failures.inc()
                    self._close_connection()
                    self._retry_at = time.monotonic() + self.retry_interval
                    return False
                self.metrics.replayed.inc(len(events) - refused)
            self.journal.replayed(lines, offset)
            self.metrics.journal_depth.set(self.journal.depth)
            if not lines and self.journal.depth:
                log.error("journal depth %d but nothing readable; resetting",
                          self.journal.depth)
                self.journal.replayed(self.journal.depth, offset)
            if deadline is not None and time.monotonic() >= deadline:
                self._retry_at = 0.0  # more to do: go on after the next batch
                return False
        log.info("journal replayed and truncated")
        return True

    def _insert_one_by_one(self, events):
        """Commit events one at a time, setting aside those the database refuses for good.

        A poison event must not block the journal (and with it every later
        event) forever. Returns how many were set aside, or None when a
        connection error cut this short.
        """
        refused = 0
        for event in events:
            try:
                self._insert([event])
            except (DataError, IntegrityError) as exc:
                log.critical("database refuses event campaign=%s contact=%s attempt=%s "
                             "event=%s (%s); set aside in %s", event.campaign_id,
                             event.contact_id, event.attempt, event.name, exc,
                             self.journal.rejected_path)
                try:
                    self.journal.set_aside(event)
                except JournalError:
                    log.critical("could not set the refused event aside", exc_info=True)
                    return None
                self.metrics.set_aside.inc()
                refused += 1
            except Exception:
                log.warning("one-by-one replay interrupted", exc_info=True)
                self._close_connection()
                return None
        return refused

    def _insert(self, events):
        start = time.perf_counter()
        rows = list(map(self._row, events))
        db = self.db
        if db.is_closed():
            self._open_connection()
        # The raw cursor raises the driver's exceptions; peewee's wrapper maps
        # them to peewee's (DataError, IntegrityError ...) the same on both engines.
        with _exception_wrapper, db.atomic():
            cursor = db.cursor()
            if self.is_postgres:
                cursor.execute(self._sql, [list(column) for column in zip(*rows)])
            else:
                cursor.executemany(self._sql, rows)
        self.metrics.commit_seconds.observe(time.perf_counter() - start)
        self.metrics.batch_size.observe(len(events))

    def _open_connection(self):
        db = self.db
        db.connect(reuse_if_open=True)
        # Fail fast to the journal rather than keep Asterisk channels waiting on
        # a lock or a hung server: the journal is durable too.
        if self.is_postgres:
            db.execute_sql(f"SET statement_timeout = {int(self.statement_timeout_ms)}")
            db.execute_sql(self._prepare)
        else:
            db.execute_sql(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")

    def _close_connection(self):
        try:
            if not self.db.is_closed():
                self.db.close()
        except Exception:
            log.debug("closing a broken connection failed", exc_info=True)

    def _beat(self):
        try:
            if self.db.is_closed():
                self._open_connection()
            self.heartbeat(datetime.now(timezone.utc))
        except Exception:
            log.exception("heartbeat failed")
            self._close_connection()
