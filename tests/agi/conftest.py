"""Fixtures of the AGI tests: the daemon in-process or as a real ``python -m agi``,
an Asterisk-like load generator, a cuttable TCP proxy, and readers of the stored rows.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import uvloop

from agi.client import agi_call
from agi.daemon import Daemon, Options
from app.config import get_settings
from app.db import connect_database
from tests.waiting import free_port, wait_until  # noqa: F401 - the agi tests import them from here

ROOT = Path(__file__).resolve().parents[2]


def stored_rows(url, campaign_id):
    """{(contact, attempt, name): count} of a campaign's rows, on a connection of our own."""
    db = connect_database(url)
    try:
        with db.connection_context():
            rows = db.execute_sql(
                "SELECT contact_id, attempt, name, COUNT(*) FROM call_event "
                f"WHERE campaign_id = {db.param} GROUP BY contact_id, attempt, name",
                (campaign_id,),
            ).fetchall()
    finally:
        db.close()
    return {(c, a, n): k for c, a, n, k in rows}


def assert_exactly_once(url, campaign_id, completed, maybe=()):
    """Every completed request stored once; nothing stored that was never sent."""
    rows = stored_rows(url, campaign_id)
    keys = {(c, 1, "answered") for c in completed}
    missing = keys - set(rows)
    doubled = {k: n for k, n in rows.items() if n > 1}
    unknown = set(rows) - keys - {(c, 1, "answered") for c in maybe}
    assert not missing, f"{len(missing)} completed requests missing, e.g. {sorted(missing)[:5]}"
    assert not doubled, f"doubled rows: {list(doubled.items())[:5]}"
    assert not unknown, f"rows nobody sent: {sorted(unknown)[:5]}"
    return rows


@pytest.fixture
def agi_db(db):
    """The test database (SQLite, and PostgreSQL when it answers) and its URL."""
    return db, get_settings().database_url


# --- in-process daemon -----------------------------------------------------------


class InProcessDaemon:
    """A ``Daemon`` on its own uvloop in a thread of the test process."""

    def __init__(self, options):
        self.options = options
        self.loop = uvloop.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.daemon = Daemon(options)
        self.stopped = False

    def start(self):
        self.thread.start()
        self.call(self.daemon.start())
        return self

    def call(self, coro, timeout=20):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def port(self):
        return self.daemon.port

    @property
    def metrics(self):
        return self.daemon.metrics

    def stop(self):
        if self.stopped:
            return True
        self.stopped = True
        clean = self.call(self.daemon.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        return clean


@pytest.fixture
def agi_daemon(agi_db, tmp_path):
    """Factory: start an in-process daemon on port 0 with ``Options`` overrides."""
    _db, url = agi_db
    started = []

    def start(**overrides):
        values = dict(database_url=url, journal_path=tmp_path / f"journal{len(started)}.jsonl",
                      port=0, metrics_port=None, read_timeout=2.0, heartbeat_interval=0.2)
        values.update(overrides)
        daemon = InProcessDaemon(Options(**values)).start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


def call(port, script, args=(), timeout=10.0, **kw):
    """One synchronous Asterisk-like request (for tests outside an event loop)."""
    return asyncio.run(agi_call("127.0.0.1", port, script, args, timeout=timeout, **kw))


# --- real process ----------------------------------------------------------------


class DaemonProcess:
    """``python -m agi`` as Supervisor would run it, on a fixed free port."""

    def __init__(self, tmp_path, url, extra_env=None, args=()):
        self.tmp_path = tmp_path
        self.port = free_port()
        self.metrics_port = None
        self.journal = tmp_path / "agi-journal.jsonl"
        self.port_file = tmp_path / "agi.port"
        self.log = tmp_path / "agi.log"
        self.env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT),
                    "LOG_LEVEL": "INFO", "AGI_READ_TIMEOUT": "2", **(extra_env or {})}
        self.args = list(args)
        self.proc = None

    def start(self):
        self.port_file.unlink(missing_ok=True)
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "agi", "--port", str(self.port), "--metrics-port", "0",
                 "--journal", str(self.journal), "--port-file", str(self.port_file),
                 *self.args],
                env=self.env, cwd=ROOT, stdout=log, stderr=log,
            )
        wait_until(lambda: self.port_file.exists() or self.proc.poll() is not None,
                   timeout=20, what="the daemon to listen")
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        self.metrics_port = int(self.port_file.read_text().split()[1])
        return self

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self, timeout=15):
        self.proc.terminate()
        return self.proc.wait(timeout)

    def metric(self, name, **labels):
        """One sample from the daemon's /metrics (0 when absent)."""
        text = urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).read().decode()
        want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
                       if labels else "")
        for line in text.splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        return 0.0

    def rss(self):
        import psutil

        return psutil.Process(self.proc.pid).memory_info().rss

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def sqlite_url(sqlite_db):
    """An upgraded SQLite database for tests whose subject does not depend on the engine."""
    return get_settings().database_url


@pytest.fixture
def agi_process(tmp_path):
    """Factory: a real daemon process on ``url`` (stopped at the end)."""
    procs = []

    def make(url, extra_env=None, args=()):
        proc = DaemonProcess(tmp_path, url, extra_env, args)
        procs.append(proc)
        return proc

    yield make
    for proc in procs:
        proc.stop()


# --- load ------------------------------------------------------------------------


class Load:
    """Asterisk-like requests kept in flight from a thread until ``stop``.

    ``completed`` holds the contact ids the daemon confirmed (``STORED``, the
    ones that must be in the database); ``failed`` those refused, reset or
    closed without confirmation (the dialplan's fallback path takes those).
    """

    def __init__(self, port, campaign_id, concurrency=10):
        self.port, self.campaign_id, self.concurrency = port, campaign_id, concurrency
        self.completed = set()
        self.failed = set()
        self.latencies = []
        self._stop = threading.Event()
        self._next = 0
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=lambda: uvloop.run(self._main()), daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _contact(self):
        with self._lock:
            self._next += 1
            return self._next

    async def _worker(self):
        while not self._stop.is_set():
            contact = self._contact()
            start = time.perf_counter()
            try:
                confirmed = await agi_call(
                    "127.0.0.1", self.port, f"{self.campaign_id}/{contact}/1/answered",
                    uniqueid=f"{self.campaign_id}.{contact}", timeout=20)
            except (OSError, asyncio.TimeoutError):
                confirmed = False
            if not confirmed:
                self.failed.add(contact)
                await asyncio.sleep(0.005)  # pacing while the daemon is away
                continue
            self.latencies.append(time.perf_counter() - start)
            self.completed.add(contact)

    async def _main(self):
        await asyncio.gather(*(self._worker() for _ in range(self.concurrency)))

    def wait_completed(self, count, timeout=30):
        wait_until(lambda: len(self.completed) >= count, timeout=timeout,
                   what=f"{count} completed requests (have {len(self.completed)})")

    def stop(self):
        self._stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()
        return self


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * p / 100), len(ordered) - 1)]


# --- a TCP proxy that can play "database unreachable" ------------------------------


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut`` refuses and resets everything."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = None
        self.transports = set()

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def start(self):
        self.thread.start()
        self.resume()
        return self

    async def _pipe(self, reader, writer):
        self.transports.add(writer)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self.transports.discard(writer)
            writer.transport.abort()

    async def _client(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def resume(self):
        async def go():
            self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port,
                                                     reuse_address=True)
        self._run(go())

    def cut(self):
        async def go():
            self.server.close()
            for writer in list(self.transports):
                writer.transport.abort()
        self._run(go())

    def close(self):
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
