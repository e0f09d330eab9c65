"""The call model: originated calls ring, answer or fail, run the dialplan and hang up.

Where each behaviour comes from in Asterisk 22 (``main/pbx.c``, ``main/dial.c``,
``main/core_unreal.c``): Reason codes from ``pbx_dial_reason`` (busy 5, congestion
8, no answer 3, other 0); the ``failed`` extension runs on ``OutgoingSpoolFailed``
(tech ``NULL``) with ``REASON``, the originate's variables and account code,
*before* ``OriginateResponse``, and ``h`` runs after it; Local channels are two
channels ``Local/<exten>@<ctx>-<seq>;1`` / ``;2``, the second with Uniqueid
``<ChannelId>;2`` and the same AccountCode; a ChannelId already in use fails the
originate. A ``Local/<exten>@<context>`` call whose context has no extension matching
the number fails with Reason 0 before anyone rings (pbxsim/routing.py). Who answers
is the callee model's choice (pbxsim/callee.py).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

from pbxsim import events
from pbxsim.callee import Behaviour, number_of
from pbxsim.channels import CallRecord, Channel
from pbxsim.routing import DEFAULT_OUTBOUND, Routes, local_destination

log = logging.getLogger(__name__)

REASONS = {"busy": 5, "congestion": 8, "noanswer": 3, "unavailable": 0}
REASON_ANSWERED = 4


class CallModel:
    """The channels and calls of the PBX, their counts and peaks per account code."""

    def __init__(self, *, model, clock, interpreter, publish, max_channels=200,
                 routes=None):
        self.model = model  # the callee model: who answers, presses, hangs up
        self.routes = routes if routes is not None else Routes(DEFAULT_OUTBOUND)
        self.clock = clock
        self.interpreter = interpreter
        self.publish = publish
        self.max_channels = int(max_channels)
        self.channels = {}  # uniqueid -> Channel
        self.channel_counts = {}  # account code -> live channels
        self.records = []  # CallRecord of every originate since the last reset
        self.live_calls = {}
        self.peak_calls = {}
        self.peak_channels = {}
        self.originates = 0
        self._seq = itertools.count(1)
        self._tasks = set()

    # -- counts ------------------------------------------------------------------

    def add_channel(self, chan):
        self.channels[chan.uniqueid] = chan
        n = self.channel_counts.get(chan.accountcode, 0) + 1
        self.channel_counts[chan.accountcode] = n
        if n > self.peak_channels.get(chan.accountcode, 0):
            self.peak_channels[chan.accountcode] = n

    def remove_channel(self, chan):
        if self.channels.pop(chan.uniqueid, None) is not None:
            self.channel_counts[chan.accountcode] -= 1

    def call_started(self, account):
        n = self.live_calls.get(account, 0) + 1
        self.live_calls[account] = n
        if n > self.peak_calls.get(account, 0):
            self.peak_calls[account] = n

    def call_ended(self, account):
        self.live_calls[account] = self.live_calls.get(account, 1) - 1

    def total_live_calls(self):
        return sum(self.live_calls.values())

    def stats(self):
        """What the PBX did: every call record, live and peak counts, the dialplan."""
        return {
            "calls": [c.as_dict() for c in self.records],
            "live_calls": {k: v for k, v in self.live_calls.items() if v},
            "peak_calls": dict(self.peak_calls),
            "peak_channels": dict(self.peak_channels),
            "channels": len(self.channels),
            "originates": self.originates,
            "dialplan": self.interpreter.describe(),
            "outbound": self.routes.describe(),
        }

    def reset_stats(self):
        """Forget finished calls and peaks; calls still up stay counted."""
        self.records = [c for c in self.records if not c.done]
        self.peak_calls = {k: v for k, v in self.live_calls.items() if v}
        self.peak_channels = {}
        self.originates = 0

    # -- tasks -------------------------------------------------------------------

    def spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task):
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("pbxsim task failed", exc_info=task.exception())

    async def cancel_all(self):
        """Cancel every call in progress and wait for them to end."""
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- originate ---------------------------------------------------------------

    def originate(self, *, action_id, channel_id, channel, account, context, exten, priority,
                  timeout_ms, variables, cid_num, cid_name):
        """Start a checked Originate; the future says whether the callee answered."""
        self.originates += 1
        rec = CallRecord(
            action_id=action_id, channel_id=channel_id, channel=channel,
            number=number_of(channel), account=account, context=context,
            variables=variables, originated_at=time.time(), exten=exten,
            cid_num=cid_num, cid_name=cid_name,
        )
        self.records.append(rec)
        dialed = asyncio.get_running_loop().create_future()
        self.spawn(self._run_call(rec, priority, timeout_ms, dialed))
        return dialed

    def _make_channels(self, rec):
        tech, _, data = rec.channel.partition("/")
        seq = next(self._seq)
        uid = rec.channel_id or self.clock.new_uniqueid()
        common = dict(accountcode=rec.account, cid_num=rec.cid_num, cid_name=rec.cid_name)
        if tech.lower() == "local":
            lexten, lctx = local_destination(data)
            base = f"Local/{data}-{seq:08x}"
            one = Channel(name=base + ";1", tech="Local", uniqueid=uid, linkedid=uid,
                          context=rec.context, exten=rec.exten, state=5, **common)
            two = Channel(name=base + ";2", tech="Local", uniqueid=uid + ";2", linkedid=uid,
                          context=lctx, exten=lexten, state=4, **common)
            two.app, two.appdata = "Dial", f"(simulated callee {lexten})"
            chans = [one, two]
        else:
            peer = data.split("@")[-1] if "@" in data else data.split("/")[0]
            one = Channel(name=f"{tech}/{peer}-{seq:08x}", tech=tech, uniqueid=uid,
                          linkedid=uid, context=rec.context, exten=rec.exten, state=5,
                          **common)
            chans = [one]
        one.app, one.appdata = "AppDial2", "(Outgoing Line)"
        one.vars.update(rec.variables)
        return chans

    async def _run_call(self, rec, priority, timeout_ms, dialed):
        account = rec.account
        self.call_started(account)
        chans = []
        try:
            if rec.channel_id and (rec.channel_id in self.channels):
                # main/channel.c: "Channel Unique ID ... already in use" → the dial
                # cannot even start; pbx_dial_reason gives 0
                behaviour, result = None, "unavailable"
            elif not self._routed(rec):
                behaviour, result = None, "unavailable"
            elif self.total_live_calls() > self.max_channels:
                # the trunk is full: the provider answers congestion at once
                behaviour, result = None, "congestion"
            else:
                chans = self._make_channels(rec)
                for ch in chans:
                    self.add_channel(ch)
                behaviour = self.model.behaviour(rec.number)
                result = await self._dial(behaviour, timeout_ms)
            rec.result = "answered" if result == "answer" else result
            if result != "answer":
                await self._fail(rec, REASONS[result], chans, dialed)
                return
            await self._answer(rec, behaviour, chans, priority, dialed)
        finally:
            for ch in chans:
                self.remove_channel(ch)
            if not dialed.done():
                dialed.set_result(False)
            rec.done, rec.ended_at = True, time.time()
            self.call_ended(account)

    def _routed(self, rec) -> bool:
        """Whether the dial string reaches a callee (only Local channels can miss a route).

        main/core_local.c local_call: no extension matching the number in the
        Local channel's context fails the call; pbx_dial_reason gives 0.
        """
        tech, _, data = rec.channel.partition("/")
        if tech.lower() != "local":
            return True
        exten, context = local_destination(data)
        if self.routes.exists(self.interpreter.dialplan, context, exten):
            return True
        rec.route = f"No such extension/context {exten}@{context}"
        log.warning("%s while calling Local channel (ChannelId %s)", rec.route, rec.channel_id)
        return False

    async def _dial(self, b: Behaviour, timeout_ms):
        timeout_s = max(0, timeout_ms) / 1000.0
        if b.result == "answer" and b.ring_s < timeout_s:
            await self.clock.sleep(b.ring_s)
            return "answer"
        if b.result in ("answer", "noanswer"):
            await self.clock.sleep(timeout_s)
            return "noanswer"
        await self.clock.sleep(min(b.ring_s, timeout_s))
        return b.result

    async def _answer(self, rec, behaviour, chans, priority, dialed):
        rec.reason = REASON_ANSWERED
        one = chans[0]
        one.callee, one.call = behaviour, rec
        for ch in chans:
            ch.state = 6
        if not dialed.done():
            dialed.set_result(True)
        # fast_originate sends OriginateResponse once the dial returns, while
        # pbx_outgoing_exec starts the dialplan: the two race
        self._originate_response(rec, one, "Success")
        one.app, one.appdata = "", ""
        await self.interpreter.run(one, rec.context, rec.exten, priority)

    async def _fail(self, rec, reason, chans, dialed):
        rec.reason = reason
        for ch in chans:
            self.remove_channel(ch)
        if not dialed.done():
            dialed.set_result(False)
        await self._run_failed(rec)
        self._originate_response(rec, None, "Failure")

    async def _run_failed(self, rec):
        dp = self.interpreter.dialplan
        if dp is None or not dp.exists(rec.context, "failed", 1):
            return
        # main/pbx.c ast_pbx_outgoing_exten_predial: a dummy channel named
        # OutgoingSpoolFailed in the originate's context at exten "failed",
        # with REASON, the originate's variables and account code
        uid = self.clock.new_uniqueid()
        ch = Channel(name="OutgoingSpoolFailed", tech="NULL", uniqueid=uid, linkedid=uid,
                     accountcode=rec.account, context=rec.context, exten="failed",
                     cid_num=rec.cid_num, cid_name=rec.cid_name, state=0)
        ch.vars["REASON"] = str(rec.reason)
        ch.vars.update(rec.variables)
        ch.call = rec
        self.add_channel(ch)
        try:
            await self.interpreter.run(ch, rec.context, "failed", 1)
        finally:
            self.remove_channel(ch)

    def _originate_response(self, rec, chan, response):
        rec.response = response
        self.publish("call", events.originate_response(rec, chan, response))
