"""Live calls: what the PBX has up (one ``CoreShowChannels``) and the database has in flight.

A call takes a channel from its claim (the attempt row is written before the
originate) until Asterisk destroys its channel, which is after its last report
was stored and possibly folded. So the calls that hold channels now are the
UNION of the attempts in flight in the database and the calls on the PBX's
channel list, matched by call id (the attempt's ``channel_id`` is the Originate's
``ChannelId``, the call's Uniqueid): a call just originated is in the first set
before the PBX lists it, a call just folded is in the second until its channel is
gone. Either count alone, or the larger of the two, misses one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.dialer.outcomes import IN_FLIGHT
from app.models import DIALPLAN_STATES, CallAttempt, Campaign
from app.pbx.ami.channels import calls_by_account

CAMPAIGN_ACCOUNT = "campaign-"  # the account code prefix of our calls (app.pbx.originate)


@dataclass
class PbxSnapshot:
    ids_by_account: dict = field(default_factory=dict)  # account code -> call ids up

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


def pbx_snapshot(ami, timeout=None) -> PbxSnapshot:
    """One CoreShowChannels: the call ids up per account code.

    Raises:
        PbxError: AMI unreachable, refusing or timing out.
    """
    return snapshot_of(ami.core_show_channels(timeout))


def snapshot_of(channel_events) -> PbxSnapshot:
    """A PbxSnapshot from CoreShowChannel events."""
    return PbxSnapshot({code: set(per_call)
                        for code, per_call in calls_by_account(channel_events).items()})


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


def in_flight_ids(campaign_id: int | None = None) -> dict:
    """Call ids of the attempts in flight -> their PBX id (None: no pool row).

    ``campaign_id`` None: over every campaign whose calls may still be up.
    """
    query = CallAttempt.select(CallAttempt.channel_id, CallAttempt.pbx_id).where(
        CallAttempt.state.in_(IN_FLIGHT))
    if campaign_id is not None:
        query = query.where(CallAttempt.campaign == campaign_id)
    else:
        busy = Campaign.select(Campaign.id).where(Campaign.state.in_(DIALPLAN_STATES))
        query = query.where(CallAttempt.campaign.in_(busy))
    return dict(query.tuples())


def live_calls(campaign: Campaign, snapshot: PbxSnapshot | None) -> int:
    """The campaign's calls holding channels: in flight in the DB or up on the PBX."""
    ids = set(in_flight_ids(campaign.id))
    if snapshot is not None:
        ids |= snapshot.campaign_ids(campaign.account_code)
    return len(ids)
