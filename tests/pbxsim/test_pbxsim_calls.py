"""pbxsim's calls: fallback path, ordering, trunk limit, channel naming, pinning, subprocess."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time

import pytest

from app.config import load_settings
from app.pbx.ami import AmiClient
from app.pbx.dialplan import write_dialplan
from app.pbx.originate import originate_args
from pbxsim.callee import LastDigit, RandomModel
from pbxsim.server import PbxsimThread
from tests.pbx.conftest import AgiListener, sample_campaign
from tests.waiting import free_port


def start_sim(settings, **kwargs):
    options = dict(dialplan_path=settings.dialplan_path, speed=20.0)
    options.update(kwargs)
    sim = PbxsimThread(**options)
    sim.start()
    return sim


def listen(ami):
    events = queue.Queue()
    ami.add_listener(lambda m: events.put((time.monotonic(), m)))
    return events


def drain(events):
    out = []
    while not events.empty():
        out.append(events.get())
    return out


def one_call(tmp_path, number, **env):
    """Place one call to ``number`` through a fresh pbxsim whose dialplan uses ``env``'s
    AGI endpoints; return pbxsim's record of the call and the UserEvents AMI sent."""
    settings = load_settings({"DIALPLAN_PATH": str(tmp_path / "callcast.conf"), **env})
    write_dialplan([sample_campaign(7)], settings=settings)
    sim = start_sim(settings)
    try:
        with AmiClient("127.0.0.1", sim.port, "callcast", "callcast", events="user") as ami:
            events = listen(ami)
            ami.originate(**originate_args(sample_campaign(7), 3, 1, number, settings))
            call = sim.wait_idle()["calls"][0]
    finally:
        sim.stop()
    return call, [m for _, m in drain(events) if m.event == "UserEvent"]


def test_it_takes_the_fallback_path_and_sends_a_user_event_when_the_agi_port_refuses(tmp_path):
    fallback = AgiListener().start()
    try:
        call, user_events = one_call(
            tmp_path, "5550000",
            AGI_PORT=str(free_port()),  # nothing listens: AGISTATUS=FAILURE
            AGI_FALLBACK_HOST="127.0.0.1", AGI_FALLBACK_PORT=str(fallback.port))
        primary = [a for a in call["agi"] if a["port"] != fallback.port]
        assert [(a["event"], a["status"]) for a in primary] == [
            ("answered", "FAILURE"), ("dtmf-1", "FAILURE"), ("hangup", "FAILURE")]
        got = fallback.wait_for(3)
        assert [r["env"]["agi_network_script"] for r in got] == [
            "7/3/1/answered", "7/3/1/dtmf-1", "7/3/1/hangup"]
        assert got[2]["env"]["agi_arg_1"] == "16"
        assert [m["event"] for m in user_events] == ["answered", "dtmf-1", "hangup"]
        last = user_events[-1]
        assert (last["UserEvent"], last["campaign"], last["contact"], last["attempt"],
                last["arg"], last["agistatus"], last["fallback"]) == (
            "CallcastEvent", "7", "3", "1", "16", "FAILURE", "SUCCESS")
        assert last["AccountCode"] == "campaign-7" and last["Uniqueid"] == "cc-7-3-1"
    finally:
        fallback.stop()


def test_it_takes_the_fallback_path_when_the_daemon_closes_without_confirming(tmp_path):
    # A daemon killed between reading the request and storing it: Asterisk
    # reads EOF and sets AGISTATUS=SUCCESS, so only the missing confirmation
    # tells the dialplan the event is not safe.
    primary, fallback = AgiListener(confirm=False).start(), AgiListener().start()
    try:
        call, user_events = one_call(
            tmp_path, "5550005", AGI_PORT=str(primary.port),
            AGI_FALLBACK_HOST="127.0.0.1", AGI_FALLBACK_PORT=str(fallback.port))
        assert [(a["port"], a["status"], a["variables"]) for a in call["agi"]] == [
            (primary.port, "SUCCESS", {}),
            (fallback.port, "SUCCESS", {"CALLCAST_AGI_STATUS": "STORED"}),
        ]
        [user_event] = user_events
        assert (user_event["event"], user_event["agistatus"], user_event["stored"]) == (
            "failed-busy", "SUCCESS", "STORED")
    finally:
        primary.stop()
        fallback.stop()


def test_it_reports_once_when_the_daemon_confirms(pbxsim, agi_listener, pbx_settings):
    with AmiClient("127.0.0.1", pbxsim.port, "callcast", "callcast", events="user") as ami:
        events = listen(ami)
        ami.originate(**originate_args(sample_campaign(7), 3, 1, "5550000", pbx_settings))
        call = pbxsim.wait_idle()["calls"][0]
    assert [(a["event"], a["variables"]) for a in call["agi"]] == [
        ("answered", {"CALLCAST_AGI_STATUS": "STORED"}),
        ("dtmf-1", {"CALLCAST_AGI_STATUS": "STORED"}),
        ("hangup", {"CALLCAST_AGI_STATUS": "STORED"}),
    ]
    assert [m for _, m in drain(events) if m.event == "UserEvent"] == []


def test_it_sends_only_the_user_event_when_no_fallback_is_configured(tmp_path):
    call, user_events = one_call(tmp_path, "5550007", AGI_PORT=str(free_port()))
    assert [(a["event"], a["status"]) for a in call["agi"]] == [("failed-congestion", "FAILURE")]
    [ev] = user_events
    assert (ev["event"], ev["arg"], ev["agistatus"], ev["fallback"]) == (
        "failed-congestion", "8", "FAILURE", "NONE")
    assert ev["Channel"] == "OutgoingSpoolFailed"
    # h ran after failed on the dummy channel and stayed quiet
    assert [u["event"] for u in call["user_events"]] == ["failed-congestion"]


def test_it_runs_the_failed_extension_before_originate_response(pbxsim, agi_listener,
                                                                pbx_settings):
    with AmiClient("127.0.0.1", pbxsim.port, "callcast", "callcast", events="call") as ami:
        events = listen(ami)
        ami.originate(**originate_args(sample_campaign(7), 4, 1, "5550005", pbx_settings))
        pbxsim.wait_idle()
        [request] = agi_listener.wait_for(1)
        [(at, response)] = [(t, m) for t, m in drain(events) if m.event == "OriginateResponse"]
    assert request["env"]["agi_network_script"] == "7/4/1/failed-busy"
    assert request["at"] < at  # the AGI connection closed before the event was read
    assert (response["Response"], response["Reason"], response["Channel"]) == (
        "Failure", "5", "Local/5550005@pstn")


def test_it_answers_congestion_beyond_the_trunk_limit_and_counts_the_peak(
    pbxsim, pbx_settings, agi_listener
):
    sim = pbxsim.restart(max_channels=3)
    # Every call waits in its first AGI() (the answered report, or the failed
    # extension's) until all five got there: the peak is then the same every run.
    agi_listener.hold()
    with AmiClient("127.0.0.1", sim.port, "callcast", "callcast") as ami:
        for contact in range(5):  # all answer and listen to the whole message
            ami.originate(**originate_args(sample_campaign(7), contact, 1, f"55500{contact}4",
                                           pbx_settings))
        agi_listener.wait_for(5)
        agi_listener.release()
        st = sim.wait_idle()
    results = sorted((c["result"], c["reason"]) for c in st["calls"])
    assert results == [("answered", 4)] * 3 + [("congestion", 8)] * 2
    assert st["peak_calls"] == {"campaign-7": 5}  # the refused ones were live briefly
    # 3 Local calls with 2 channels each, plus the 2 refused calls' OutgoingSpoolFailed
    # channels running the failed extension at the same time
    assert st["peak_channels"] == {"campaign-7": 8}


def test_it_fails_an_originate_whose_channel_id_is_in_use(pbxsim, pbx_settings):
    with AmiClient("127.0.0.1", pbxsim.port, "callcast", "callcast", events="call") as ami:
        events = listen(ami)
        args = originate_args(sample_campaign(7), 1, 1, "5550004", pbx_settings)
        ami.originate(**args)
        ami.originate(**args)
        pbxsim.wait_idle()
        responses = [m for _, m in drain(events) if m.event == "OriginateResponse"]
    assert sorted((m["Response"], m["Reason"]) for m in responses) == [
        ("Failure", "0"), ("Success", "4")]


def test_it_counts_calls_and_channels_exactly_while_they_are_up(pbxsim, pbx_settings, tmp_path):
    pj = load_settings({"AGI_PORT": str(pbx_settings.agi_port),
                        "DIAL_TEMPLATE": "PJSIP/{number}@trunk",
                        "DIALPLAN_PATH": str(pbx_settings.dialplan_path)})
    sim = pbxsim.restart(speed=10.0)  # digit-4 calls stay up ~2.3 s
    with AmiClient("127.0.0.1", sim.port, "callcast", "callcast") as ami:
        for contact in range(3):
            ami.originate(**originate_args(sample_campaign(7), contact, 1, "5550004",
                                           pbx_settings))
        for contact in range(2):
            ami.originate(**originate_args(sample_campaign(8), contact, 1, "5550014", pj))

        def all_up():
            st = sim.stats()
            return all(c["result"] == "answered" for c in st["calls"])

        deadline = time.monotonic() + 5
        while not all_up():
            assert time.monotonic() < deadline
            threading.Event().wait(0.01)
        assert ami.count_calls_by_account() == {"campaign-7": 3, "campaign-8": 2}
        assert ami.count_channels_by_account() == {"campaign-7": 6, "campaign-8": 2}
        names = sorted(ev["Channel"] for ev in ami.core_show_channels())
        assert [n.split("-")[0] for n in names] == ["Local/5550004@pstn"] * 6 + ["PJSIP/trunk"] * 2
        sim.wait_idle()
        assert ami.count_calls_by_account() == {}


def test_it_holds_the_channel_while_the_agi_server_keeps_the_connection(pbxsim, pbx_settings):
    # a FastAGI server that reads and never closes pins the channel (res_agi.c run_agi)
    held = threading.Semaphore(0)
    writers = []
    loop = asyncio.new_event_loop()

    async def hold(reader, writer):
        writers.append(writer)
        held.release()

    # the loop lives in its own thread from the start: the main thread may
    # already carry a running loop (Playwright's sync API leaves one there)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(
        asyncio.start_server(hold, "127.0.0.1", 0), loop).result(5)
    try:
        settings = load_settings({"AGI_PORT": str(server.sockets[0].getsockname()[1]),
                                  "DIALPLAN_PATH": str(pbx_settings.dialplan_path)})
        write_dialplan([sample_campaign(7)], settings=settings)
        sim = pbxsim.restart(pin_limit=1.0)
        with AmiClient("127.0.0.1", sim.port, "callcast", "callcast") as ami:
            ami.originate(**originate_args(sample_campaign(7), 1, 1, "5550007", settings))
            assert held.acquire(timeout=5), "the AGI connection never arrived"
            assert ami.count_calls_by_account() == {"campaign-7": 1}  # still in AGI()
            call = sim.wait_idle(timeout=5)["calls"][0]
        assert call["agi"][0]["status"] == "PINNED"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_it_runs_as_a_process_and_reports_over_ami(pbxsim_process, pbx_settings, agi_listener):
    write_dialplan([sample_campaign(7)], settings=pbx_settings)
    proc = pbxsim_process("--dialplan", str(pbx_settings.dialplan_path), "--speed", "50",
                          "--user", "u1", "--secret", "s1")
    with AmiClient("127.0.0.1", proc.port, "u1", "s1") as ami:
        ami.originate(**originate_args(sample_campaign(7), 1, 1, "5550001", pbx_settings))
        deadline = time.monotonic() + 10
        while True:
            stats = json.loads(ami.action("PbxsimStats")["JSON"])
            if stats["calls"] and stats["calls"][0]["done"]:
                break
            assert time.monotonic() < deadline
            threading.Event().wait(0.02)
    assert [a["event"] for a in stats["calls"][0]["agi"]] == ["answered", "dtmf-2", "hangup"]
    assert [r["env"]["agi_network_script"] for r in agi_listener.wait_for(3)] == [
        "7/1/1/answered", "7/1/1/dtmf-2", "7/1/1/hangup"]
    assert proc.stop() == 0  # SIGTERM: clean exit


def test_it_draws_random_outcomes_reproducibly():
    model1, model2 = RandomModel(seed=3), RandomModel(seed=3)
    assert [model1.behaviour("1") for _ in range(50)] == [model2.behaviour("1") for _ in range(50)]
    results = {RandomModel(seed=s).behaviour("1").result for s in range(200)}
    assert results == {"answer", "busy", "noanswer", "congestion", "unavailable"}
    with pytest.raises(ValueError):
        RandomModel(p_answer=0.9, p_busy=0.2)
    assert LastDigit().behaviour("5550003").digit == "4"


class HangsUpAfterPressing:
    """Presses 1, then hangs up while the dtmf-1 report is still being made."""

    name = "test"

    def behaviour(self, number):
        from pbxsim.callee import Behaviour

        return Behaviour("answer", ring_s=0.5, digit="1", digit_at_s=1.0,
                         hangup_at_event="dtmf-1")


def test_it_reports_a_hangup_noticed_inside_the_report_subroutine(pbxsim, agi_listener,
                                                                   pbx_settings):
    # Asterisk runs h in the context the channel is in (main/pbx.c): here
    # callcast-report, which therefore has its own h
    pbxsim.call(lambda pbx: setattr(pbx, "model", HangsUpAfterPressing()))
    with AmiClient("127.0.0.1", pbxsim.port, "callcast", "callcast") as ami:
        ami.originate(**originate_args(sample_campaign(7), 1, 1, "5550000", pbx_settings))
        call = pbxsim.wait_idle()["calls"][0]
    requests = agi_listener.wait_for(3)
    assert [(r["env"]["agi_network_script"], r["env"]["agi_context"]) for r in requests] == [
        ("7/1/1/answered", "callcast-report"), ("7/1/1/dtmf-1", "callcast-report"),
        ("7/1/1/hangup", "callcast-report")]
    assert call["hangupcause"] == "16"


def test_it_keeps_every_random_call_consistent(pbxsim, agi_listener, pbx_settings):
    sim = pbxsim.restart(model="random", speed=50.0, model_options=dict(
        seed=11, p_answer=0.5, p_busy=0.1, p_noanswer=0.1, p_congestion=0.1,
        p_digit=0.5, p_hangup=0.3, digits="129", ring=(0.5, 3.0), talk=(1.0, 5.0)))
    with AmiClient("127.0.0.1", sim.port, "callcast", "callcast") as ami:
        for contact in range(40):
            ami.originate(**originate_args(sample_campaign(7), contact, 1, f"555{contact:04d}",
                                           pbx_settings))
        calls = sim.wait_idle(timeout=20)["calls"]
    failed_names = {0: "unavailable", 3: "noanswer", 5: "busy", 8: "congestion"}
    kinds = set()
    for call in calls:
        events = [a["event"] for a in call["agi"]]
        assert all(a["status"] == "SUCCESS" for a in call["agi"])
        if call["result"] == "answered":
            assert events[0] == "answered" and events[-1] == "hangup", events
            assert sum(e.startswith("dtmf-") or e == "invalid" for e in events) <= 2
            kinds.add("digit" if call["digit"] else "nodigit")
        else:
            assert events == [f"failed-{failed_names[call['reason']]}"], (call["result"], events)
            kinds.add(call["result"])
    assert {"digit", "nodigit", "busy", "congestion"} <= kinds
