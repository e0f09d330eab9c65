"""Fault tests on a real ``python -m agi`` process: kill -9, database away, garbage, SIGTERM."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from datetime import datetime, timezone

import pytest

from agi.journal import Journal
from agi.protocol import Event, asterisk_block
from tests.agi.conftest import (
    CuttableProxy,
    Load,
    assert_exactly_once,
    call,
    percentile,
    stored_rows,
    wait_until,
)

pytestmark = pytest.mark.e2e


def test_it_keeps_every_closed_request_across_a_kill_9(agi_process, agi_db):
    _db, url = agi_db
    daemon = agi_process(url).start()
    load = Load(daemon.port, campaign_id=501, concurrency=20).start()
    try:
        load.wait_completed(300)
        daemon.kill9()
        before_restart = set(load.completed)
        daemon.start()  # same port, as Supervisor restarts it
        load.wait_completed(len(before_restart) + 300)
    finally:
        load.stop()
    assert load.failed, "the kill should have cut some requests"
    # Asterisk's fallback path resends what failed: still stored once.
    for contact in sorted(load.failed)[:50]:
        call(daemon.port, f"501/{contact}/1/answered")
    assert_exactly_once(url, 501, load.completed | set(sorted(load.failed)[:50]),
                        maybe=load.failed)


class SqliteLock:
    """Another writer holding SQLite's write lock."""

    def __init__(self, url):
        self.conn = sqlite3.connect(url.split("sqlite:///", 1)[1], isolation_level=None,
                                    timeout=10)

    def cut(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def resume(self):
        self.conn.execute("ROLLBACK")

    def close(self):
        self.conn.close()


def test_it_journals_while_the_database_is_away_then_drains(agi_process, agi_db, db_engine):
    _db, url = agi_db
    if db_engine == "postgres":
        # PostgreSQL "stopped": the daemon reaches it through a proxy we cut.
        outage = CuttableProxy(5432).start()
        daemon_url = url.replace(":5432/", f":{outage.port}/")
    else:
        outage = SqliteLock(url)
        daemon_url = url
    daemon = agi_process(daemon_url).start()
    load = Load(daemon.port, campaign_id=502, concurrency=10).start()
    try:
        load.wait_completed(100)
        outage.cut()
        wait_until(lambda: daemon.metric("agi_journal_depth") >= 200, timeout=30,
                   what="the journal to fill")
        assert daemon.journal.stat().st_size > 0
        outage.resume()
        done_while_away = len(load.completed)
        wait_until(lambda: daemon.metric("agi_journal_depth") == 0, timeout=30,
                   what="the journal to drain")
        load.wait_completed(done_while_away + 100)
    finally:
        load.stop()
        outage.close()
    assert not load.failed, f"{len(load.failed)} requests failed"
    assert daemon.journal.stat().st_size == 0
    assert daemon.metric("agi_events_total", event="answered", stored="journal") >= 200
    assert_exactly_once(url, 502, load.completed)


def test_it_replays_a_journal_left_by_a_previous_run_first(agi_process, agi_db):
    _db, url = agi_db
    daemon = agi_process(url)
    journal = Journal(daemon.journal).open()
    now = datetime.now(timezone.utc)
    journal.append([Event(504, i, 1, "answered", now, f"u{i}", "Local/x", "agi", {})
                    for i in range(1, 51)])
    journal.close()
    daemon.start()
    wait_until(lambda: len(stored_rows(url, 504)) == 50, what="the replay")
    wait_until(lambda: daemon.journal.stat().st_size == 0, what="the truncation")
    call(daemon.port, "504/1/1/answered")  # a replayed event sent again
    assert_exactly_once(url, 504, set(range(1, 51)))


def test_it_stops_cleanly_on_sigterm_with_requests_in_flight(agi_process, agi_db):
    _db, url = agi_db
    daemon = agi_process(url).start()
    load = Load(daemon.port, campaign_id=505, concurrency=20).start()
    try:
        load.wait_completed(200)
        # 0: drained and flushed within the daemon's own stop_timeout (else it exits 1)
        assert daemon.terminate(timeout=15) == 0
        assert "agi daemon stopped drained=True writer_stopped=True" in daemon.log.read_text()
    finally:
        load.stop()
    assert_exactly_once(url, 505, load.completed, maybe=load.failed)


def test_it_survives_garbage_and_idle_floods_with_valid_traffic_alongside(agi_process,
                                                                         sqlite_url):
    url = sqlite_url
    daemon = agi_process(url, extra_env={"AGI_READ_TIMEOUT": "3"}).start()

    def valid_latencies(campaign, n=300):
        load = Load(daemon.port, campaign_id=campaign, concurrency=5).start()
        load.wait_completed(n)
        load.stop()
        assert not load.failed
        return load

    calm = valid_latencies(506)
    rss_before = daemon.rss()

    async def abuse():
        rng = random.Random(7)
        idle = []
        for _ in range(1000):
            idle.append(await asyncio.open_connection("127.0.0.1", daemon.port))

        async def send(data, close=True):
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", daemon.port)
                w.write(data)
                await w.drain()
                if close:
                    w.close()
            except OSError:
                pass  # the daemon may reset us mid-write: that is the point

        jobs = [send(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4000))))
                for _ in range(50)]
        jobs.append(send(b"agi_channel: " + b"x" * (1024 * 1024) + b"\n"))
        jobs.append(send(b"".join(b"agi_h%d: v\n" % i for i in range(10_000)) + b"\n"))
        jobs += [send(b"".join(asterisk_block(f"506/{90000 + i}/1/answered")[:10]))
                 for i in range(20)]
        await asyncio.gather(*jobs)
        return idle

    loop = asyncio.new_event_loop()
    idle = loop.run_until_complete(abuse())
    try:
        busy = valid_latencies(507)
    finally:
        for _r, w in idle:
            w.transport.abort()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()

    assert daemon.proc.poll() is None, "the daemon died"
    wait_until(lambda: daemon.metric("agi_rejects_total", reason="line_too_long") >= 1)
    assert daemon.metric("agi_rejects_total", reason="too_many_lines") >= 1
    assert daemon.metric("agi_rejects_total", reason="truncated") >= 20
    assert daemon.metric("agi_events_lost_total") == 0
    growth = daemon.rss() - rss_before
    assert growth < 64 * 1024 * 1024, f"memory grew by {growth >> 20} MB"
    calm_p95, busy_p95 = percentile(calm.latencies, 95), percentile(busy.latencies, 95)
    # 1,000 idle sockets and the garbage must not slow valid callers much (loose
    # bound: this 2-core machine is shared with other test runs).
    assert busy_p95 < max(5 * calm_p95, 0.1), (calm_p95, busy_p95)
    assert_exactly_once(url, 506, calm.completed)
    assert_exactly_once(url, 507, busy.completed)
