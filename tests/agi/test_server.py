"""The FastAGI server end to end on port 0, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from datetime import datetime, timedelta, timezone

from agi.client import agi_call
from agi.client import report_args
from agi.protocol import CONFIRM_COMMAND, asterisk_block
from app.models import CallEvent, Heartbeat
from tests.agi.conftest import call, stored_rows, wait_until


def rejects(daemon):
    """{reason: count} of the requests the daemon refused (zeros left out)."""
    samples = daemon.metrics.registry.collect()
    return {s.labels["reason"]: int(s.value) for metric in samples for s in metric.samples
            if s.name == "agi_rejects_total" and s.value}


def test_it_stores_one_row_per_request_before_closing(agi_daemon, agi_db):
    _db, url = agi_db
    daemon = agi_daemon()
    before = datetime.now(timezone.utc)
    confirmed = call(daemon.port, "41/7/2/hangup", ["16"], uniqueid="1700000000.42",
                     channel="Local/100@pstn-0000002a;2")
    assert confirmed is True  # CALLCAST_AGI_STATUS=STORED came before the close
    # The close came after the commit: the row is there without waiting.
    row = CallEvent.get((CallEvent.campaign_id == 41) & (CallEvent.contact_id == 7))
    assert (row.attempt, row.name, row.source) == (2, "hangup", "agi")
    assert row.data == {"hangupcause": "16"}
    assert row.uniqueid == "1700000000.42"
    assert row.channel == "Local/100@pstn-0000002a;2"
    assert before - timedelta(seconds=1) <= row.received_at <= datetime.now(timezone.utc)
    assert daemon.metrics.value("agi_events_total", {"event": "hangup", "stored": "db"}) == 1


def test_it_never_doubles_a_replayed_event(agi_daemon, agi_db):
    _db, url = agi_db
    daemon = agi_daemon()
    fallback = agi_daemon(source="fallback")
    for _ in range(3):
        call(daemon.port, "42/1/1/answered")
    call(fallback.port, "42/1/1/answered")
    call(fallback.port, "42/1/1/dtmf-3")
    assert stored_rows(url, 42) == {(1, 1, "answered"): 1, (1, 1, "dtmf-3"): 1}
    sources = dict(CallEvent.select(CallEvent.name, CallEvent.source)
                   .where(CallEvent.campaign_id == 42).tuples())
    assert sources == {"answered": "agi", "dtmf-3": "fallback"}


def test_it_group_commits_concurrent_requests(agi_daemon, agi_db):
    _db, url = agi_db
    daemon = agi_daemon()

    async def burst():
        await asyncio.gather(*(agi_call("127.0.0.1", daemon.port, f"43/{i}/1/answered")
                               for i in range(1, 201)))

    asyncio.run(burst())
    assert len(stored_rows(url, 43)) == 200
    commits = daemon.metrics.value("agi_commit_batch_size_count")
    assert commits < 200, "every request got a commit of its own"


def test_it_refuses_unknown_events_without_storing_them(agi_daemon, agi_db):
    _db, url = agi_db
    # A read timeout far past the client's own (10 s): only the refusal can close these.
    daemon = agi_daemon(read_timeout=600)
    for script in ("44/1/1/lost", "44/1/1/failed-bogus", "44/x/1/answered"):
        try:
            # Closed at once, never confirmed: the dialplan sees no STORED.
            assert call(daemon.port, script) is False
        except ConnectionError:
            pass
    # rejects must close promptly: by the refusal, never by the read timeout
    assert rejects(daemon) == {"unknown_event": 2, "bad_script": 1}
    assert stored_rows(url, 44) == {}
    assert daemon.metrics.value("agi_rejects_total", {"reason": "unknown_event"}) == 2
    assert daemon.metrics.value("agi_rejects_total", {"reason": "bad_script"}) == 1
    call(daemon.port, "44/1/1/answered")  # still serving
    assert stored_rows(url, 44) == {(1, 1, "answered"): 1}


def test_it_records_nothing_when_the_peer_leaves_before_the_blank_line(agi_daemon, agi_db):
    _db, url = agi_db
    daemon = agi_daemon()
    lines = asterisk_block("45/1/1/answered", report_args("45/1/1/answered"))
    with socket.create_connection(("127.0.0.1", daemon.port)) as sock:
        sock.sendall(b"".join(lines[:-1]))  # everything but the blank line
    wait_until(lambda: daemon.metrics.value("agi_rejects_total", {"reason": "truncated"}) == 1)
    assert stored_rows(url, 45) == {}


def test_it_cuts_a_stalled_peer_after_the_read_timeout(agi_daemon):
    daemon = agi_daemon(read_timeout=0.3)
    with socket.create_connection(("127.0.0.1", daemon.port)) as sock:
        sock.sendall(b"agi_network: yes\n")
        sock.settimeout(60)  # a guard against a hang, not a measure
        try:
            assert sock.recv(10) == b""
        except ConnectionResetError:
            pass
    assert daemon.metrics.value("agi_rejects_total", {"reason": "read_timeout"}) == 1
    # Cut by the read timeout of a started block: the sweep found its deadline passed
    # (not "idle_timeout": the line was read first; not "truncated": we never left).
    assert rejects(daemon) == {"read_timeout": 1}


def test_it_holds_callers_in_the_backlog_at_the_connection_cap(agi_daemon, agi_db):
    _db, url = agi_db
    daemon = agi_daemon(max_connections=2, read_timeout=600)
    idle = [socket.create_connection(("127.0.0.1", daemon.port)) for _ in range(2)]
    wait_until(lambda: daemon.daemon.server.active == 2)
    # The kernel completes the handshake and takes the block; the daemon does not accept.
    caller = socket.create_connection(("127.0.0.1", daemon.port))
    # a signed report, as the dialplan sends it (an unsigned one is quarantined)
    caller.sendall(b"".join(asterisk_block("46/1/1/answered", report_args("46/1/1/answered"))))
    caller.settimeout(60)  # a guard against a hang, not a measure
    assert daemon.daemon.server.active == 2
    assert stored_rows(url, 46) == {}
    idle[0].close()  # frees a slot: the caller waited for it instead of being dropped
    reply = b""
    while chunk := caller.recv(4096):
        reply += chunk
    caller.close()
    assert reply == CONFIRM_COMMAND
    assert stored_rows(url, 46) == {(1, 1, "answered"): 1}
    assert rejects(daemon) == {"empty": 1}  # the slot came from the idle peer that left
    idle[1].close()


def test_it_beats_and_serves_metrics(agi_daemon):
    daemon = agi_daemon(metrics_port=0)
    call(daemon.port, "47/1/1/answered")
    beat = wait_until(lambda: Heartbeat.get_or_none(Heartbeat.kind == "agi"))
    assert beat.name == daemon.daemon.heartbeat_name
    assert beat.name.startswith("agi@")
    assert beat.info["port"] == daemon.port
    text = urllib.request.urlopen(
        f"http://127.0.0.1:{daemon.daemon.metrics_port}/metrics", timeout=5).read().decode()
    assert 'agi_events_total{event="answered",stored="db"} 1.0' in text
    assert "agi_journal_depth 0.0" in text


def test_it_finishes_in_flight_requests_when_stopped(agi_daemon, agi_db):
    _db, url = agi_db
    daemon = agi_daemon()
    done = []

    async def one(i):
        try:
            await agi_call("127.0.0.1", daemon.port, f"48/{i}/1/answered", timeout=10)
            done.append(i)
        except OSError:
            pass

    async def load_and_stop():
        tasks = [asyncio.ensure_future(one(i)) for i in range(1, 101)]
        await asyncio.sleep(0)
        stopping = asyncio.get_running_loop().run_in_executor(None, daemon.stop)
        await asyncio.gather(*tasks)
        return await stopping

    assert asyncio.run(load_and_stop()) is True
    rows = stored_rows(url, 48)
    assert {(i, 1, "answered") for i in done} <= set(rows)
    assert all(n == 1 for n in rows.values())
