"""Must-show: the AMI client against pbxsim over TCP, 100 calls, every wire fact checked.

Two campaigns (7 and 8, options 1/2 record, 3 transfer, 4 repeat, message played
twice) call numbers ending 0-9. The lastdigit callee predicts for each number
exactly which FastAGI requests reach the listener, in which order, and which
OriginateResponse comes back.
"""

from __future__ import annotations

import queue

import pytest

from app.calltokens import call_token
from app.pbx.ami import AmiClient
from app.pbx.originate import originate_args
from app.pbx.errors import AmiAuthError, AmiConnectionError
from tests.pbx.conftest import sample_campaign
from tests.waiting import wait_until

# last digit -> (AGI events with their agi_arg_1, OriginateResponse Response, Reason)
PREDICTED = {
    "0": ([("answered", ""), ("dtmf-1", ""), ("hangup", "16")], "Success", "4"),
    "1": ([("answered", ""), ("dtmf-2", ""), ("hangup", "16")], "Success", "4"),
    "2": ([("answered", ""), ("dtmf-3", ""), ("hangup", "16")], "Success", "4"),  # transfer
    "3": ([("answered", ""), ("dtmf-4", ""), ("timeout", ""), ("hangup", "16")], "Success", "4"),
    "4": ([("answered", ""), ("timeout", ""), ("hangup", "16")], "Success", "4"),
    "5": ([("failed-busy", "5")], "Failure", "5"),
    "6": ([("failed-noanswer", "3")], "Failure", "3"),
    "7": ([("failed-congestion", "8")], "Failure", "8"),
    "8": ([("answered", ""), ("hangup", "16")], "Success", "4"),
    "9": ([("answered", ""), ("invalid", "9"), ("timeout", ""), ("hangup", "16")], "Success", "4"),
}
ENV_ORDER = [
    "agi_network", "agi_network_script", "agi_request", "agi_channel", "agi_language",
    "agi_type", "agi_uniqueid", "agi_version", "agi_callerid", "agi_calleridname",
    "agi_callingpres", "agi_callingani2", "agi_callington", "agi_callingtns", "agi_dnid",
    "agi_rdnis", "agi_context", "agi_extension", "agi_priority", "agi_enhanced",
    "agi_accountcode", "agi_threadid", "agi_arg_1", "agi_arg_2",
]


def test_it_places_100_calls_that_act_out_the_lastdigit_rule(pbxsim, agi_listener, pbx_settings,
                                                            request):
    # speed 20: the longest call (digit 9) lasts ~1.3 s; a ring timeout of 30 s is 1.5 s
    events = queue.Queue()
    ami = AmiClient("127.0.0.1", pbxsim.port, "callcast", "callcast", events="call,user",
                    timeout=5.0)
    request.addfinalizer(ami.close)
    ami.add_listener(events.put)
    campaigns = {7: sample_campaign(7), 8: sample_campaign(8)}
    expected = {}  # (campaign, contact) -> last digit
    pending = []
    for i in range(100):
        cid = 7 if i % 2 else 8
        contact = 1000 + i
        number = f"+1555000{i:04d}"
        expected[(cid, contact)] = number[-1]
        args = originate_args(campaigns[cid], contact, 1, number, pbx_settings)
        pending.append((args["channel_id"], ami.originate(**args, wait=False)))
    action_ids = {}
    for channel_id, p in pending:
        response = p.result(5)
        assert response["Message"] == "Originate successfully queued"
        action_ids[p.action_id] = channel_id

    # CoreShowChannels while calls are up. Every originate has been answered
    # "queued", so from now on calls only end; a call holds channels (ringing,
    # up, or its OutgoingSpoolFailed) exactly until pbxsim marks it done, so
    # the AMI count is bracketed by pbxsim's own counts taken before and after.
    def live(st):
        out = {}
        for c in st["calls"]:
            if not c["done"]:
                out[c["account"]] = out.get(c["account"], 0) + 1
        return out

    before = live(pbxsim.stats())
    counted = ami.count_calls_by_account()
    channels = ami.count_channels_by_account()
    after = live(pbxsim.stats())
    assert sum(counted.values()) > 0, "no call was up: the check proved nothing"
    for account in ("campaign-7", "campaign-8"):
        assert before.get(account, 0) >= counted.get(account, 0) >= after.get(account, 0)
        # a Local call shows two channels, ;1 and ;2, with the same AccountCode
        assert channels.get(account, 0) >= counted.get(account, 0)
    assert sum(channels.values()) > sum(counted.values())

    st = pbxsim.wait_idle(timeout=30)
    n_requests = sum(len(PREDICTED[d][0]) for d in expected.values())
    requests = agi_listener.wait_for(n_requests, timeout=10)
    assert len(requests) == n_requests
    assert st["peak_calls"]["campaign-7"] <= 50 and st["peak_calls"]["campaign-8"] <= 50

    # exactly the predicted FastAGI requests, in order per call, Asterisk's block
    by_call = {}
    for req in requests:
        env = req["env"]
        assert [line.split(":")[0] for line in req["lines"]] == ENV_ORDER
        assert all(line.endswith("\n") and not line.endswith("\r\n") for line in req["lines"])
        campaign, contact, attempt, event = env["agi_network_script"].split("/")
        assert env["agi_request"] == (f"agi://127.0.0.1:{agi_listener.port}/"
                                      f"{env['agi_network_script']}")
        assert env["agi_accountcode"] == f"campaign-{campaign}"
        assert env["agi_context"] == "callcast-report" and env["agi_priority"] == "2"
        if event.startswith("failed-"):
            assert (env["agi_channel"], env["agi_type"]) == ("OutgoingSpoolFailed", "NULL")
        else:
            assert env["agi_uniqueid"] == f"cc-{campaign}-{contact}-{attempt}"
            assert env["agi_channel"].startswith("Local/+1555") and \
                env["agi_channel"].endswith(";1")
        # the call token, on the failed extension's dummy channel too
        assert env["agi_arg_2"] == call_token(pbx_settings.call_token_secret, campaign,
                                              contact, attempt)
        by_call.setdefault((int(campaign), int(contact)), []).append(
            (event, env["agi_arg_1"]))
    assert set(by_call) == set(expected)
    for key, digit in expected.items():
        assert by_call[key] == PREDICTED[digit][0], (key, digit)

    # OriginateResponse: one per originate, matched by our ActionID
    responses = {}
    while not events.empty():
        ev = events.get()
        if ev.event == "OriginateResponse":
            responses[ev["ActionID"]] = ev
    assert set(responses) == set(action_ids)
    for action_id, ev in responses.items():
        channel_id = action_ids[action_id]
        _, cid, contact, _ = channel_id.split("-")
        digit = expected[(int(cid), int(contact))]
        assert (ev["Response"], ev["Reason"]) == PREDICTED[digit][1:], channel_id
        assert ev["Uniqueid"] == channel_id
        assert ev["Context"] == f"callcast-campaign-{cid}"
    assert ami.count_calls_by_account() == {}

    # wrong credentials: typed error, the good client is unaffected
    bad = AmiClient("127.0.0.1", pbxsim.port, "callcast", "nope", timeout=5.0)
    with pytest.raises(AmiAuthError):
        bad.ping()
    bad.close()

    # pbxsim restarts on the same port: the client reconnects by itself
    port = pbxsim.port
    pbxsim.stop()
    wait_until(lambda: not ami.connected, timeout=5)
    with pytest.raises(AmiConnectionError):
        ami.ping(timeout=0.5)
    again = pbxsim.restart(port=port)

    def pong():
        try:
            return ami.ping(timeout=1.0)["Ping"] == "Pong"
        except AmiConnectionError:
            return False

    wait_until(pong, timeout=10)
    args = originate_args(campaigns[7], 5000, 1, "5550004", pbx_settings)
    assert ami.originate(**args)["Response"] == "Success"
    assert again.wait_idle(timeout=10)["calls"][0]["result"] == "answered"
    assert ami.connections == 2
    ami.close()
