"""The cluster drill: hosts as network namespaces on one machine (``tests/ops/netns.py``),
one campaign of 5,000 contacts over three pbxsim PBXs of different capacities, then
the same with one PBX killed -9 a third of the way in (``make test`` runs both; the
same hosts deployed by the playbook are ``test_cluster_deployed.py``, ``make
drill-cluster``).

PostgreSQL only: a cluster shares one database over TCP (SQLite cannot be shared
between hosts); with ``--postgres=off`` it shows as skipped, as every PostgreSQL run
(``make test`` requires PostgreSQL). Run as root; a machine where namespaces cannot
be made fails the test, it is never skipped.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from app.campaigns import activation
from app.clock import utcnow
from app.config import get_settings
from app.models import FINAL, CallAttempt, CallEvent, Campaign, CampaignContact, Contact
from app.pbx import pool
from app.pbx.ami import AmiClient
from app.pbx.poolami import PoolAmi
from app.pbx.registry import reset_registry
from app.pbx.tables import Pbx
from dialing_support import make_campaign
from tests.ops import clusterhosts
from tests.ops.clusterhosts import AMI_PORT, Hosts
from tests.ops.netns import Cluster
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

PBXS = {"pbx1": 30, "pbx2": 20, "pbx3": 12}  # pool capacity = pbxsim --max-channels
CAP = 50  # the campaign's: below the pool's 62, so both caps are exercised
CONTACTS = 5000
MAX_ATTEMPTS = 3
# last digit -> (outcome, attempts) as pbxsim's lastdigit callee decides (test_dialing_e2e)
EXPECTED = {0: ("answered", 1), 1: ("answered", 1), 2: ("answered", 1), 3: ("answered", 1),
            4: ("answered", 1), 5: ("busy", 3), 6: ("noanswer", 3), 7: ("congestion", 3),
            8: ("answered", 1), 9: ("answered", 1)}


@pytest.fixture
def pg(request, tmp_path):
    """The session's PostgreSQL database, upgraded (a cluster needs it: fails without)."""
    root = root_conftest(request.config)
    if "postgres" not in root.SESSION.engines:  # as every PostgreSQL run: a visible skip
        pytest.skip(f"the cluster drill needs PostgreSQL: {root.SESSION.pg_note}")
    yield from root._database("postgres", tmp_path, upgraded=True)


@pytest.fixture
def hosts(pg, broker, tmp_path, request):
    """Three PBX hosts in the pool, the web and dialer hosts running; torn down whatever happens."""
    cluster = Cluster(tmp_path)
    try:
        cluster.up()
    except Exception as exc:
        cluster.close()
        pytest.fail(f"cannot create the bridge (run as root): {exc}")
    try:
        made = Hosts(cluster, PBXS, root_pg_name(request.config), speed=20.0)
        add_pool(cluster)
        yield made.start()
    finally:
        print(cluster.logs())
        reset_registry()
        cluster.close()
        leftover = [line for line in _ip("netns", "list").splitlines() if f"cc{cluster.tag}-" in line]
        assert not leftover, leftover


def add_pool(cluster):
    s = get_settings()
    for name, capacity in PBXS.items():
        addr = cluster.address(name)
        pool.add_pbx(dict(name=name, ami_host=addr, ami_port=AMI_PORT, ami_user=s.ami_user,
                          ami_secret=s.ami_secret, agi_host=addr, dial_template=s.dial_template,
                          capacity=capacity, agent=True))


def root_conftest(config):
    """tests/conftest.py as pytest loaded it. Not ``sys.modules["conftest"]``: each test
    folder without ``__init__.py`` loads its own conftest under that name, so in a whole
    run it is whichever was loaded last."""
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    for plugin in config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", None) or "/").resolve() == path:
            return plugin
    raise LookupError(f"{path} is not loaded")


def root_pg_name(config):
    return root_conftest(config).SESSION.pg_name


def _ip(*args):
    from tests.ops.netns import ip

    return ip(*args).stdout


def launch(hosts):
    from tasks.dialing import start_dialing

    phones = [f"+1202{i:07d}" for i in range(CONTACTS)]
    campaign = make_campaign(phones, max_channels=CAP, max_attempts=MAX_ATTEMPTS,
                             retry_busy_s=1, retry_noanswer_s=1, retry_failed_s=1,
                             ring_timeout_s=5, max_call_s=5, digit_timeout_s=2, message_repeats=1)
    ami = PoolAmi(get_settings())
    activation.activate(campaign.id, utcnow(), ami=ami)
    assert ami.left_out == []  # every PBX's agent confirmed the dialplan
    start_dialing(campaign.id)
    return campaign


def finished(campaign_id):
    return Campaign.get_by_id(campaign_id).state == "FINISHED"


def closes(hosts, campaign_id):
    """After the checks: the lifecycle drains and closes the campaign (report, purge)."""
    from tasks.schedules import expire_campaigns

    hosts.close_campaigns()

    def closed():
        state = Campaign.get_by_id(campaign_id).state
        if state == "FINISHED":  # the minute's scan, sent now rather than waited for
            expire_campaigns.send()
        return state == "CLOSED"

    wait_until(closed, 300, "the campaign to close", interval=5.0)


def pbx_stats(hosts, name):
    s = get_settings()
    client = AmiClient(hosts.cluster.address(name), AMI_PORT, s.ami_user, s.ami_secret,
                       timeout=10.0, name="drill")
    try:
        return json.loads(client.action("PbxsimStats").get("JSON"))
    finally:
        client.close()


def health(hosts):
    return clusterhosts.health(hosts.web_url)


def attempts_by_contact(campaign_id):
    rows = defaultdict(list)
    for a in CallAttempt.select().where(CallAttempt.campaign == campaign_id).order_by(
            CallAttempt.contact, CallAttempt.number):
        rows[a.contact_id].append(a)
    return rows


def check_outcomes(campaign, per_contact):
    """Every contact final with the outcome its last digit predicts; an attempt lost with a
    killed PBX costs one attempt of the cap (so a contact retried after it has one more)."""
    phones = {c.id: c.phone for c in Contact.select()}
    wrong = []
    for row in CampaignContact.select().where(CampaignContact.campaign == campaign.id):
        attempts = per_contact[row.contact_id]
        outcome, count = EXPECTED[int(phones[row.contact_id][-1])]
        lost = sum(a.outcome == "lost" for a in attempts)
        want = min(count + lost, MAX_ATTEMPTS)
        if outcome == "answered" and lost == 0:
            want = 1
        got = (row.state, row.last_outcome, row.attempts, len(attempts))
        if got != (FINAL, outcome, want, want) and not (
                lost and attempts[-1].outcome == "lost" and len(attempts) == MAX_ATTEMPTS):
            wrong.append((phones[row.contact_id], got, [a.outcome for a in attempts]))
        assert [a.number for a in attempts] == list(range(1, len(attempts) + 1))
    assert not wrong, (len(wrong), wrong[:10])
    assert max(len(v) for v in per_contact.values()) <= MAX_ATTEMPTS


def check_calls(campaign, stats_by_pbx):
    """What each PBX did: its peak within its capacity, the campaign's peak (over every
    PBX's call records, one clock) within its cap, every originate one claimed attempt
    of that PBX, every report it made stored once and none missing."""
    by_channel = {a.channel_id: a for a in CallAttempt.select().where(
        CallAttempt.campaign == campaign.id)}
    pbx_ids = {p.name: p.id for p in Pbx.select()}
    edges, missing, doubled, peaks = [], [], [], {}
    for name, stats in stats_by_pbx.items():
        peaks[name] = stats["peak_calls"].get(campaign.account_code, 0)
        assert peaks[name] <= PBXS[name], (name, peaks[name])
        for call in stats["calls"]:
            if call["account"] != campaign.account_code:
                continue
            attempt = by_channel[call["channel_id"]]
            assert attempt.pbx_id == pbx_ids[name]
            edges += [(call["originated_at"], 1), (call["ended_at"], -1)]
            reported = [r["event"] for r in call["agi"] if r["status"] == "SUCCESS"]
            reported += [e.get("Name") or e.get("Event", "") for e in call["user_events"]]
            if len(reported) != len(set(reported)):
                doubled.append((call["channel_id"], reported))
            missing.append((attempt, reported))
    assert not doubled, doubled[:5]
    # a report reaches the database after the call's end is known (the AGI daemons
    # write in batches, from their journal when the database lagged): wait for them
    last = {}

    def all_stored():
        missing[:] = [(a, r) for a, r in missing  # those still short, asked again
                      if len(stored_names(campaign, a)) < len(set(r))]
        last["missing"] = [(a.channel_id, r, stored_names(campaign, a)) for a, r in missing[:5]]
        return not missing

    try:
        wait_until(all_stored, 60, "every report stored", interval=1.0)
    except AssertionError:
        raise AssertionError(f"reports missing: {last['missing'][:5]}") from None
    live = top = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        live += step
        top = max(top, live)
    assert top <= CAP
    return peaks, top


def stored_names(campaign, attempt):
    return [e.name for e in CallEvent.select().where(
        (CallEvent.campaign_id == campaign.id) & (CallEvent.contact_id == attempt.contact_id)
        & (CallEvent.attempt == attempt.number))]


def test_one_campaign_spreads_over_three_pbx_hosts_within_every_capacity(hosts):
    began = utcnow()
    campaign = launch(hosts)
    wait_until(lambda: finished(campaign.id), 1200, "the campaign to finish", interval=1.0)
    took = (utcnow() - began).total_seconds()
    per_contact = attempts_by_contact(campaign.id)
    check_outcomes(campaign, per_contact)
    assert CallAttempt.select().where(CallAttempt.outcome == "lost").count() == 0
    stats = {name: pbx_stats(hosts, name) for name in PBXS}
    peaks, top = check_calls(campaign, stats)
    calls = {name: sum(c["account"] == campaign.account_code for c in s["calls"])
             for name, s in stats.items()}
    assert all(calls.values()), calls  # every PBX carried some
    status, body = health(hosts)
    assert body["checks"]["pbx"] == {"ok": True, "detail": "3 PBXs answer: pbx1, pbx2, pbx3"}, body
    closes(hosts, campaign.id)
    print(f"cluster: {CONTACTS} contacts, {sum(map(len, per_contact.values()))} attempts in "
          f"{took:.0f}s; calls per PBX {calls}; peaks {peaks} (capacities {PBXS}); "
          f"campaign peak {top}/{CAP}")


def test_a_pbx_host_killed_a_third_of_the_way_in_loses_nothing(hosts):
    campaign = launch(hosts)
    final = CampaignContact.state == FINAL
    wait_until(lambda: CampaignContact.select().where(final).count() >= CONTACTS // 3, 600,
               "a third of the contacts final", interval=0.5)
    pbx3_id = Pbx.get(Pbx.name == "pbx3").id
    hosts.kill_pbx("pbx3")
    # the calls pbx3 had when it died (claimed, not yet folded)
    in_flight = [a.id for a in CallAttempt.select().where(
        (CallAttempt.pbx_id == pbx3_id) & CallAttempt.finished_at.is_null())]
    wait_until(lambda: Pbx.get(Pbx.name == "pbx3").down_since is not None, 30,
               "the pool row to show pbx3 down")
    status, body = health(hosts)
    assert status == 503 and "pbx" in body["failing"], body
    assert "pbx3" in json.dumps(body["checks"]["pbx"]), body
    wait_until(lambda: finished(campaign.id), 1200, "the campaign to finish", interval=1.0)
    per_contact = attempts_by_contact(campaign.id)
    check_outcomes(campaign, per_contact)
    lost = CallAttempt.select().where(CallAttempt.outcome == "lost").count()
    # an originate that never reached pbx3 gives its claim back (``claims.unclaim``: the
    # attempt row goes, the contact is due again); every other one is folded
    kept = {a.id: a.outcome for a in CallAttempt.select().where(CallAttempt.id.in_(in_flight))}
    settled, given_back = sorted(kept.values()), len(in_flight) - len(kept)
    assert None not in settled and "" not in settled  # from its reports, or lost after its deadline
    pbx3 = Pbx.get(Pbx.name == "pbx3")
    stats = {name: pbx_stats(hosts, name) for name in ("pbx1", "pbx2")}
    peaks, top = check_calls(campaign, stats)
    assert Pbx.get(Pbx.name == "pbx3").down_since is not None
    hosts.start_pbx("pbx3")
    wait_until(lambda: health(hosts)[1]["checks"]["pbx"]["ok"], 60, "/health's pbx check ok again")
    assert Pbx.get(Pbx.name == "pbx3").down_since is None
    closes(hosts, campaign.id)
    print(f"cluster drill: pbx3 killed at {CONTACTS // 3} final contacts ({pbx3.last_error}); "
          f"{len(in_flight)} calls in flight on it, settled as {settled}, {given_back} given back "
          f"(never reached it); "
          f"{lost} attempts lost and retried; peaks {peaks}; campaign peak (pbx1+pbx2) {top}/{CAP}")
