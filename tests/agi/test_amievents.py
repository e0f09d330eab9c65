"""The AMI UserEvent path: outcomes reach call_event while no FastAGI daemon answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from agi.amievents import UserEventRecorder, event_from_userevent
from agi.errors import AgiProtocolError
from agi.journal import Journal
from agi.metrics import Metrics
from agi.writer import EventWriter
from app.calltokens import call_token
from app.clock import utcnow
from app.config import get_settings, load_settings
from app.models import CallEvent, Heartbeat, QuarantinedReport
from app.pbx.ami import AmiClient, parse_message
from app.pbx.dialplan import write_dialplan
from app.pbx.originate import originate_args
from pbxsim.server import PbxsimThread
from tests.pbx.conftest import sample_campaign
from tests.waiting import free_port, wait_until

# what app_userevent.c sends for the dialplan's UserEvent(CallcastEvent,...)
HANGUP_EVENT = (
    "Event: UserEvent\r\nPrivilege: user,all\r\nChannel: Local/5550000@pstn-00000001;2\r\n"
    "Uniqueid: cc-7-3-1\r\nAccountCode: campaign-7\r\nUserEvent: CallcastEvent\r\n"
    "campaign: 7\r\ncontact: 3\r\nattempt: 1\r\nevent: hangup\r\narg: 16\r\n"
    "agistatus: FAILURE\r\nfallback: NONE\r\n"
)


def test_it_builds_the_event_a_callcast_user_event_reports():
    when = utcnow()
    event = event_from_userevent(parse_message(HANGUP_EVENT), when)
    assert event.key == (7, 3, 1, "hangup")
    assert (event.source, event.uniqueid, event.data, event.received_at) == (
        "ami", "cc-7-3-1", {"hangupcause": "16"}, when)
    assert event.channel == "Local/5550000@pstn-00000001;2"


def test_it_ignores_events_that_are_not_callcast_reports():
    other = HANGUP_EVENT.replace("UserEvent: CallcastEvent", "UserEvent: SomethingElse")
    assert event_from_userevent(parse_message(other), utcnow()) is None
    assert event_from_userevent(parse_message("Event: Hangup\r\nUniqueid: 1\r\n"), utcnow()) is None


@pytest.mark.parametrize("change", [
    ("event: hangup", "event: drop-table"),
    ("contact: 3", "contact: x"),
    ("attempt: 1", "attempt: "),
])
def test_it_refuses_a_callcast_event_with_bad_ids_or_an_unknown_event(change):
    with pytest.raises(AgiProtocolError):
        event_from_userevent(parse_message(HANGUP_EVENT.replace(*change)), utcnow())


def test_it_stores_only_user_events_bearing_their_calls_token(db, tmp_path):
    secret = get_settings().call_token_secret
    metrics = Metrics()
    journal = Journal(tmp_path / "journal.jsonl").open()
    writer = EventWriter(db, journal, metrics, lambda waiters, stored: None)
    recorder = UserEventRecorder(writer, metrics, secret, peer="ami 127.0.0.1:5038")
    good = HANGUP_EVENT + f"token: {call_token(secret, 7, 3, 1)}\r\n"
    forged = [
        HANGUP_EVENT,  # what Action: UserEvent sends without the call's token
        HANGUP_EVENT + f"token: {call_token(secret, 7, 4, 1)}\r\n",  # another call's
        HANGUP_EVENT.replace("campaign: 7", "campaign: 999999")
        + f"token: {call_token('x' * 40, 999999, 3, 1)}\r\n",
    ]
    writer.start()
    try:
        for text in [*forged, good]:
            recorder(parse_message(text))
    finally:
        assert writer.stop(timeout=10)
        journal.close()
    assert [(e.campaign_id, e.contact_id, e.name, e.source) for e in CallEvent.select()] == [
        (7, 3, "hangup", "ami")]
    rows = list(QuarantinedReport.select().order_by(QuarantinedReport.id))
    assert [(r.campaign_id, r.reason, r.source, r.peer) for r in rows] == [
        (7, "no_token", "ami", "ami 127.0.0.1:5038"), (7, "bad_token", "ami", "ami 127.0.0.1:5038"),
        (999999, "bad_token", "ami", "ami 127.0.0.1:5038")]
    assert metrics.value("agi_rejects_total", {"reason": "bad_token"}) == 2


@pytest.mark.e2e
def test_it_stores_a_call_reported_only_on_ami_once(sqlite_db, tmp_path):
    settings = load_settings({"AGI_PORT": str(free_port()),  # no FastAGI daemon anywhere
                              "DIALPLAN_PATH": str(tmp_path / "callcast.conf"),
                              # the recorder's, as the dialer and it share it in production
                              "CALL_TOKEN_SECRET": os.environ["CALL_TOKEN_SECRET"]})
    write_dialplan([sample_campaign(7)], settings=settings)
    sim = PbxsimThread(dialplan_path=settings.dialplan_path, speed=20.0)
    sim.start()
    env = {**os.environ, "AMI_PORT": str(sim.port),
           "AGI_JOURNAL_PATH": str(tmp_path / "journal.jsonl")}
    recorder = subprocess.Popen([sys.executable, "-m", "agi.amievents"], env=env,
                                stdin=subprocess.DEVNULL)
    try:
        # it is listening once its heartbeat row exists (written after login)
        wait_until(lambda: recorder.poll() is not None
                   or Heartbeat.select().where(Heartbeat.kind == "ami-events").exists(),
                   15, "the recorder's heartbeat")
        assert recorder.poll() is None, "the recorder exited"
        with AmiClient("127.0.0.1", sim.port, "callcast", "callcast") as ami:
            ami.originate(**originate_args(sample_campaign(7), 3, 1, "5550000", settings))
            ami.originate(**originate_args(sample_campaign(7), 5, 1, "5550005", settings))
        sim.wait_idle()
        wait_until(lambda: CallEvent.select().count() >= 4, 20, "4 stored events")
        rows = list(CallEvent.select())
    finally:
        recorder.send_signal(signal.SIGTERM)
        code = recorder.wait(timeout=15)
        sim.stop()
    assert code == 0
    got = sorted((r.contact_id, r.name, r.source, r.data.get("hangupcause")) for r in rows)
    assert got == [
        (3, "answered", "ami", None),
        (3, "dtmf-1", "ami", None),
        (3, "hangup", "ami", "16"),
        (5, "failed-busy", "ami", None),
    ]
