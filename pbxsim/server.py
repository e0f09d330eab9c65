"""pbxsim assembled: the AMI server in front of the call model and the dialplan run.

The parts, each in its module: ``ami`` (the AMI server: wire, sessions, actions),
``events`` (the AMI messages it raises), ``calls`` (channels, originate, ringing,
hang-up, counts), ``channels`` (what a channel and a call record hold, the
simulated clock), ``interpreter`` (the dialplan run and its applications),
``dialplan`` (the extensions.conf reader), ``agi`` (the FastAGI client) and
``callee`` (who answers). ``PbxsimThread`` runs it in a thread for tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

from pbxsim.ami import AmiServer, Sessions
from pbxsim.callee import make_model
from pbxsim.calls import CallModel
from pbxsim.channels import CallRecord, Channel, Clock
from pbxsim.interpreter import Interpreter
from pbxsim.routing import DEFAULT_OUTBOUND, Routes

__all__ = ["CallRecord", "Channel", "Pbx", "PbxsimThread"]


class Pbx:
    """The simulated Asterisk: AMI sessions, channels, calls and their dialplan runs."""

    def __init__(self, *, username="callcast", secret="callcast", model="lastdigit",
                 model_options=None, speed=1.0, max_channels=200, dialplan_path=None,
                 message_s=6.0, pin_limit=30.0, auth_delay=1.0, outbound=DEFAULT_OUTBOUND,
                 without_modules=(), sounds_dir=None):
        self.clock = Clock(speed)
        self.sessions = Sessions()
        self.interpreter = Interpreter(clock=self.clock, publish=self.sessions.publish,
                                       dialplan_path=dialplan_path, message_s=message_s,
                                       pin_limit=pin_limit, sounds_dir=sounds_dir)
        self.interpreter.missing_modules = frozenset(without_modules)  # pbxsim/amd.py
        self.calls = CallModel(model=make_model(model, **(model_options or {})),
                               clock=self.clock, interpreter=self.interpreter,
                               publish=self.sessions.publish, max_channels=max_channels,
                               routes=Routes(outbound))
        self.ami = AmiServer(calls=self.calls, interpreter=self.interpreter, clock=self.clock,
                             sessions=self.sessions, username=username, secret=secret,
                             auth_delay=auth_delay)
        if dialplan_path:
            self.interpreter.reload()

    # what tests read and change on the running PBX (through PbxsimThread.call)

    @property
    def model(self):
        """The callee model: who answers, presses, hangs up."""
        return self.calls.model

    @model.setter
    def model(self, model):
        self.calls.model = model

    @property
    def routes(self):
        """The outbound contexts a Local channel may reach (besides the loaded dialplan's)."""
        return self.calls.routes

    @routes.setter
    def routes(self, routes):
        self.calls.routes = routes

    @property
    def dialplan_path(self):
        """The file ``dialplan reload`` reads."""
        return self.interpreter.dialplan_path

    @dialplan_path.setter
    def dialplan_path(self, path):
        self.interpreter.dialplan_path = path

    @property
    def dialplan(self):
        return self.interpreter.dialplan

    @property
    def dialplan_error(self):
        return self.interpreter.dialplan_error

    @property
    def channels(self):
        return self.calls.channels

    def add_channel(self, chan):
        self.calls.add_channel(chan)

    def reload_dialplan(self):
        """(Re)load the dialplan file; returns the error text or None."""
        return self.interpreter.reload()

    def stats(self):
        return self.calls.stats()

    def reset_stats(self):
        self.calls.reset_stats()

    async def start(self, host="127.0.0.1", port=0):
        """Listen for AMI; returns the bound port."""
        return await self.ami.start(host, port)

    async def stop(self):
        """Close AMI, end every call in progress."""
        self.ami.close()
        await self.calls.cancel_all()
        await self.ami.wait_closed()


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
