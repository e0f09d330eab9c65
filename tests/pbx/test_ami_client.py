"""The AMI client against pbxsim over real TCP, and its sans-I/O pieces."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from app.pbx import ami as amimod
from app.pbx.ami import AmiClient, MessageReader, encode_action, parse_message
from app.pbx.errors import (
    AmiActionError,
    AmiAuthError,
    AmiConnectionError,
    AmiTimeoutError,
    PbxError,
)
from app.errors import CallcastError
from tests.waiting import free_port


def client_for(sim, secret="callcast", **kwargs):
    kwargs.setdefault("timeout", 5.0)
    return AmiClient("127.0.0.1", sim.port, "callcast", secret, **kwargs)


def test_it_encodes_actions_with_repeated_keys_and_refuses_header_injection():
    data = encode_action("Originate", [("Variable", ["A=1", "B=2"]), ("Async", "true")], "x-1")
    assert data == (b"Action: Originate\r\nActionID: x-1\r\nVariable: A=1\r\n"
                    b"Variable: B=2\r\nAsync: true\r\n\r\n")
    with pytest.raises(AmiActionError, match="line break"):
        encode_action("Originate", {"CallerID": "evil\r\nAction: Command"})


def test_it_splits_a_stream_into_messages_across_chunk_boundaries():
    reader = MessageReader()
    stream = (b"Response: Success\r\nActionID: 1\r\nMessage: ok\r\n\r\n"
              b"Event: CoreShowChannel\r\nActionID: 2\r\nChannel: Local/1@pstn-1;1\r\n\r\n")
    out = []
    for i in range(0, len(stream), 7):
        out += reader.feed(stream[i:i + 7])
    assert [m.get("ActionID") for m in out] == ["1", "2"]
    assert out[1]["channel"] == "Local/1@pstn-1;1"  # keys are case-insensitive
    msg = parse_message("Response: Success\r\nOutput: a\r\nOutput: b: c")
    assert msg.getall("Output") == ["a", "b: c"]


def test_it_pings_and_raises_asterisks_message_for_an_unknown_action(pbxsim):
    with client_for(pbxsim) as ami:
        assert ami.ping()["Ping"] == "Pong"
        with pytest.raises(AmiActionError) as info:
            ami.action("NoSuchAction")
        assert info.value.message == (
            "Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show "
            "available commands."
        )


def test_it_raises_a_typed_error_for_wrong_credentials(pbxsim):
    ami = AmiClient("127.0.0.1", pbxsim.port, "callcast", "wrong", timeout=5.0)
    with pytest.raises(AmiAuthError, match="Authentication failed"):
        ami.ping()
    ami.close()
    assert issubclass(AmiAuthError, PbxError) and issubclass(PbxError, CallcastError)


def test_it_raises_a_connection_error_when_nothing_listens():
    ami = AmiClient("127.0.0.1", free_port(), "callcast", "callcast", timeout=2.0)
    # refused fails at once, not at the timeout: the refusal is the error, not
    # "not connected in time (last error: ...)" from the deadline
    with pytest.raises(AmiConnectionError, match=r"^cannot connect .*Connection refused"):
        ami.ping()
    ami.close()


def test_it_times_out_when_the_pbx_never_answers():
    # a server that says the banner, accepts the login, then goes silent
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    conns = []

    def serve():
        conn, _ = srv.accept()
        conns.append(conn)
        conn.sendall(b"Asterisk Call Manager/11.0.0\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += conn.recv(4096)
        action_id = [line.split(b": ", 1)[1] for line in buf.split(b"\r\n")
                     if line.startswith(b"ActionID")][0]
        conn.sendall(b"Response: Success\r\nActionID: " + action_id
                     + b"\r\nMessage: Authentication accepted\r\n\r\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    ami = AmiClient("127.0.0.1", srv.getsockname()[1], "u", "s", timeout=0.3)
    with pytest.raises(AmiTimeoutError, match="Ping"):
        ami.ping()
    assert ami._pending == {}  # the timed-out action is forgotten
    ami.close()
    t.join(2)
    for c in conns:
        c.close()
    srv.close()


def test_it_shares_one_connection_between_threads_and_matches_action_ids(pbxsim):
    ami = client_for(pbxsim)
    errors, results = [], []

    def work(n):
        try:
            for _ in range(20):
                results.append(ami.action("Ping")["Ping"])
                ami.command("core show version")
        except Exception as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert results == ["Pong"] * 160
    assert ami.connections == 1
    ami.close()


def test_it_fails_waiting_callers_and_reconnects_after_the_pbx_restarts(pbxsim):
    ami = client_for(pbxsim, backoff_min=0.05, backoff_max=0.2)
    ami.ping()
    port = pbxsim.port
    pbxsim.stop()
    with pytest.raises(AmiConnectionError):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the drop is noticed by the reader thread
            ami.ping(timeout=1.0)
    again = pbxsim.restart(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            assert ami.ping(timeout=1.0)["Ping"] == "Pong"
            break
        except AmiConnectionError:
            if time.monotonic() > deadline:
                raise
            threading.Event().wait(0.05)
    assert ami.connections == 2
    assert again.port == port
    ami.close()


def test_it_builds_one_shared_client_per_process_from_settings(monkeypatch):
    from app.config import get_settings

    amimod.reset_ami()
    try:
        first = amimod.get_ami()
        assert first is amimod.get_ami()
        s = get_settings()
        assert (first.host, first.port, first.username) == (s.ami_host, s.ami_port, s.ami_user)
        assert first.events == "off"
    finally:
        amimod.reset_ami()
