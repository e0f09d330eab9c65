"""supervision/protocol.py: the eventlistener header line and PROCESS_STATE_* payloads."""

import pytest

from supervision.protocol import (
    MAX_HEADER_LINE, ListenerProtocolError, Transition, parse_header, transition,
)

HEADER = (b"ver:3.0 server:supervisor serial:21 pool:callcast-supervision poolserial:10 "
          b"eventname:PROCESS_STATE_EXITED len:%d\n")


def header(payload: bytes, event="PROCESS_STATE_EXITED"):
    return parse_header(HEADER.replace(b"PROCESS_STATE_EXITED", event.encode()) % len(payload))


def test_it_reads_an_unexpected_exit_of_one_process_of_a_group():
    payload = (b"processname:callcast-dialer_00 groupname:callcast-dialer from_state:RUNNING "
               b"expected:0 pid:2766")
    assert transition(header(payload), payload) == Transition(
        program="callcast-dialer:callcast-dialer_00", group="callcast-dialer",
        from_state="RUNNING", to_state="EXITED", pid=2766, expected=False)


def test_it_names_a_lone_process_by_its_program_and_reads_tries_events():
    payload = b"processname:callcast-agi groupname:callcast-agi from_state:STOPPED tries:0"
    found = transition(header(payload, "PROCESS_STATE_STARTING"), payload)
    assert (found.program, found.to_state, found.pid, found.expected) == (
        "callcast-agi", "STARTING", None, None)


def test_it_ignores_events_that_are_not_process_states():
    assert transition(header(b"when:1700000000", "TICK_5"), b"when:1700000000") is None


@pytest.mark.parametrize("line, reason", [
    (b"ver:3.0 eventname:TICK_5 len:3", "truncated"),
    (b"ver:3.0 eventname:TICK_5\n", "without len"),
    (b"ver:3.0 eventname:TICK_5 len:-1\n", "out of bounds"),
    (b"ver:3.0 eventname:TICK_5 len:99999999\n", "out of bounds"),
    (b"ver:3.0 eventname:TICK_5 len:3 junk\n", "not a key:value"),
    (b"ver:3.0 eventname:\xff len:3\n", "not ASCII"),
    (b"ver:3.0 len:3 x:" + b"y" * MAX_HEADER_LINE + b"\n", "over"),
])
def test_it_refuses_a_header_line_that_is_not_supervisord(line, reason):
    with pytest.raises(ListenerProtocolError, match=reason):
        parse_header(line)


def test_it_refuses_a_state_payload_without_its_process():
    payload = b"from_state:RUNNING pid:1"
    with pytest.raises(ListenerProtocolError, match="processname"):
        transition(header(payload), payload)
