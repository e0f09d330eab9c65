"""pbxsim's core: simulated channels, the dialplan run, the AMI server, stats.

What it reproduces, and where each behaviour comes from in Asterisk 22's
source, is listed in docs/asterisk-dialplan.md ("pbxsim fidelity"). The short
version:

* AMI (``main/manager.c``): banner ``Asterisk Call Manager/11.0.0``; responses
  ``Response:`` first, ``ActionID`` echoed second; Login failure sleeps 1 s
  (scaled by --speed), answers ``Authentication failed`` and closes; actions
  before Login get ``Permission denied``; unknown actions get ``Invalid/unknown
  command: X. Use Action: ListCommands to show available commands.``;
  Originate validates like ``action_originate`` (``Channel not specified``,
  ``Invalid channel``, ``Invalid timeout``, ``Extension does not exist.``) and
  answers ``Originate successfully queued``; ``OriginateResponse`` carries the
  ActionID, ``Response``, ``Channel``, ``Context``, ``Exten``, ``Reason``,
  ``Uniqueid``, ``CallerIDNum``, ``CallerIDName`` (``fast_originate``);
  CoreShowChannels is a list (``EventList: start`` … ``CoreShowChannelsComplete``
  with ``ListItems``).
* Calls (``main/pbx.c``, ``main/dial.c``, ``main/core_unreal.c``): Reason codes
  from ``pbx_dial_reason`` (busy 5, congestion 8, no answer 3, other 0); the
  ``failed`` extension runs on ``OutgoingSpoolFailed`` (tech ``NULL``) with
  ``REASON``, the originate's variables and account code, *before*
  ``OriginateResponse``, and ``h`` runs after it; Local channels are two
  channels ``Local/<exten>@<ctx>-<seq>;1`` / ``;2``, the second with Uniqueid
  ``<ChannelId>;2`` and the same AccountCode; a ChannelId already in use fails
  the originate.
* FastAGI (``res/res_agi.c``): see pbxsim/agi.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field

from pbxsim import agi as agimod
from pbxsim import dialplan as dpmod
from pbxsim.callee import Behaviour, make_model, number_of

log = logging.getLogger(__name__)

AMI_VERSION = "11.0.0"  # include/asterisk/manager.h on the 22 branch
STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
EVENT_CLASSES = ("system", "call", "log", "verbose", "command", "agent", "user", "config",
                 "dtmf", "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc",
                 "test", "security", "message")
AST_MAX_PUBLIC_UNIQUEID = 149
CAUSE_NORMAL_CLEARING = 16
REASONS = {"busy": 5, "congestion": 8, "noanswer": 3, "unavailable": 0}


@dataclass
class Channel:
    name: str
    tech: str
    uniqueid: str
    accountcode: str
    context: str
    exten: str
    priority: int = 1
    state: int = 0
    linkedid: str = ""
    cid_num: str = ""
    cid_name: str = ""
    language: str = "en"
    app: str = ""
    appdata: str = ""
    created: float = field(default_factory=time.monotonic)
    vars: dict = field(default_factory=dict)
    hungup: bool = False
    hangupcause: int = 0
    stack: list = field(default_factory=list)
    call: object = None  # CallRecord
    callee: object = None  # Behaviour
    pressed: bool = False

    def ami_fields(self, prefix=""):
        p = prefix
        return (
            f"{p}Channel: {self.name}\r\n"
            f"{p}ChannelState: {self.state}\r\n"
            f"{p}ChannelStateDesc: {STATE_DESC.get(self.state, 'Unknown')}\r\n"
            f"{p}CallerIDNum: {self.cid_num or '<unknown>'}\r\n"
            f"{p}CallerIDName: {self.cid_name or '<unknown>'}\r\n"
            f"{p}ConnectedLineNum: <unknown>\r\n"
            f"{p}ConnectedLineName: <unknown>\r\n"
            f"{p}Language: {self.language}\r\n"
            f"{p}AccountCode: {self.accountcode}\r\n"
            f"{p}Context: {self.context}\r\n"
            f"{p}Exten: {self.exten}\r\n"
            f"{p}Priority: {self.priority}\r\n"
            f"{p}Uniqueid: {self.uniqueid}\r\n"
            f"{p}Linkedid: {self.linkedid or self.uniqueid}\r\n"
        )


@dataclass
class CallRecord:
    action_id: str
    channel_id: str
    channel: str
    number: str
    account: str
    context: str
    variables: dict
    originated_at: float
    exten: str = "s"
    cid_num: str = ""
    cid_name: str = ""
    result: str = ""  # answered | busy | noanswer | congestion | unavailable
    reason: int | None = None
    response: str = ""  # OriginateResponse Response
    digit: str = ""
    transfer: str = ""
    hangupcause: str = ""
    agi: list = field(default_factory=list)
    user_events: list = field(default_factory=list)
    done: bool = False
    ended_at: float | None = None

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def parse_callerid(value):
    """(name, number) like ``ast_callerid_parse`` + ``ast_shrink_phone_number``."""
    value = (value or "").strip()
    if not value:
        return "", ""
    quoted = value.startswith('"') and value.endswith('"') and len(value) > 1
    inner = value[1:-1] if quoted else value
    if "<" in inner:
        name, _, loc = inner.rpartition("<")
        loc = loc.split(">")[0]
        name = name.strip().strip('"')
    else:
        shrunk = re.sub(r"[()\-. ]", "", inner)
        if not quoted and re.fullmatch(r"\+?[0-9#*]+", shrunk or "x"):
            return "", shrunk
        return inner.strip('"'), ""
    return name, re.sub(r"[()\-. ]", "", loc)


def build_message(lines):
    return "".join(f"{k}: {v}\r\n" for k, v in lines) + "\r\n"


class Session:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.authenticated = False
        self.username = ""
        self.events = set(EVENT_CLASSES)
        self.closed = False

    def write(self, text):
        if not self.closed:
            self.writer.write(text.encode("utf-8"))

    def wants(self, event_class):
        return self.authenticated and event_class in self.events


class Pbx:
    """The simulated Asterisk: AMI sessions, channels, calls and their dialplan runs."""

    def __init__(self, *, username="callcast", secret="callcast", model="lastdigit",
                 model_options=None, speed=1.0, max_channels=200, dialplan_path=None,
                 message_s=6.0, pin_limit=30.0, auth_delay=1.0):
        self.username, self.secret = username, secret
        self.model = make_model(model, **(model_options or {}))
        self.speed = float(speed)
        self.max_channels = int(max_channels)
        self.dialplan_path = dialplan_path
        self.message_s = float(message_s)
        self.pin_limit = float(pin_limit)
        self.auth_delay = float(auth_delay)
        self.channels = {}  # uniqueid -> Channel
        self.channel_counts = {}  # account code -> live channels
        self.sessions = set()
        self.calls = []
        self.live_calls = {}
        self.peak_calls = {}
        self.peak_channels = {}
        self.originates = 0
        self.reloads = 0
        self.dialplan = None
        self.dialplan_error = None
        self._seq = itertools.count(1)
        self._uid = itertools.count(1)
        self._tasks = set()
        self._server = None
        self.started = time.time()
        if dialplan_path:
            self.reload_dialplan()

    # -- helpers ---------------------------------------------------------------

    def scaled(self, seconds):
        return max(0.0, seconds) / self.speed

    async def sleep(self, seconds):
        await asyncio.sleep(self.scaled(seconds))

    def new_uniqueid(self):
        # main/channel.c: "%li.%d" (time, counter)
        return f"{int(self.started)}.{next(self._uid)}"

    def reload_dialplan(self):
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

    def publish(self, event_class, text):
        for s in list(self.sessions):
            if s.wants(event_class):
                s.write(text)

    def spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task):
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("pbxsim task failed", exc_info=task.exception())

    def stats(self):
        return {
            "calls": [c.as_dict() for c in self.calls],
            "live_calls": {k: v for k, v in self.live_calls.items() if v},
            "peak_calls": dict(self.peak_calls),
            "peak_channels": dict(self.peak_channels),
            "channels": len(self.channels),
            "originates": self.originates,
            "dialplan": {
                "path": str(self.dialplan_path or ""),
                "loaded": self.dialplan is not None,
                "error": self.dialplan_error,
                "reloads": self.reloads,
                "contexts": sorted(self.dialplan.contexts) if self.dialplan else [],
            },
        }

    def reset_stats(self):
        self.calls = [c for c in self.calls if not c.done]
        self.peak_calls = {k: v for k, v in self.live_calls.items() if v}
        self.peak_channels = {}
        self.originates = 0

    # -- AMI server ------------------------------------------------------------

    async def start(self, host="127.0.0.1", port=0):
        self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self):
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            s.closed = True
            s.writer.close()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader, writer):
        session = Session(reader, writer)
        self.sessions.add(session)
        try:
            writer.get_extra_info("socket").setsockopt(6, 1, 1)  # TCP_NODELAY
        except (OSError, AttributeError):
            pass
        session.write(f"Asterisk Call Manager/{AMI_VERSION}\r\n")
        buf = b""
        try:
            while not session.closed:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                buf += chunk
                buf = buf.replace(b"\r\n", b"\n")
                while b"\n\n" in buf:
                    block, buf = buf.split(b"\n\n", 1)
                    items = []
                    for line in block.decode("utf-8", "replace").split("\n"):
                        key, sep, value = line.partition(":")
                        if sep:
                            items.append((key.strip(), value.strip()))
                    if not items:
                        continue
                    keep = await self._handle(session, items)
                    if not keep:
                        session.closed = True
                        break
                if len(buf) > 1 << 20:
                    break
                await writer.drain()
            await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            session.closed = True
            self.sessions.discard(session)
            try:
                writer.close()
            except (OSError, RuntimeError):
                pass

    @staticmethod
    def _get(items, key):
        lowered = key.lower()
        for k, v in items:
            if k.lower() == lowered:
                return v
        return ""

    def _respond(self, session, items, response, message=None, extra=()):
        lines = [("Response", response)]
        aid = self._get(items, "ActionID")
        if aid:
            lines.append(("ActionID", aid))
        lines += list(extra)
        if message is not None:
            lines.append(("Message", message))
        session.write(build_message(lines))

    async def _handle(self, session, items):
        action = self._get(items, "Action")
        if not action:
            self._respond(session, items, "Error", "Missing action in request")
            return True
        act = action.lower()
        if not session.authenticated and act not in ("login", "logoff", "challenge"):
            self._respond(session, items, "Error", "Permission denied")
            return True
        handler = {
            "login": self._login,
            "logoff": self._logoff,
            "ping": self._ping,
            "originate": self._originate,
            "coreshowchannels": self._coreshowchannels,
            "command": self._command,
            "pbxsimstats": self._pbxsimstats,
            "pbxsimreset": self._pbxsimreset,
        }.get(act)
        if handler is None:
            self._respond(session, items, "Error",
                          f"Invalid/unknown command: {action}. Use Action: ListCommands to "
                          "show available commands.")
            return True
        return await handler(session, items)

    async def _login(self, session, items):
        if session.authenticated:
            self._respond(session, items, "Success", "Already authenticated")
            return True
        user, secret = self._get(items, "Username"), self._get(items, "Secret")
        if user != self.username or secret != self.secret:
            # manager.c action_login: sleep(1) before the error, then the session ends
            await self.sleep(self.auth_delay)
            self._respond(session, items, "Error", "Authentication failed")
            return False
        events = self._get(items, "Events").strip().lower()
        if events in ("", "on", "yes", "true", "all"):
            session.events = set(EVENT_CLASSES)
        elif events in ("off", "no", "false", "none"):
            session.events = set()
        else:
            session.events = {e.strip() for e in events.split(",")} & set(EVENT_CLASSES)
        session.authenticated, session.username = True, user
        self._respond(session, items, "Success", "Authentication accepted")
        if "system" in session.events:
            up = int(time.time() - self.started)
            session.write(build_message([
                ("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", up),
                ("LastReload", up), ("Status", "Fully Booted"),
            ]))
        return True

    async def _logoff(self, session, items):
        self._respond(session, items, "Goodbye", "Thanks for all the fish.")
        return False

    async def _ping(self, session, items):
        now = time.time()
        self._respond(session, items, "Success",
                      extra=[("Ping", "Pong"), ("Timestamp", f"{now:.6f}")])
        return True

    async def _command(self, session, items):
        cmd = " ".join(self._get(items, "Command").split())
        if not cmd:
            self._respond(session, items, "Error", "No command provided")
            return True
        if cmd.lower() == "dialplan reload":
            if not self.dialplan_path:
                output, ok = ["pbxsim has no dialplan path configured"], False
            else:
                error = self.reload_dialplan()
                # Asterisk would log the error and answer "Dialplan reloaded.";
                # pbxsim refuses loudly so tests catch a bad generator
                output, ok = ([f"pbxsim rejected the dialplan: {error}"], False) if error \
                    else (["Dialplan reloaded."], True)
        elif cmd.lower() == "core show version":
            output, ok = [f"Asterisk {agimod.VERSION} (pbxsim) built by callcast"], True
        else:
            output, ok = [f"No such command '{cmd}' (type 'core show help {cmd}' for other "
                          "possible commands)"], False
        lines = [("Response", "Success" if ok else "Error")]
        aid = self._get(items, "ActionID")
        if aid:
            lines.append(("ActionID", aid))
        lines.append(("Message", "Command output follows"))
        lines += [("Output", o) for o in output]
        session.write(build_message(lines))
        return True

    async def _coreshowchannels(self, session, items):
        aid = self._get(items, "ActionID")
        idtext = f"ActionID: {aid}\r\n" if aid else ""
        self._respond(session, items, "Success", "Channels will follow",
                      extra=[("EventList", "start")])
        parts = []
        now = time.monotonic()
        for ch in list(self.channels.values()):
            d = int((now - ch.created) * self.speed)
            dur = f"{d // 3600:02d}:{d % 3600 // 60:02d}:{d % 60:02d}"
            parts.append(
                "Event: CoreShowChannel\r\n" + idtext + ch.ami_fields()
                + f"Application: {ch.app}\r\nApplicationData: {ch.appdata}\r\n"
                f"Duration: {dur}\r\nBridgeId: \r\n\r\n"
            )
        parts.append("Event: CoreShowChannelsComplete\r\n" + idtext
                     + f"EventList: Complete\r\nListItems: {len(parts)}\r\n\r\n")
        session.write("".join(parts))
        return True

    async def _pbxsimstats(self, session, items):
        stats = self.stats()
        if self._get(items, "Calls").lower() in ("no", "false", "0", "off"):
            stats["calls_total"] = len(stats.pop("calls"))
        self._respond(session, items, "Success",
                      extra=[("JSON", json.dumps(stats, separators=(",", ":")))])
        return True

    async def _pbxsimreset(self, session, items):
        self.reset_stats()
        self._respond(session, items, "Success", "Stats reset")
        return True

    # -- Originate ---------------------------------------------------------------

    async def _originate(self, session, items):
        g = lambda k: self._get(items, k)  # noqa: E731
        name, exten, context = g("Channel"), g("Exten"), g("Context")
        priority, timeout, app = g("Priority"), g("Timeout"), g("Application")
        channel_id = g("ChannelId")
        if len(channel_id) > AST_MAX_PUBLIC_UNIQUEID:
            self._respond(session, items, "Error",
                          f"Uniqueid length exceeds maximum of {AST_MAX_PUBLIC_UNIQUEID}")
            return True
        if not name:
            self._respond(session, items, "Error", "Channel not specified")
            return True
        pi = 0
        if priority:
            if re.fullmatch(r"-?[0-9]+", priority):
                pi = int(priority)
            else:
                pi = (self.dialplan.label(context, exten, priority) if self.dialplan else None) or 0
                if pi < 1:
                    self._respond(session, items, "Error", "Invalid priority")
                    return True
        to_ms = 30000
        if timeout:
            if not re.fullmatch(r"-?[0-9]+", timeout):
                self._respond(session, items, "Error", "Invalid timeout")
                return True
            to_ms = int(timeout)
        tech, sep, data = name.partition("/")
        if not sep:
            self._respond(session, items, "Error", "Invalid channel")
            return True
        if app:
            self._respond(session, items, "Error",
                          "Originate failed")  # pbxsim only simulates Context/Exten originates
            return True
        if pi and not (self.dialplan and self.dialplan.exists(context, exten, pi)):
            self._respond(session, items, "Error", "Extension does not exist.")
            return True
        variables = {}
        for k, v in items:
            if k.lower() == "variable":
                for part in v.split(","):
                    vk, eq, vv = part.partition("=")
                    if eq and vk.strip():
                        variables[vk.strip()] = vv
        cid_name, cid_num = parse_callerid(g("CallerID"))
        async_ = g("Async").lower() in ("1", "yes", "true", "y", "t", "on")
        if not pi:
            if not async_:
                self._respond(session, items, "Error",
                              "Originate with 'Exten' requires 'Context' and 'Priority'")
                return True
            self._respond(session, items, "Error", "Extension does not exist.")
            return True
        self.originates += 1
        rec = CallRecord(
            action_id=g("ActionID"), channel_id=channel_id, channel=name,
            number=number_of(name), account=g("Account"), context=context,
            variables=variables, originated_at=time.time(), exten=exten,
            cid_num=cid_num, cid_name=cid_name,
        )
        self.calls.append(rec)
        dialed = asyncio.get_running_loop().create_future()
        self.spawn(self._run_call(rec, tech, data, exten, pi, to_ms, cid_num, cid_name, dialed))
        if async_:
            self._respond(session, items, "Success", "Originate successfully queued")
        else:
            answered = await dialed
            if answered:
                self._respond(session, items, "Success", "Originate successfully queued")
            else:
                self._respond(session, items, "Error", "Originate failed")
        return True

    def _make_channels(self, rec, tech, data, exten, cid_num, cid_name):
        seq = next(self._seq)
        uid = rec.channel_id or self.new_uniqueid()
        common = dict(accountcode=rec.account, cid_num=cid_num, cid_name=cid_name)
        if tech.lower() == "local":
            lexten, _, lctx = data.partition("@")
            base = f"Local/{data}-{seq:08x}"
            one = Channel(name=base + ";1", tech="Local", uniqueid=uid, linkedid=uid,
                          context=rec.context, exten=exten, state=5, **common)
            two = Channel(name=base + ";2", tech="Local", uniqueid=uid + ";2", linkedid=uid,
                          context=lctx or "default", exten=lexten, state=4, **common)
            two.app, two.appdata = "Dial", f"(simulated callee {lexten})"
            chans = [one, two]
        else:
            peer = data.split("@")[-1] if "@" in data else data.split("/")[0]
            one = Channel(name=f"{tech}/{peer}-{seq:08x}", tech=tech, uniqueid=uid,
                          linkedid=uid, context=rec.context, exten=exten, state=5, **common)
            chans = [one]
        one.app, one.appdata = "AppDial2", "(Outgoing Line)"
        one.vars.update(rec.variables)
        return chans

    async def _run_call(self, rec, tech, data, exten, priority, to_ms, cid_num, cid_name, dialed):
        account = rec.account
        self.call_started(account)
        chans = []
        try:
            in_use = rec.channel_id and (rec.channel_id in self.channels)
            if in_use:
                # main/channel.c: "Channel Unique ID ... already in use" → the dial
                # cannot even start; pbx_dial_reason gives 0
                behaviour, result = None, "unavailable"
            elif self.total_live_calls() > self.max_channels:
                # the trunk is full: the provider answers congestion at once
                behaviour, result = None, "congestion"
            else:
                chans = self._make_channels(rec, tech, data, exten, cid_num, cid_name)
                for ch in chans:
                    self.add_channel(ch)
                behaviour = self.model.behaviour(rec.number)
                result = await self._dial(behaviour, to_ms)
            rec.result = "answered" if result == "answer" else result
            if result != "answer":
                rec.reason = REASONS[result]
                for ch in chans:
                    self.remove_channel(ch)
                if not dialed.done():
                    dialed.set_result(False)
                await self._run_failed(rec, cid_num, cid_name)
                self._originate_response(rec, None, "Failure")
                return
            rec.reason = 4
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
            await self.run_pbx(one, rec.context, exten, priority)
        finally:
            for ch in chans:
                self.remove_channel(ch)
            if not dialed.done():
                dialed.set_result(False)
            rec.done, rec.ended_at = True, time.time()
            self.call_ended(account)

    async def _dial(self, b: Behaviour, to_ms):
        timeout_s = max(0, to_ms) / 1000.0
        if b.result == "answer" and b.ring_s < timeout_s:
            await self.sleep(b.ring_s)
            return "answer"
        if b.result in ("answer", "noanswer"):
            await self.sleep(timeout_s)
            return "noanswer"
        await self.sleep(min(b.ring_s, timeout_s))
        return b.result

    async def _run_failed(self, rec, cid_num, cid_name):
        dp = self.dialplan
        if dp is None or not dp.exists(rec.context, "failed", 1):
            return
        # main/pbx.c ast_pbx_outgoing_exten_predial: a dummy channel named
        # OutgoingSpoolFailed in the originate's context at exten "failed",
        # with REASON, the originate's variables and account code
        uid = self.new_uniqueid()
        ch = Channel(name="OutgoingSpoolFailed", tech="NULL", uniqueid=uid, linkedid=uid,
                     accountcode=rec.account, context=rec.context, exten="failed",
                     cid_num=cid_num, cid_name=cid_name, state=0)
        ch.vars["REASON"] = str(rec.reason)
        ch.vars.update(rec.variables)
        ch.call = rec
        self.add_channel(ch)
        try:
            await self.run_pbx(ch, rec.context, "failed", 1)
        finally:
            self.remove_channel(ch)

    def _originate_response(self, rec, chan, response):
        rec.response = response
        lines = [("Event", "OriginateResponse"), ("Privilege", "call,all")]
        if rec.action_id:
            lines.append(("ActionID", rec.action_id))
        lines += [
            ("Response", response),
            ("Channel", chan.name if chan else rec.channel),
            ("Context", rec.context),
            ("Exten", rec.exten),
            ("Reason", rec.reason),
            ("Uniqueid", chan.uniqueid if chan else (rec.channel_id or "<unknown>")),
            ("CallerIDNum", rec.cid_num or "<unknown>"),
            ("CallerIDName", rec.cid_name or "<unknown>"),
        ]
        self.publish("call", build_message(lines))

    # -- the dialplan run -----------------------------------------------------------

    async def run_pbx(self, chan, context, exten, priority):
        """Run the channel through the dialplan, then ``h`` (main/pbx.c __ast_pbx_run)."""
        chan.call = chan.call or self._record_of(chan)
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

    def _record_of(self, chan):
        for rec in reversed(self.calls):
            if rec.channel_id and rec.channel_id == chan.uniqueid:
                return rec
        return None

    _BUILTINS = {
        "EXTEN": lambda c: c.exten, "CONTEXT": lambda c: c.context,
        "PRIORITY": lambda c: c.priority, "UNIQUEID": lambda c: c.uniqueid,
        "CHANNEL": lambda c: c.name, "HANGUPCAUSE": lambda c: c.hangupcause if c.hungup else "",
        "CALLERID(num)": lambda c: c.cid_num, "CALLERID(name)": lambda c: c.cid_name,
    }

    def _lookup(self, chan, name):
        value = chan.vars.get(name)
        if value is not None:
            return value
        fn = self._BUILTINS.get(name)
        return fn(chan) if fn is not None else ""

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
            data = dpmod.substitute(p.data, lambda n: self._lookup(chan, n))
            chan.app, chan.appdata = p.app, data
            outcome = await self._exec(chan, p.app, data, h_mode)
            if outcome == "stop":
                if not h_mode:
                    chan.hungup = True
                return
            if chan.hungup and not h_mode:
                return
            if outcome != "jump":
                chan.priority += 1

    def _goto(self, chan, target):
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

    async def _exec(self, chan, app, data, h_mode):
        if app in ("NoOp", "Answer"):
            if app == "Answer":
                chan.state = 6
            return None
        if app == "Set":
            name, _, value = data.partition("=")
            chan.vars[name.strip()] = value
            return None
        if app == "Hangup":
            chan.hangupcause = int(data) if data.strip().isdigit() else (
                chan.hangupcause or CAUSE_NORMAL_CLEARING)
            chan.hungup = True
            return "stop"
        if app in ("Goto", "GotoIf"):
            if app == "GotoIf":
                cond, iftrue, iffalse = dpmod.split_condition(data)
                target = iftrue if dpmod._truthy(cond) else iffalse
                if not target:
                    return None
            else:
                target = data
            return self._goto(chan, target)
        if app == "ExecIf":
            cond, iftrue, iffalse = dpmod.split_condition(data)
            call = iftrue if dpmod._truthy(cond) else iffalse
            if not call:
                return None
            m = dpmod._APP_RE.match(call)
            if not m or m.group(1) not in dpmod.APPS:
                log.warning("ExecIf: cannot run %r", call)
                return None
            result = await self._exec(chan, m.group(1), m.group(2) or "", h_mode)
            return "stop" if result == "stop" else None
        if app == "Gosub":
            parts = dpmod.split_args(data)
            m = re.match(r"^([^()]+)(?:\((.*)\))?$", parts[-1], re.S)
            prio, argtext = m.group(1), m.group(2)
            target_parts = parts[:-1] + [prio]
            args = dpmod.split_args(argtext) if argtext is not None else []
            saved = {k: v for k, v in chan.vars.items() if re.fullmatch(r"ARG[0-9]+", k)}
            chan.stack.append((chan.context, chan.exten, chan.priority + 1, saved))
            for k in saved:
                del chan.vars[k]
            for i, a in enumerate(args, 1):
                chan.vars[f"ARG{i}"] = a
            return self._goto(chan, ",".join(target_parts))
        if app == "Return":
            if not chan.stack:
                log.warning("Return without Gosub on %s", chan.name)
                return "stop"
            ctx, exten, prio, saved = chan.stack.pop()
            for k in [k for k in chan.vars if re.fullmatch(r"ARG[0-9]+", k)]:
                del chan.vars[k]
            chan.vars.update(saved)
            chan.context, chan.exten, chan.priority = ctx, exten, prio
            return "jump"
        if app == "AGI":
            await self._agi(chan, data)
            return None
        if app == "UserEvent":
            self._user_event(chan, data)
            return None
        if app == "Read":
            await self._read(chan, data)
            return None
        if app == "Dial":
            await self._dial_app(chan, data)
            return None
        if app in ("Wait", "Playback"):
            if not chan.hungup:
                await self.sleep(float(data or 0) if app == "Wait" else self.message_s)
            return None
        raise dpmod.DialplanSyntaxError(f"application {app} not simulated")

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

    def _user_event(self, chan, data):
        args = dpmod.split_args(data)
        name, body = args[0], []
        for extra in args[1:]:
            key, sep, value = extra.partition(":")
            if sep:  # app_userevent.c: an argument without ':' is skipped
                body.append((key, value.strip()))
        text = ("Event: UserEvent\r\nPrivilege: user,all\r\n" + chan.ami_fields()
                + f"UserEvent: {name}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in body) + "\r\n")
        self.publish("user", text)
        if chan.call is not None:
            chan.call.user_events.append({"UserEvent": name, **dict(body)})

    async def _read(self, chan, data):
        args = (dpmod.split_args(data) + [""] * 6)[:6]
        var, _prompt, _maxdigits, _opts, attempts, timeout = args
        tries = int(attempts) if attempts.strip().lstrip("-").isdigit() else 1
        tries = tries if tries > 0 else 1
        to = float(timeout) if timeout.strip() else 10.0
        chan.vars[var] = ""
        chan.vars["READSTATUS"] = "ERROR"
        b = chan.callee or Behaviour("answer")
        status = "TIMEOUT"
        for _ in range(tries):
            if chan.hungup:
                status = "HANGUP"
                break
            if b.hangup_at_once:
                chan.hungup, chan.hangupcause = True, CAUSE_NORMAL_CLEARING
                status = "HANGUP"
                break
            if b.listen_s is not None and b.listen_s < self.message_s + to:
                await self.sleep(b.listen_s)
                chan.hungup, chan.hangupcause = True, CAUSE_NORMAL_CLEARING
                status = "HANGUP"
                break
            if b.digit and not chan.pressed and b.digit_at_s < self.message_s + to:
                chan.pressed = True
                await self.sleep(b.digit_at_s)
                chan.vars[var] = b.digit
                if chan.call is not None:
                    chan.call.digit = b.digit
                status = "OK"
                break
            chan.pressed = True  # the callee only ever presses during the first play
            await self.sleep(self.message_s + to)
        chan.vars["READSTATUS"] = "HANGUP" if chan.hungup else status

    async def _dial_app(self, chan, data):
        args = dpmod.split_args(data)
        target = args[0]
        if chan.call is not None:
            chan.call.transfer = target
        b = chan.callee or Behaviour("answer")
        await self.sleep(1.0 + b.talk_s)
        chan.vars["DIALSTATUS"] = "ANSWER"
        # the transferred party and the callee talk, then the callee hangs up
        chan.hungup, chan.hangupcause = True, CAUSE_NORMAL_CLEARING


class PbxsimThread:
    """pbxsim on its own event loop thread, for tests: ``start()`` returns the AMI port."""

    def __init__(self, host="127.0.0.1", port=0, **pbx_kwargs):
        self.host, self.port = host, port
        self.pbx_kwargs = pbx_kwargs
        self.loop = None
        self.pbx = None
        self._thread = None
        self._ready = threading.Event()
        self._error = None

    def start(self, timeout=10.0):
        self._thread = threading.Thread(target=self._main, name="pbxsim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("pbxsim did not start")
        if self._error:
            raise self._error
        return self.port

    def _main(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.pbx = Pbx(**self.pbx_kwargs)
            self.port = self.loop.run_until_complete(self.pbx.start(self.host, self.port))
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.pbx.stop())
        self.loop.close()

    def call(self, fn, timeout=10.0):
        """Run ``fn(pbx)`` on the loop thread and return its result."""
        async def run():
            return fn(self.pbx)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def stats(self):
        return self.call(lambda pbx: json.loads(json.dumps(pbx.stats())))

    def reset(self):
        self.call(lambda pbx: pbx.reset_stats())

    def reload_dialplan(self):
        return self.call(lambda pbx: pbx.reload_dialplan())

    def wait_idle(self, timeout=30.0, poll=0.02):
        """Wait until no call is in progress; returns the stats.

        Raises:
            TimeoutError: calls still up at the deadline.
        """
        deadline = time.monotonic() + timeout
        while True:
            st = self.stats()
            if not st["live_calls"] and all(c["done"] for c in st["calls"]):
                return st
            if time.monotonic() > deadline:
                raise TimeoutError(f"pbxsim still has calls: {st['live_calls']}")
            threading.Event().wait(poll)

    def stop(self, timeout=10.0):
        if self.loop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
