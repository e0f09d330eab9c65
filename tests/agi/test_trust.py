"""Only reports of originated calls are stored: the call token and the allow-list.

Regression of issue 13, finding 2: blocks for contacts never dialled (and for
campaign 999999) reached the AGI port and were confirmed STORED and folded.
Through the real socket and the real database, on both daemon instances.
"""

from __future__ import annotations

import ipaddress

import pytest

from agi.client import signed_token
from app.clock import utcnow
from app.dialer import fold_events
from app.models import CallAttempt, CallEvent, QuarantinedReport
from tests.agi.conftest import call, stored_rows, wait_until
from tests.dialing_support import contact_ids, make_campaign

FORGED_TOKEN = "0123456789abcdef" * 4


def in_flight(count):
    """A campaign whose first ``count`` contacts have an attempt 1 in flight (originated)."""
    campaign = make_campaign([f"+1555010{i:04d}" for i in range(count + 2)])
    ids = contact_ids(campaign)
    for contact in ids[:count]:
        CallAttempt.create(campaign=campaign, contact=contact, number=1, originated_at=utcnow(),
                           channel_id=CallAttempt.make_channel_id(campaign.id, contact, 1))
    return campaign, ids


def refused(port, script, args=(), **kw):
    """True when the daemon closed the request without confirming it (reset counts too)."""
    try:
        return call(port, script, args, **kw) is False
    except ConnectionError:
        return True


@pytest.mark.parametrize("source", ["agi", "fallback"])
def test_it_quarantines_forged_reports_and_never_stores_or_folds_them(agi_daemon, agi_db, source):
    _db, url = agi_db
    daemon = agi_daemon(source=source)
    campaign, ids = in_flight(2)
    c, (dialled, other, never) = campaign.id, ids[:3]
    forged = [
        (f"{c}/{dialled}/1/answered", (), None),  # no token at all
        (f"{c}/{dialled}/1/dtmf-1", (), FORGED_TOKEN),  # a made-up one
        (f"{c}/{dialled}/1/hangup", ("16",), signed_token(f"{c}/{other}/1/x")),  # another call's
        (f"{c}/{dialled}/1/hangup", ("16",), signed_token(f"{c}/{dialled}/1/x", "k" * 40)),
        (f"{c}/{never}/1/answered", (), None),  # a contact never dialled
        (f"{c}/{never}/1/hangup", ("16",), FORGED_TOKEN),
        ("999999/1/1/answered", (), None),  # no such campaign
    ]
    for script, args, token in forged:
        assert refused(daemon.port, script, args, token=token), script

    assert CallEvent.select().count() == 0
    assert fold_events(c, utcnow()) == 0
    assert {a.state for a in CallAttempt.select()} == {"originating"}
    rows = wait_until(lambda: (lambda r: r if len(r) == len(forged) else None)(
        list(QuarantinedReport.select().order_by(QuarantinedReport.id))), what="quarantine rows")
    assert [(r.campaign_id, r.contact_id, r.attempt, r.event) for r in rows] == [
        tuple(map(_num, s.split("/"))) for s, _a, _t in forged]
    assert [r.reason for r in rows] == ["no_token", *["bad_token"] * 3, "no_token", "bad_token",
                                        "no_token"]
    assert {r.source for r in rows} == {source}
    assert all(r.peer.startswith("127.0.0.1:") and len(r.summary) <= 300 for r in rows)
    assert "token=01234567...(64)" in rows[1].summary  # never the whole token
    metrics = daemon.metrics
    assert metrics.value("agi_rejects_total", {"reason": "no_token"}) == 3
    assert metrics.value("agi_rejects_total", {"reason": "bad_token"}) == 4
    assert metrics.value("agi_quarantined_total") == 7

    # The dialled call's own token still works, and its outcome folds.
    assert call(daemon.port, f"{c}/{dialled}/1/answered") is True
    assert call(daemon.port, f"{c}/{dialled}/1/hangup", ["16"]) is True
    assert stored_rows(url, c) == {(dialled, 1, "answered"): 1, (dialled, 1, "hangup"): 1}
    assert fold_events(c, utcnow()) == 1


def _num(part):
    return int(part) if part.isdigit() else part


def test_it_closes_peers_outside_the_allow_list_at_once(agi_daemon, agi_db):
    _db, url = agi_db
    # Long timeouts: a refusal must not come from a deadline.
    daemon = agi_daemon(allowed_peers=(ipaddress.ip_network("127.0.0.1/32"),),
                        read_timeout=60, idle_timeout=60)
    for _ in range(3):
        assert refused(daemon.port, "61/1/1/answered", timeout=5, local_addr=("127.0.0.2", 0))
    assert daemon.metrics.value("agi_rejects_total", {"reason": "not_allowed"}) == 3
    assert daemon.daemon.server.active == 0  # never adopted, nothing read
    assert stored_rows(url, 61) == {}
    assert call(daemon.port, "61/1/1/answered") is True  # 127.0.0.1 is allowed
    assert stored_rows(url, 61) == {(1, 1, "answered"): 1}
