"""The dialplan run: a channel steps through the loaded dialplan's priorities and
pbxsim carries out each application.

Semantics of Asterisk 22 ``main/pbx.c`` ``__ast_pbx_run``: after every application
the channel is checked for hangup and, if hung up, the loop ends; a ``Goto`` to an
extension that does not exist jumps to ``i`` with ``INVALID_EXTEN``; when the loop
ends (hangup or falling off the end) the ``h`` extension runs once on the hung-up
channel, in the context the channel is in. The text itself is read by
pbxsim/dialplan.py; the FastAGI conversation is pbxsim/agi.py.
"""

from __future__ import annotations

import logging
import re
import time

from pbxsim import agi as agimod
from pbxsim import amd as amdmod
from pbxsim import dialplan as dpmod
from pbxsim import events
from pbxsim.callee import Behaviour
from pbxsim.channels import CAUSE_NORMAL_CLEARING
from pbxsim.playing import Player
from pbxsim.say import Sounds

log = logging.getLogger(__name__)

_ARG_RE = re.compile(r"ARG[0-9]+")
_GOSUB_TARGET_RE = re.compile(r"^([^()]+)(?:\((.*)\))?$", re.S)

_BUILTINS = {
    "EXTEN": lambda c: c.exten, "CONTEXT": lambda c: c.context,
    "PRIORITY": lambda c: c.priority, "UNIQUEID": lambda c: c.uniqueid,
    "CHANNEL": lambda c: c.name, "HANGUPCAUSE": lambda c: c.hangupcause if c.hungup else "",
    "CALLERID(num)": lambda c: c.cid_num, "CALLERID(name)": lambda c: c.cid_name,
}


def lookup(chan, name):
    """A channel variable, else a built-in one (``${EXTEN}``, ``${HANGUPCAUSE}`` …), else ''."""
    value = chan.vars.get(name)
    if value is not None:
        return value
    fn = _BUILTINS.get(name)
    return fn(chan) if fn is not None else ""


class Interpreter:
    """The loaded dialplan and the applications channels run through it."""

    def __init__(self, *, clock, publish, dialplan_path=None, message_s=6.0, pin_limit=30.0,
                 sounds_dir=None):
        self.clock = clock
        self.publish = publish
        self.dialplan_path = dialplan_path
        self.message_s = float(message_s)
        self.pin_limit = float(pin_limit)
        self.dialplan = None
        self.dialplan_error = None
        self.reloads = 0
        # applications that finish at once, and those that take (simulated) time
        self._apps_now = {
            "NoOp": self._noop, "Answer": self._answer, "Set": self._set,
            "Hangup": self._hangup, "Goto": self._goto_app, "GotoIf": self._gotoif,
            "Gosub": self._gosub, "Return": self._return, "UserEvent": self._user_event,
        }
        self.player = Player(self, Sounds(sounds_dir))  # Read, Playback, the Say applications
        self._apps_later = {
            "ExecIf": self._execif, "AGI": self._agi, "Dial": self._dial, "Wait": self._wait,
            **self.player.apps(),  # Read, Playback, the Say applications
            **amdmod.applications(self),  # AMD, WaitForSilence
        }

    # -- the loaded dialplan -----------------------------------------------------

    def reload(self):
        """(Re)load DIALPLAN_PATH; a file with errors leaves the old dialplan in place.

        Returns the error text or None.
        """
        try:
            dp = dpmod.load(self.dialplan_path)
        except FileNotFoundError:
            self.dialplan_error = f"{self.dialplan_path}: no such file"
            return self.dialplan_error
        except (dpmod.DialplanSyntaxError, UnicodeDecodeError) as exc:
            self.dialplan_error = f"{self.dialplan_path}: {exc}"
            log.warning("dialplan rejected: %s", self.dialplan_error)
            return self.dialplan_error
        self.dialplan, self.dialplan_error = dp, None
        self.reloads += 1
        log.info("dialplan loaded path=%s contexts=%d", self.dialplan_path, len(dp.contexts))
        return None

    def describe(self):
        """The dialplan part of the stats."""
        return {
            "path": str(self.dialplan_path or ""),
            "loaded": self.dialplan is not None,
            "error": self.dialplan_error,
            "reloads": self.reloads,
            "contexts": sorted(self.dialplan.contexts) if self.dialplan else [],
        }

    # -- the run -----------------------------------------------------------------

    async def run(self, chan, context, exten, priority):
        """Run the channel through the dialplan, then ``h`` (main/pbx.c __ast_pbx_run)."""
        chan.context, chan.exten, chan.priority = context, exten, priority
        await self._loop(chan, h_mode=False)
        dp = self.dialplan
        if dp is not None and dp.exists(chan.context, "h", 1):
            chan.hungup = True
            if not chan.hangupcause:
                chan.hangupcause = CAUSE_NORMAL_CLEARING if chan.state == 6 else 0
            chan.stack.clear()
            chan.exten, chan.priority = "h", 1
            await self._loop(chan, h_mode=True)
        if chan.call is not None and chan.state == 6:
            chan.call.hangupcause = str(chan.hangupcause or CAUSE_NORMAL_CLEARING)

    async def _loop(self, chan, h_mode):
        dp = self.dialplan
        if dp is None:
            return
        steps = 0
        while True:
            p = dp.find(chan.context, chan.exten, chan.priority)
            if p is None:
                if (not h_mode and not dp.exists(chan.context, chan.exten, 1)
                        and dp.exists(chan.context, "i", 1)):
                    chan.vars["INVALID_EXTEN"] = chan.exten
                    chan.exten, chan.priority = "i", 1
                    continue
                return
            steps += 1
            if steps > dpmod.MAX_STEPS:
                log.error("dialplan loop on %s at %s,%s,%s", chan.name, chan.context,
                          chan.exten, chan.priority)
                return
            data = dpmod.substitute(p.data, lambda n: lookup(chan, n))
            chan.app, chan.appdata = p.app, data
            outcome = await self._exec(chan, p.app, data)
            if outcome == "stop":
                if not h_mode:
                    chan.hungup = True
                return
            if chan.hungup and not h_mode:
                return
            if outcome != "jump":
                chan.priority += 1

    async def _exec(self, chan, app, data):
        """Run one application: ``"stop"`` ends the run, ``"jump"`` moved the channel."""
        run = self._apps_now.get(app)
        if run is not None:
            return run(chan, data)
        run = self._apps_later.get(app)
        if run is None:
            raise dpmod.DialplanSyntaxError(f"application {app} not simulated")
        return await run(chan, data)

    def _jump(self, chan, target):
        parts = dpmod.split_args(target)
        if len(parts) == 1:
            ctx, exten, prio = chan.context, chan.exten, parts[0]
        elif len(parts) == 2:
            ctx, (exten, prio) = chan.context, parts
        else:
            ctx, exten, prio = parts[:3]
        if prio.isdigit():
            number = int(prio)
        else:
            number = self.dialplan.label(ctx, exten, prio)
            if number is None:
                log.warning("Goto: no label %s in %s,%s", prio, ctx, exten)
                return "stop"
        chan.context, chan.exten, chan.priority = ctx, exten, number
        return "jump"

    # -- applications that finish at once ---------------------------------------

    def _noop(self, chan, data):
        return None

    def _answer(self, chan, data):
        chan.state = 6

    def _set(self, chan, data):
        name, _, value = data.partition("=")
        if name.strip() == "CHANNEL(language)":  # funcs/func_channel.c: the channel's language
            chan.language = value.strip()
            return
        chan.vars[name.strip()] = value

    def _hangup(self, chan, data):
        chan.hangupcause = int(data) if data.strip().isdigit() else (
            chan.hangupcause or CAUSE_NORMAL_CLEARING)
        chan.hungup = True
        return "stop"

    def _goto_app(self, chan, data):
        return self._jump(chan, data)

    def _gotoif(self, chan, data):
        cond, iftrue, iffalse = dpmod.split_condition(data)
        target = iftrue if dpmod.truthy(cond) else iffalse
        return self._jump(chan, target) if target else None

    def _gosub(self, chan, data):
        parts = dpmod.split_args(data)
        m = _GOSUB_TARGET_RE.match(parts[-1])
        prio, argtext = m.group(1), m.group(2)
        target_parts = parts[:-1] + [prio]
        args = dpmod.split_args(argtext) if argtext is not None else []
        saved = {k: v for k, v in chan.vars.items() if _ARG_RE.fullmatch(k)}
        chan.stack.append((chan.context, chan.exten, chan.priority + 1, saved))
        for k in saved:
            del chan.vars[k]
        for i, a in enumerate(args, 1):
            chan.vars[f"ARG{i}"] = a
        return self._jump(chan, ",".join(target_parts))

    def _return(self, chan, data):
        if not chan.stack:
            log.warning("Return without Gosub on %s", chan.name)
            return "stop"
        ctx, exten, prio, saved = chan.stack.pop()
        for k in [k for k in chan.vars if _ARG_RE.fullmatch(k)]:
            del chan.vars[k]
        chan.vars.update(saved)
        chan.context, chan.exten, chan.priority = ctx, exten, prio
        return "jump"

    def _user_event(self, chan, data):
        args = dpmod.split_args(data)
        name, body = args[0], []
        for extra in args[1:]:
            key, sep, value = extra.partition(":")
            if sep:  # app_userevent.c: an argument without ':' is skipped
                body.append((key, value.strip()))
        self.publish("user", events.user_event(chan, name, body))
        if chan.call is not None:
            chan.call.user_events.append({"UserEvent": name, **dict(body)})

    # -- applications that take time ---------------------------------------------

    async def _execif(self, chan, data):
        cond, iftrue, iffalse = dpmod.split_condition(data)
        call = iftrue if dpmod.truthy(cond) else iffalse
        if not call:
            return None
        m = dpmod.APP_RE.match(call)
        if not m or m.group(1) not in dpmod.APPS:
            log.warning("ExecIf: cannot run %r", call)
            return None
        result = await self._exec(chan, m.group(1), m.group(2) or "")
        return "stop" if result == "stop" else None

    async def _wait(self, chan, data):
        if not chan.hungup:
            await self.clock.sleep(float(data or 0))

    async def _agi(self, chan, data):
        args = dpmod.split_args(data)
        url, args = args[0], args[1:]
        rec = chan.call
        if not url.lower().startswith("agi://"):
            chan.vars["AGISTATUS"] = "FAILURE"
            return
        block = agimod.env_block(chan, url, args, chan.context, chan.exten, chan.priority,
                                 threadid=140000000000000 + id(chan) % 100000)
        status, detail, variables = await agimod.run_fastagi(url, block,
                                                             pin_limit=self.pin_limit)
        chan.vars.update(variables)
        chan.vars["AGISTATUS"] = "SUCCESS" if status == "SUCCESS" else "FAILURE"
        event = url.rsplit("/", 1)[-1]
        b = chan.callee
        if b is not None and b.hangup_at_event == event and not chan.hungup:
            # the callee hung up while this report was being made: the PBX loop
            # notices it after AGI returns, inside callcast-report
            chan.hungup, chan.hangupcause = True, CAUSE_NORMAL_CLEARING
        if rec is not None:
            host, port, script = agimod.parse_url(url)
            rec.agi.append({
                "event": script.rsplit("/", 1)[-1], "script": script, "url": url,
                "args": args, "status": status, "detail": detail, "host": host,
                "variables": variables,
                "port": port, "channel": chan.name, "uniqueid": chan.uniqueid,
                "at": time.time(),
            })

    async def _dial(self, chan, data):
        args = dpmod.split_args(data)
        target = args[0]
        if chan.call is not None:
            chan.call.transfer = target
        b = chan.callee or Behaviour("answer")
        await self.clock.sleep(1.0 + b.talk_s)
        chan.vars["DIALSTATUS"] = "ANSWER"
        # the transferred party and the callee talk, then the callee hangs up
        chan.hungup, chan.hangupcause = True, CAUSE_NORMAL_CLEARING
