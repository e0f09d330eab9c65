"""python -m supervision: READY / RESULT on a byte stream, transitions of our programs recorded."""

import io
from datetime import datetime, timedelta, timezone

from app.models import ProcessTransition
from supervision.__main__ import Recorder, serve

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def event(name, payload: bytes, serial=1) -> bytes:
    return (f"ver:3.0 server:supervisor serial:{serial} pool:p poolserial:{serial} "
            f"eventname:{name} len:{len(payload)}\n").encode() + payload


def exited(group, process, pid, expected="0"):
    return event("PROCESS_STATE_EXITED", (
        f"processname:{process} groupname:{group} from_state:RUNNING expected:{expected} "
        f"pid:{pid}").encode())


class Out(io.BytesIO):
    pass


def test_it_answers_each_event_and_records_only_our_programs(db):
    stdin = io.BytesIO(
        exited("callcast-agi", "callcast-agi", 41)
        + event("TICK_5", b"when:1")
        + exited("someone-else", "someone-else", 42)
        + event("PROCESS_STATE_STARTING", b"processname:callcast-agi groupname:callcast-agi "
                                           b"from_state:EXITED tries:0")
    )
    stdout = Out()
    assert serve(stdin, stdout, Recorder("callcast-", host="h1", clock=lambda: NOW)) == 0
    assert stdout.getvalue() == b"READY\nRESULT 2\nOK" * 4 + b"READY\n"
    rows = [(r.host, r.program, r.from_state, r.to_state, r.pid, r.expected, r.at)
            for r in ProcessTransition.select().order_by(ProcessTransition.id)]
    assert rows == [("h1", "callcast-agi", "RUNNING", "EXITED", 41, False, NOW),
                    ("h1", "callcast-agi", "EXITED", "STARTING", None, None, NOW)]


def test_it_answers_fail_while_the_database_is_away_and_waits_longer_each_time(db, tmp_path):
    from app.db import connect_database, database

    paused = []
    recorder = Recorder("callcast-", host="h1", clock=lambda: NOW, pause=paused.append)
    stdin = io.BytesIO(exited("callcast-web", "callcast-web", 7) * 3)
    stdout = Out()
    working = database.obj
    db.close()
    (tmp_path / "a-folder").mkdir()  # a folder where the database file should be
    database.initialize(connect_database(f"sqlite:///{tmp_path}/a-folder"))
    try:
        serve(stdin, stdout, recorder)
    finally:
        database.initialize(working)
    assert stdout.getvalue() == b"READY\nRESULT 4\nFAIL" * 3 + b"READY\n"
    assert paused == [0.5, 1.0, 2.0]


def test_it_exits_1_when_the_stream_is_not_supervisord(db):
    stdout = Out()
    assert serve(io.BytesIO(b"hello there\n"), stdout, Recorder("callcast-")) == 1
    assert stdout.getvalue() == b"READY\n"


def test_it_stops_when_stdin_closes_mid_event(db):
    stdout = Out()
    truncated = exited("callcast-agi", "callcast-agi", 41)[:-5]
    assert serve(io.BytesIO(truncated), stdout, Recorder("callcast-")) == 0
    assert ProcessTransition.select().count() == 0


def test_it_prunes_transitions_past_their_retention_when_it_starts_recording(db):
    from app.process_states import record

    record("h1", "callcast-agi", "STOPPED", "STARTING", NOW - timedelta(days=40))
    stdin = io.BytesIO(exited("callcast-agi", "callcast-agi", 41))
    serve(stdin, Out(), Recorder("callcast-", host="h1", clock=lambda: NOW))
    assert [r.at for r in ProcessTransition.select()] == [NOW]
