"""pbxsim's AMI server: the wire, the sessions, the actions, and where events go.

What it reproduces of Asterisk 22 ``main/manager.c`` (the table in
docs/asterisk-dialplan.md, "pbxsim fidelity", names each source): banner
``Asterisk Call Manager/11.0.0``; responses ``Response:`` first, ``ActionID``
echoed second; Login failure sleeps 1 s (scaled by --speed), answers
``Authentication failed`` and closes; actions before Login get ``Permission
denied``; unknown actions get ``Invalid/unknown command: X. Use Action:
ListCommands to show available commands.``; Originate validates like
``action_originate`` (``Channel not specified``, ``Invalid channel``, ``Invalid
timeout``, ``Extension does not exist.``) and answers ``Originate successfully
queued``; CoreShowChannels is a list (``EventList: start`` …
``CoreShowChannelsComplete`` with ``ListItems``). ``PbxsimStats`` and
``PbxsimReset`` are pbxsim's own actions, for tests.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

from pbxsim import agi as agimod
from pbxsim import amd as amdmod
from pbxsim import events
from pbxsim.events import build_message

AMI_VERSION = "11.0.0"  # include/asterisk/manager.h on the 22 branch
EVENT_CLASSES = ("system", "call", "log", "verbose", "command", "agent", "user", "config",
                 "dtmf", "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc",
                 "test", "security", "message")
AST_MAX_PUBLIC_UNIQUEID = 149
DEFAULT_TIMEOUT_MS = 30000
MAX_PENDING_BYTES = 1 << 20  # an unframed request this long ends the session


class Session:
    """One AMI connection: logged in or not, and the event classes it receives."""

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


class Sessions(set):
    """The open AMI sessions; ``publish`` sends an event to those that asked for it."""

    def publish(self, event_class, text):
        for s in list(self):
            if s.wants(event_class):
                s.write(text)


def header(items, key):
    """The value of a request header (case-insensitive name), '' when absent."""
    lowered = key.lower()
    for k, v in items:
        if k.lower() == lowered:
            return v
    return ""


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


def parse_variables(items):
    """The Originate's channel variables: every ``Variable:`` header, each split on ','."""
    variables = {}
    for k, v in items:
        if k.lower() == "variable":
            for part in v.split(","):
                vk, eq, vv = part.partition("=")
                if eq and vk.strip():
                    variables[vk.strip()] = vv
    return variables


def _is_true(value):
    return value.lower() in ("1", "yes", "true", "y", "t", "on")


def _read_items(block):
    items = []
    for line in block.decode("utf-8", "replace").split("\n"):
        key, sep, value = line.partition(":")
        if sep:
            items.append((key.strip(), value.strip()))
    return items


class AmiServer:
    """The manager interface over TCP, in front of the call model and the dialplan."""

    def __init__(self, *, calls, interpreter, clock, sessions, username, secret, auth_delay):
        self.calls, self.interpreter, self.clock = calls, interpreter, clock
        self.sessions = sessions
        self.username, self.secret = username, secret
        self.auth_delay = float(auth_delay)
        self._server = None
        self._actions = {
            "login": self._login,
            "logoff": self._logoff,
            "ping": self._ping,
            "originate": self._originate,
            "coreshowchannels": self._coreshowchannels,
            "command": self._command,
            "pbxsimstats": self._pbxsimstats,
            "pbxsimreset": self._pbxsimreset,
            "modulecheck": self._modulecheck,
        }

    # -- the wire ----------------------------------------------------------------

    async def start(self, host="127.0.0.1", port=0):
        """Listen; returns the bound port."""
        self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        return self._server.sockets[0].getsockname()[1]

    def close(self):
        """Stop listening and close every session."""
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            s.closed = True
            s.writer.close()

    async def wait_closed(self):
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
        try:
            await self._converse(session)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            session.closed = True
            self.sessions.discard(session)
            try:
                writer.close()
            except (OSError, RuntimeError):
                pass

    async def _converse(self, session):
        buf = b""
        while not session.closed:
            chunk = await session.reader.read(65536)
            if not chunk:
                break
            buf += chunk
            buf = buf.replace(b"\r\n", b"\n")
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                items = _read_items(block)
                if not items:
                    continue
                keep = await self._handle(session, items)
                if not keep:
                    session.closed = True
                    break
            if len(buf) > MAX_PENDING_BYTES:
                break
            await session.writer.drain()
        await session.writer.drain()

    def _respond(self, session, items, response, message=None, extra=()):
        lines = [("Response", response)]
        aid = header(items, "ActionID")
        if aid:
            lines.append(("ActionID", aid))
        lines += list(extra)
        if message is not None:
            lines.append(("Message", message))
        session.write(build_message(lines))

    async def _handle(self, session, items):
        """Run one action; False ends the session."""
        action = header(items, "Action")
        if not action:
            self._respond(session, items, "Error", "Missing action in request")
            return True
        act = action.lower()
        if not session.authenticated and act not in ("login", "logoff", "challenge"):
            self._respond(session, items, "Error", "Permission denied")
            return True
        handler = self._actions.get(act)
        if handler is None:
            self._respond(session, items, "Error",
                          f"Invalid/unknown command: {action}. Use Action: ListCommands to "
                          "show available commands.")
            return True
        return await handler(session, items)

    # -- actions -----------------------------------------------------------------

    async def _login(self, session, items):
        if session.authenticated:
            self._respond(session, items, "Success", "Already authenticated")
            return True
        user, secret = header(items, "Username"), header(items, "Secret")
        if user != self.username or secret != self.secret:
            # manager.c action_login: sleep(1) before the error, then the session ends
            await self.clock.sleep(self.auth_delay)
            self._respond(session, items, "Error", "Authentication failed")
            return False
        wanted = header(items, "Events").strip().lower()
        if wanted in ("", "on", "yes", "true", "all"):
            session.events = set(EVENT_CLASSES)
        elif wanted in ("off", "no", "false", "none"):
            session.events = set()
        else:
            session.events = {e.strip() for e in wanted.split(",")} & set(EVENT_CLASSES)
        session.authenticated, session.username = True, user
        self._respond(session, items, "Success", "Authentication accepted")
        if "system" in session.events:
            session.write(events.fully_booted(self.clock.started))
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
        cmd = " ".join(header(items, "Command").split())
        if not cmd:
            self._respond(session, items, "Error", "No command provided")
            return True
        output, ok = self._run_command(cmd)
        lines = [("Response", "Success" if ok else "Error")]
        aid = header(items, "ActionID")
        if aid:
            lines.append(("ActionID", aid))
        lines.append(("Message", "Command output follows"))
        lines += [("Output", o) for o in output]
        session.write(build_message(lines))
        return True

    def _run_command(self, cmd):
        """The CLI commands pbxsim knows: (output lines, succeeded)."""
        if cmd.lower() == "dialplan reload":
            if not self.interpreter.dialplan_path:
                return ["pbxsim has no dialplan path configured"], False
            error = self.interpreter.reload()
            # Asterisk would log the error and answer "Dialplan reloaded.";
            # pbxsim refuses loudly so tests catch a bad generator
            if error:
                return [f"pbxsim rejected the dialplan: {error}"], False
            return ["Dialplan reloaded."], True
        if cmd.lower() == "core show version":
            return [f"Asterisk {agimod.VERSION} (pbxsim) built by callcast"], True
        return [f"No such command '{cmd}' (type 'core show help {cmd}' for other "
                "possible commands)"], False

    async def _coreshowchannels(self, session, items):
        aid = header(items, "ActionID")
        idtext = f"ActionID: {aid}\r\n" if aid else ""
        self._respond(session, items, "Success", "Channels will follow",
                      extra=[("EventList", "start")])
        parts = []
        now = time.monotonic()
        for ch in list(self.calls.channels.values()):
            d = int((now - ch.created) * self.clock.speed)
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
        stats = self.calls.stats()
        if header(items, "Calls").lower() in ("no", "false", "0", "off"):
            stats["calls_total"] = len(stats.pop("calls"))
        self._respond(session, items, "Success",
                      extra=[("JSON", json.dumps(stats, separators=(",", ":")))])
        return True

    async def _modulecheck(self, session, items):
        # main/manager.c manager_modulecheck: "Module not loaded", or Success with Version
        if amdmod.module_loaded(self.interpreter, header(items, "Module")):
            self._respond(session, items, "Success", extra=[("Version", "")])
        else:
            self._respond(session, items, "Error", "Module not loaded")
        return True

    async def _pbxsimreset(self, session, items):
        self.calls.reset_stats()
        self._respond(session, items, "Success", "Stats reset")
        return True

    async def _originate(self, session, items):
        request, error = self._originate_request(items)
        if error is not None:
            self._respond(session, items, "Error", error)
            return True
        dialed = self.calls.originate(**request)
        # async: queued at once; otherwise Asterisk answers once the dial returns
        if _is_true(header(items, "Async")) or await dialed:
            self._respond(session, items, "Success", "Originate successfully queued")
        else:
            self._respond(session, items, "Error", "Originate failed")
        return True

    def _originate_request(self, items):
        """The Originate's fields checked in ``action_originate``'s order: (fields, error)."""
        g = lambda k: header(items, k)  # noqa: E731
        name, exten, context = g("Channel"), g("Exten"), g("Context")
        channel_id, timeout = g("ChannelId"), g("Timeout")
        if len(channel_id) > AST_MAX_PUBLIC_UNIQUEID:
            return None, f"Uniqueid length exceeds maximum of {AST_MAX_PUBLIC_UNIQUEID}"
        if not name:
            return None, "Channel not specified"
        priority = self._priority(context, exten, g("Priority"))
        if priority is None:
            return None, "Invalid priority"
        if timeout and not re.fullmatch(r"-?[0-9]+", timeout):
            return None, "Invalid timeout"
        if "/" not in name:
            return None, "Invalid channel"
        if g("Application"):
            return None, "Originate failed"  # pbxsim only simulates Context/Exten originates
        dp = self.interpreter.dialplan
        if priority and not (dp and dp.exists(context, exten, priority)):
            return None, "Extension does not exist."
        if not priority:
            if not _is_true(g("Async")):
                return None, "Originate with 'Exten' requires 'Context' and 'Priority'"
            return None, "Extension does not exist."
        cid_name, cid_num = parse_callerid(g("CallerID"))
        return dict(
            action_id=g("ActionID"), channel_id=channel_id, channel=name,
            account=g("Account"), context=context, exten=exten, priority=priority,
            timeout_ms=int(timeout) if timeout else DEFAULT_TIMEOUT_MS,
            variables=parse_variables(items), cid_num=cid_num, cid_name=cid_name,
        ), None

    def _priority(self, context, exten, text):
        """The Originate's priority: 0 when absent, None when it names no label."""
        if not text:
            return 0
        if re.fullmatch(r"-?[0-9]+", text):
            return int(text)
        dp = self.interpreter.dialplan
        number = (dp.label(context, exten, text) if dp else None) or 0
        return number if number >= 1 else None
