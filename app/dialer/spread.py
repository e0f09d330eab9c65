"""Spreading a campaign over the PBX pool: who answers, what each PBX may take, who gets a call.

A tick asks every enabled PBX for its channels at once (``ask``, before the
fold) and reads the answers after it (``collect``). A PBX that does not answer
is down: it gets no call in this tick, the database says so (``/health`` and
the Operations page read it), and it is asked again after its backoff
(``app.pbx.registry``); its calls stay in flight and are counted until
reconciliation closes them from what the AGI and UserEvent paths reported.

Inside the budget lock (serialized whenever the pool comes from the database,
so two campaigns never both take one PBX's last channel), each PBX's free
room is its capacity minus its calls holding channels (in flight in the
database or on its channel list: their union, ``app.dialer.live``), capped by its own originate rate per tick; the tick
claims no more than the room of the PBXs that answered, and each claim goes,
before its attempt row is written, to the PBX with the most (weighted) room
left (``assign``). The campaign's cap and the global cap are counted over the
whole pool (``pacing``), so they stay exact across PBXs.

A PBX whose agent has not confirmed every version sent to it (a dialplan or a batch
of speech files, ``app.pbx.agents``) is asked like the others (its calls count) but
takes no new call until its agent catches up (``_behind``): what it lacks may be
what the next call needs, whatever its AMI or ``/health`` say.

A plain ``AmiClient`` given instead of the pool (``app.pbx.poolami.PoolAmi``)
is a pool of one PBX without a row (tests, tools): no capacity of its own,
``pbx_id`` left empty.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

from peewee import fn

from app.dialer.live import PbxSnapshot, holding_ids, snapshot_of
from app.dialer.originate import originate_claims
from app.dialer.outcomes import IN_FLIGHT
from app.dialer.pacing import Budget, global_lock
from app.dialer.sql import serialized
from app.models import DIALPLAN_STATES, CallAttempt, Campaign
from app.pbx import agents
from app.pbx import pool as pbx_pool
from app.pbx.errors import PbxError
from app.pbx.poolami import PoolAmi
from app.pbx.registry import Link, get_registry, monotonic

log = logging.getLogger(__name__)

UNLIMITED = 10**9


@dataclass
class Member:
    pbx_id: int | None
    name: str
    client: object
    capacity: int = UNLIMITED
    rate: int = 0  # originates per second, 0: none of its own
    weight: int = 1
    dial_template: str | None = None
    link: Link | None = None
    media_dir: str = ""  # its agent's MEDIA_DIR ("": the settings')
    behind: str = ""  # why it takes no new call although it answers ("": it may take some)
    snapshot: PbxSnapshot | None = None  # this tick's answer (None: not asked, or failed)
    free: int = 0


class TickPool:
    """The pool as one tick sees it."""

    def __init__(self, members: list[Member], shared: bool):
        self.members = members
        self.shared = shared  # rows of the database: capacities apply, down/up is recorded
        self.errors: dict[str, str] = {}
        self.asked_at = None  # when the lists were asked (the calls ended since count too)

    @classmethod
    def of(cls, ami, settings) -> TickPool:
        """The pool for one tick or refill."""
        if not isinstance(ami, PoolAmi):
            return cls([Member(None, "pbx", ami)], shared=False)
        pbx_pool.ensure_seeded(settings)
        rows = pbx_pool.enabled_pbxs()
        links = get_registry(settings.ami_timeout).links(rows)
        members = [Member(r.id, r.name, link.client, r.capacity, r.originate_rate, r.weight,
                          r.dial_template, link, media_dir=r.media_dir, behind=_behind(r))
                   for r, link in zip(rows, links)]
        pool = cls(members, shared=True)
        pool.errors.update((m.name, m.behind) for m in members if m.behind)
        return pool

    # -- asking every PBX ------------------------------------------------------------

    def ask(self, now) -> list:
        """Send CoreShowChannels to every PBX that may be asked; (member, pending) pairs.

        Asked fresh every time, before the fold: a list reused from earlier misses the
        calls started since, and a short one may end and be folded in between while
        its channel is still up (a refill that reused 250 ms old lists went over the
        cap with pbxsim's 150 ms calls).
        """
        asked, clock = [], monotonic()
        self.asked_at = now
        for m in self.members:
            if m.link is not None and not m.link.askable(clock):
                self.errors[m.name] = f"down, asked again in {m.link.retry_at - clock:.0f}s " \
                                      f"(last error: {m.link.error})"
                continue
            timeout = m.link.timeout(m.client.timeout) if m.link else None
            try:
                asked.append((m, m.client.send("CoreShowChannels", timeout=timeout)))
            except PbxError as exc:
                self._failed(m, exc, now)
        return asked

    def collect(self, asked, now) -> PbxSnapshot | None:
        """The answers to ``ask``: the pool's live calls (None: no PBX answered)."""
        deadline = time.monotonic() + max((m.client.timeout for m, _ in asked), default=0)
        for m, pending in asked:
            try:
                m.snapshot = snapshot_of(
                    pending.result(max(0.001, deadline - time.monotonic())).events or [],
                    self.asked_at)
            except PbxError as exc:
                self._failed(m, exc, now)
                continue
            if m.link is not None and m.link.answered():
                pbx_pool.mark_up(m.pbx_id)
                log.warning("pbx %s answers again: back in the pool", m.name)
        answered = [m.snapshot for m in self.members if m.snapshot is not None]
        if not answered:
            return None
        merged = PbxSnapshot()
        for snap in answered:
            merged.merge(snap)
        return merged

    def _failed(self, m: Member, exc: Exception, now) -> None:
        text = f"{type(exc).__name__}: {exc}"
        self.errors[m.name] = text
        if m.link is not None and m.link.failed(text, monotonic()):
            pbx_pool.mark_down(m.pbx_id, text, now)
            log.warning("pbx %s down (no new calls until it answers): %s", m.name, text)

    @property
    def error(self) -> str:
        """What went wrong with the PBXs this tick ("" when every one answered)."""
        if not self.shared:
            return next(iter(self.errors.values()), "")
        return "; ".join(f"{name}: {text}" for name, text in self.errors.items())

    # -- room and assignment -----------------------------------------------------------

    def limit(self, plan: Budget, settings) -> Budget:
        """``plan`` capped by the free room of the PBXs that answered (each PBX's ``free``)."""
        if not self.shared:
            for m in self.members:
                m.free = UNLIMITED
            return plan
        by_pbx = {}
        for call_id, pbx_id in holding_ids(self.asked_at).items():
            by_pbx.setdefault(pbx_id, set()).add(call_id)
        tick_s = settings.dial_tick_ms / 1000.0
        for m in self.members:
            if m.snapshot is None or m.behind:  # asked all the same: its calls count
                m.free = 0
                continue
            # the union (app.dialer.live): just originated | just ended, channel still up
            holding = by_pbx.get(m.pbx_id, set()) | m.snapshot.campaign_ids()
            m.free = max(0, m.capacity - len(holding))
            if m.rate:
                m.free = min(m.free, max(1, math.floor(m.rate * tick_s)))
        room = sum(m.free for m in self.members)
        if room < plan.slots:
            return Budget(room, "PBX capacity", plan.live)
        return plan

    def assign(self, claims) -> None:
        """Give each claim the PBX with the most weighted room left (before its row is written)."""
        for c in claims:
            best = max((m for m in self.members if m.free > 0),
                       key=lambda m: m.free * max(1, m.weight), default=None)
            if best is None:  # limit() keeps the claims within the room: a bug otherwise
                raise RuntimeError("more claims than room in the PBX pool")
            best.free -= 1
            c.pbx_id = best.pbx_id

    def originate(self, campaign: Campaign, claims, now, settings) -> tuple[int, str]:
        """Originate each claim on its PBX; (originated, errors "" when none)."""
        originated, errors = 0, []
        for m in self.members:
            group = [c for c in claims if c.pbx_id == m.pbx_id]
            if not group:
                continue
            member_settings = settings
            if m.dial_template and m.dial_template != settings.dial_template:
                member_settings = dataclasses.replace(settings, dial_template=m.dial_template)
            if m.media_dir and m.media_dir != str(settings.media_dir):  # the TTS files' folder
                member_settings = dataclasses.replace(member_settings, media_dir=Path(m.media_dir))
            sent, error = originate_claims(campaign, group, m.client, now, member_settings)
            originated += sent
            if error:
                errors.append(f"{m.name}: {error}" if self.shared else error)
        return originated, "; ".join(errors)


def _behind(row) -> str:
    """Why PBX ``row`` takes no new call: its agent has not confirmed everything sent to it.

    A dialplan or a batch of sound files its agent has not applied yet may be what the
    next call needs (a campaign's context, a contact's speech file); an activation or a
    ``tts`` step that waited for it in vain has said so. Once the agent catches up (it
    applies its queue in order), the PBX takes calls again.
    """
    if agents.lags(row):
        return (f"no new calls: its agent confirmed version {row.dialplan_confirmed} of "
                f"{row.dialplan_version} (dialplan or sound files)")
    return ""


def pbx_in_flight() -> dict:
    """Attempts in flight per PBX, over every campaign that may still have calls up."""
    busy = Campaign.select(Campaign.id).where(Campaign.state.in_(DIALPLAN_STATES))
    rows = (CallAttempt.select(CallAttempt.pbx_id, fn.COUNT(CallAttempt.id))
            .where(CallAttempt.state.in_(IN_FLIGHT) & CallAttempt.campaign.in_(busy)
                   & CallAttempt.pbx_id.is_null(False))
            .group_by(CallAttempt.pbx_id).tuples())
    return dict(rows)


@contextlib.contextmanager
def pool_lock(pool: TickPool, settings):
    """The budget lock: always serialized over a shared pool (PBX capacities are global)."""
    if pool.shared:
        with serialized():
            yield
    else:
        with global_lock(settings):
            yield
