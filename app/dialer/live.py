"""Live calls: what the PBX has up (one ``CoreShowChannels``) and the database has in flight.

A call takes a channel from its claim (the attempt row is written before the
originate) until Asterisk destroys its channel, which is after its last report
was stored and possibly folded. So the calls that hold channels now are the
UNION of the attempts in flight in the database and the calls on the PBX's
channel list, matched by call id (the attempt's ``channel_id`` is the Originate's
``ChannelId``, the call's Uniqueid): a call just originated is in the first set
before the PBX lists it, a call just folded is in the second until its channel is
gone. Either count alone, or the larger of the two, misses one of them.

One more kind is in neither: a call another process started after the list was
asked and whose end was already reported and folded when the database is read,
its channel not yet gone. So the attempts that ENDED (their terminal report
received) after the list was asked count too (``PbxSnapshot.asked_at``: the tick's
or refill's ``now``, taken before the lists are asked, so "after" it is exact): a
call that reported its end before then and was still up is on the list. Lost attempts are left out (the PBX had no channel for
them). This takes the clocks of the AGI hosts and the dialer hosts as agreeing
(NTP); a call that ended in that short window and is already gone is counted
once more than needed, never one less.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.dialer.outcomes import IN_FLIGHT
from app.events import LOST
from app.models import DIALPLAN_STATES, CallAttempt, Campaign
from app.pbx.ami.channels import calls_by_account

CAMPAIGN_ACCOUNT = "campaign-"  # the account code prefix of our calls (app.pbx.originate)


@dataclass
class PbxSnapshot:
    ids_by_account: dict = field(default_factory=dict)  # account code -> call ids up
    asked_at: datetime | None = None  # when the list was asked (the earliest of a pool's)

    @property
    def calls_by_account(self) -> dict:
        """Account code -> number of calls up."""
        return {code: len(ids) for code, ids in self.ids_by_account.items()}

    @property
    def call_ids(self) -> set:
        """Every call id up, whatever its account code."""
        return set().union(*self.ids_by_account.values())

    def campaign_ids(self, account_code: str | None = None) -> set:
        """Call ids up of one campaign's account code (None: of every campaign)."""
        if account_code is not None:
            return set(self.ids_by_account.get(account_code, ()))
        return set().union(*(ids for code, ids in self.ids_by_account.items()
                             if code.startswith(CAMPAIGN_ACCOUNT)))

    def merge(self, other: PbxSnapshot) -> None:
        for code, ids in other.ids_by_account.items():
            self.ids_by_account.setdefault(code, set()).update(ids)
        if other.asked_at is not None:
            self.asked_at = min(filter(None, (self.asked_at, other.asked_at)))


def pbx_snapshot(ami, timeout=None) -> PbxSnapshot:
    """One CoreShowChannels: the call ids up per account code.

    Raises:
        PbxError: AMI unreachable, refusing or timing out.
    """
    return snapshot_of(ami.core_show_channels(timeout))


def snapshot_of(channel_events, asked_at: datetime | None = None) -> PbxSnapshot:
    """A PbxSnapshot from CoreShowChannel events."""
    return PbxSnapshot({code: set(per_call)
                        for code, per_call in calls_by_account(channel_events).items()},
                       asked_at)


def in_flight_count(campaign_ids) -> int:
    """Attempts without a terminal outcome, over the given campaigns."""
    ids = list(campaign_ids)
    if not ids:
        return 0
    return (
        CallAttempt.select()
        .where((CallAttempt.campaign.in_(ids)) & (CallAttempt.state.in_(IN_FLIGHT)))
        .count()
    )


def holding_ids(since: datetime | None = None, campaign_id: int | None = None) -> dict:
    """Call ids of the attempts that may hold a channel -> their PBX id (None: no pool row).

    In flight, or ended after ``since`` (taken before the PBXs' lists were asked;
    None: in flight only). ``campaign_id`` None: over every campaign whose calls may
    still be up.
    """
    if campaign_id is not None:
        of_campaigns = CallAttempt.campaign == campaign_id
    else:
        busy = Campaign.select(Campaign.id).where(Campaign.state.in_(DIALPLAN_STATES))
        of_campaigns = CallAttempt.campaign.in_(busy)
    columns = (CallAttempt.channel_id, CallAttempt.pbx_id)
    ids = dict(CallAttempt.select(*columns).where(
        of_campaigns & CallAttempt.state.in_(IN_FLIGHT)).tuples())
    if since is not None:  # through the (campaign, finished_at) index
        ids.update(CallAttempt.select(*columns).where(
            of_campaigns & (CallAttempt.finished_at > since)
            & (CallAttempt.outcome != LOST)).tuples())
    return ids


def live_calls(campaign: Campaign, snapshot: PbxSnapshot | None) -> int:
    """The campaign's calls holding channels: in flight in the DB or up on the PBX."""
    if snapshot is None:
        return len(holding_ids(None, campaign.id))
    ids = set(holding_ids(snapshot.asked_at, campaign.id))
    return len(ids | snapshot.campaign_ids(campaign.account_code))
