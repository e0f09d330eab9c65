"""pbxsim's AMI bytes, read off a raw socket and compared with what manager.c writes."""

from __future__ import annotations

import json
import socket

import pytest

from app.pbx.ami import AmiClient


class Raw:
    """A bare AMI socket: send text, read whole messages."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self._recv()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        return chunk

    def message(self):
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        block, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return block.decode()

    def send(self, text):
        self.sock.sendall(text.replace("\n", "\r\n").encode())

    def closed(self):
        try:
            return self._recv() == b""
        except EOFError:
            return True

    def close(self):
        self.sock.close()


@pytest.fixture
def raw(pbxsim):
    r = Raw(pbxsim.port)
    yield r
    r.close()


def login(raw):
    assert raw.line() == "Asterisk Call Manager/11.0.0"
    raw.send("Action: Login\nUsername: callcast\nSecret: callcast\nEvents: off\nActionID: L\n\n")
    assert raw.message() == ("Response: Success\r\nActionID: L\r\n"
                             "Message: Authentication accepted")


def test_it_greets_with_the_banner_and_refuses_actions_before_login(raw):
    assert raw.line() == "Asterisk Call Manager/11.0.0"
    raw.send("Action: Ping\nActionID: 1\n\n")
    assert raw.message() == "Response: Error\r\nActionID: 1\r\nMessage: Permission denied"
    raw.send("ActionID: 2\n\n")
    assert raw.message() == "Response: Error\r\nActionID: 2\r\nMessage: Missing action in request"


def test_it_answers_a_wrong_secret_with_authentication_failed_and_hangs_up(raw):
    raw.line()
    raw.send("Action: Login\nUsername: callcast\nSecret: nope\nActionID: 9\n\n")
    assert raw.message() == "Response: Error\r\nActionID: 9\r\nMessage: Authentication failed"
    assert raw.closed()


def test_it_frames_ping_logoff_and_unknown_actions_like_manager_c(raw):
    login(raw)
    raw.send("Action: Ping\nActionID: p\n\n")
    ping = raw.message().split("\r\n")
    assert ping[:3] == ["Response: Success", "ActionID: p", "Ping: Pong"]
    assert ping[3].startswith("Timestamp: ")
    raw.send("Action: Frob\n\n")
    assert raw.message() == ("Response: Error\r\nMessage: Invalid/unknown command: Frob. "
                             "Use Action: ListCommands to show available commands.")
    raw.send("Action: Command\nCommand: dialplan reload\nActionID: c\n\n")
    assert raw.message() == ("Response: Success\r\nActionID: c\r\nMessage: Command output "
                             "follows\r\nOutput: Dialplan reloaded.")
    raw.send("Action: Logoff\nActionID: bye\n\n")
    assert raw.message() == ("Response: Goodbye\r\nActionID: bye\r\n"
                             "Message: Thanks for all the fish.")
    assert raw.closed()


@pytest.mark.parametrize("fields,message", [
    ("Context: callcast-campaign-7\nExten: s\nPriority: 1", "Channel not specified"),
    ("Channel: nodash\nContext: callcast-campaign-7\nExten: s\nPriority: 1", "Invalid channel"),
    ("Channel: Local/1@pstn\nContext: callcast-campaign-7\nExten: s\nPriority: 1\nTimeout: x",
     "Invalid timeout"),
    ("Channel: Local/1@pstn\nContext: nowhere\nExten: s\nPriority: 1", "Extension does not exist."),
])
def test_it_validates_originate_like_action_originate(raw, fields, message):
    login(raw)
    raw.send(f"Action: Originate\nActionID: o\n{fields}\nAsync: true\n\n")
    assert raw.message() == f"Response: Error\r\nActionID: o\r\nMessage: {message}"


def test_it_lists_channels_as_an_event_list_with_list_items(raw, pbxsim):
    login(raw)
    raw.send("Action: Originate\nActionID: o\nChannel: Local/5550004@pstn\n"
             "Context: callcast-campaign-7\nExten: s\nPriority: 1\nAsync: true\n"
             "Account: campaign-7\nChannelId: cc-7-1-1\n"
             "Variable: CC_CAMPAIGN=7,CC_CONTACT=1\nVariable: CC_ATTEMPT=1\n\n")
    assert raw.message() == ("Response: Success\r\nActionID: o\r\n"
                             "Message: Originate successfully queued")
    raw.send("Action: CoreShowChannels\nActionID: c\n\n")
    assert raw.message() == ("Response: Success\r\nActionID: c\r\nEventList: start\r\n"
                             "Message: Channels will follow")
    first = dict(line.split(": ", 1) for line in raw.message().split("\r\n"))
    second = dict(line.split(": ", 1) for line in raw.message().split("\r\n"))
    done = raw.message().split("\r\n")
    assert done == ["Event: CoreShowChannelsComplete", "ActionID: c", "EventList: Complete",
                    "ListItems: 2"]
    assert first["Event"] == "CoreShowChannel" and first["ActionID"] == "c"
    assert first["Channel"].startswith("Local/5550004@pstn-") and first["Channel"].endswith(";1")
    assert (first["Uniqueid"], second["Uniqueid"]) == ("cc-7-1-1", "cc-7-1-1;2")
    assert first["AccountCode"] == second["AccountCode"] == "campaign-7"
    assert first["Context"] == "callcast-campaign-7" and second["Context"] == "pstn"
    assert first["Duration"] == "00:00:00"
    assert list(first)[:16] == [
        "Event", "ActionID", "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum",
        "CallerIDName", "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode",
        "Context", "Exten", "Priority", "Uniqueid", "Linkedid"]
    assert list(first)[16:] == ["Application", "ApplicationData", "Duration", "BridgeId"]
    record = pbxsim.wait_idle()["calls"][0]
    assert record["variables"] == {"CC_CAMPAIGN": "7", "CC_CONTACT": "1", "CC_ATTEMPT": "1"}


def test_it_exposes_its_record_through_the_pbxsimstats_action(pbxsim):
    with AmiClient("127.0.0.1", pbxsim.port, "callcast", "callcast") as ami:
        ami.originate("Local/5550005@pstn", context="callcast-campaign-7", account="campaign-7",
                      channel_id="cc-7-2-1", variables={"CC_CAMPAIGN": 7, "CC_CONTACT": 2,
                                                        "CC_ATTEMPT": 1})
        pbxsim.wait_idle()
        stats = json.loads(ami.action("PbxsimStats")["JSON"])
        assert stats["peak_calls"] == {"campaign-7": 1}
        [call] = stats["calls"]
        assert (call["result"], call["reason"], call["response"]) == ("busy", 5, "Failure")
        assert [a["event"] for a in call["agi"]] == ["failed-busy"]
        summary = json.loads(ami.action("PbxsimStats", {"Calls": "no"})["JSON"])
        assert "calls" not in summary and summary["calls_total"] == 1
        ami.action("PbxsimReset")
        assert json.loads(ami.action("PbxsimStats")["JSON"])["calls"] == []
