"""The dialer: one tick of one campaign, as plain functions over the database and AMI.

A tick (``tick.run_tick``) does, in order:

1. snapshot the PBX's live calls (``live``: one ``CoreShowChannels``, asked
   before the fold and read after it); AMI down or refusing: fold only, claim
   nothing, status ``PBX unreachable``;
2. ``folding.fold_events``: turn the new CallEvent rows of in-flight attempts
   into attempt and contact state, by the rules of ``outcomes``;
3. ``reconcile.reconcile``: an attempt with no terminal event after ring
   timeout + maximum call length whose channel the PBX no longer has is
   closed ``lost`` (``answered`` if it shows a sign of an answer);
   then ``breaker.check``: when the latest calls all failed the route's way
   (unavailable, congestion), the campaign is paused and those calls given
   back (``breaker.trip_breaker``);
4. ``pacing.budget``: live = max(PBX calls with the campaign's account code,
   attempts in flight in the DB); free = max_channels - live, capped by the
   campaign's fair share of GLOBAL_MAX_CHANNELS and of ORIGINATES_PER_SECOND;
5. ``claims.due_contacts`` inside the call window; do-not-call numbers are
   closed ``dnc`` instead;
6. ``claims.claim``: bump ``attempts`` and insert the attempt rows in one
   transaction, BEFORE the originate;
7. ``originate.originate_claims`` (pipelined, ``Async: true``); a claim whose
   originate was never sent or was refused is given back;
8. ``readout.set_status``: the campaign's dialer status, and whether it wants
   a share of the global caps.

Batch statements are built from ``sql``; the tick chain that runs ticks one
after another is guarded by ``app.chains``.
"""

from app.dialer.claims import Claim, Due, claim, due_contacts
from app.dialer.folding import close_attempt, fold_events
from app.dialer.live import PbxSnapshot, in_flight_count, pbx_snapshot
from app.dialer.outcomes import AttemptFacts, facts_of, next_state
from app.dialer.pacing import Budget, budget
from app.dialer.readout import set_status, status
from app.dialer.reconcile import reconcile
from app.dialer.tick import TickResult, run_tick

__all__ = [
    "AttemptFacts", "Budget", "Claim", "Due", "PbxSnapshot", "TickResult", "budget", "claim",
    "close_attempt", "due_contacts", "facts_of", "fold_events", "in_flight_count",
    "next_state", "pbx_snapshot", "reconcile", "run_tick", "set_status", "status",
]
