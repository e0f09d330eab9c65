"""app/process_states.py: supervisord's transitions of our programs, summarised per program."""

from datetime import datetime, timedelta, timezone

from app import process_states
from app.process_states import record

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def crash_and_restart(program, at, host="h1", pid=10):
    record(host, program, "RUNNING", "EXITED", at, pid=pid, expected=False)
    record(host, program, "EXITED", "STARTING", at)
    record(host, program, "STARTING", "RUNNING", at, pid=pid + 1)


def test_it_counts_restarts_and_unexpected_exits_of_the_last_hour(db):
    crash_and_restart("callcast-agi", NOW - timedelta(hours=2))  # too old
    for minutes in (50, 30, 5):
        crash_and_restart("callcast-agi", NOW - timedelta(minutes=minutes))
    # memmon's restart: a stop, then a start
    for frm, to in (("RUNNING", "STOPPING"), ("STOPPING", "STOPPED"), ("STOPPED", "STARTING"),
                    ("STARTING", "RUNNING")):
        record("h1", "callcast-dialer:callcast-dialer_00", frm, to, NOW - timedelta(minutes=1))
    [agi, dialer] = process_states.summaries(NOW)
    assert (agi.program, agi.restarts, agi.unexpected_exits, agi.state) == (
        "callcast-agi", 3, 3, "RUNNING")
    assert agi.sentence("hour") == (
        "callcast-agi restarted 3 times in the last hour (3 unexpected exits)")
    assert (dialer.restarts, dialer.unexpected_exits) == (1, 0)
    assert dialer.sentence("hour") == (
        "callcast-dialer:callcast-dialer_00 restarted once in the last hour")


def test_it_tells_failed_starts_and_a_program_left_fatal(db):
    for tries in range(2):
        record("h2", "callcast-web", "STARTING", "BACKOFF", NOW)
        record("h2", "callcast-web", "BACKOFF", "STARTING", NOW)
    record("h2", "callcast-web", "BACKOFF", "FATAL", NOW)
    record("h1", "callcast-web", "STARTING", "RUNNING", NOW)
    [summary] = [s for s in process_states.summaries(NOW) if s.host == "h2"]
    assert (summary.restarts, summary.failed_starts, summary.state) == (0, 2, "FATAL")
    latest = process_states.latest_states()
    assert {key: row.to_state for key, row in latest.items()} == {
        ("h1", "callcast-web"): "RUNNING", ("h2", "callcast-web"): "FATAL"}


def test_it_prunes_transitions_older_than_30_days(db):
    record("h1", "callcast-agi", "STOPPED", "STARTING", NOW - timedelta(days=31))
    record("h1", "callcast-agi", "STARTING", "RUNNING", NOW - timedelta(days=29))
    assert process_states.prune(NOW) == 1
    assert [s.state for s in process_states.summaries(NOW, timedelta(days=60))] == ["RUNNING"]
