"""Fixtures for the PBX layer: a recording FastAGI listener and pbxsim (in a thread or a process).

pbxsim fixtures:
    pbx_settings   Settings with AGI_PORT = the listener, DIALPLAN_PATH under tmp_path
    pbxsim         pbxsim in this process on a free port (PbxsimThread: .port, .stats(),
                   .wait_idle(), .stop()); the dialplan file exists before it starts
    pbxsim_process factory: ``python -m pbxsim`` as a subprocess on a free port (.port, .stop())
    agi_listener   asyncio FastAGI server on port 0 that reads one request, records it, closes
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.config import load_settings
from app.events import CONFIRM_VALUE, CONFIRM_VARIABLE
from app.pbx.dialplan import CampaignSpec, OptionSpec, write_dialplan
from pbxsim.server import PbxsimThread

ROOT = Path(__file__).resolve().parents[2]


class AgiListener:
    """A FastAGI server that records each request (ordered lines + dict) and closes.

    Like Callcast's daemon it confirms each request with
    ``SET VARIABLE CALLCAST_AGI_STATUS STORED`` before closing; ``confirm=False``
    plays a daemon that closes without storing (killed mid-request).
    """

    def __init__(self, confirm=True):
        self.confirm = confirm
        self.requests = []  # dicts: lines, env, at
        self._held = None  # an asyncio.Event while answers are held back
        self.port = None
        self._cond = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._server = None
        self._thread = threading.Thread(target=self._run, name="agi-listener", daemon=True)

    def start(self):
        ready = threading.Event()
        self._ready = ready
        self._thread.start()
        ready.wait(5)
        return self

    def _run(self):
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    async def _handle(self, reader, writer):
        lines = []
        try:
            while True:
                line = await asyncio.wait_for(reader.readline(), 5)
                if not line or line == b"\n":
                    break
                lines.append(line.decode())
        except (asyncio.TimeoutError, OSError):
            pass
        env = {}
        for line in lines:
            key, _, value = line.rstrip("\n").partition(": ")
            env[key] = value
        with self._cond:
            self.requests.append({"lines": lines, "env": env, "at": time.monotonic()})
            self._cond.notify_all()
        held = self._held
        if held is not None:  # a slow daemon: the channel waits in AGI() until release()
            await asyncio.wait_for(held.wait(), 30)
        if self.confirm:
            writer.write(f"SET VARIABLE {CONFIRM_VARIABLE} {CONFIRM_VALUE}\n".encode())
        writer.close()

    def hold(self):
        """Answer no request until ``release()``: every channel stays in its AGI() step."""
        self._held = asyncio.Event()

    def release(self):
        """Answer the held requests (and every later one at once)."""
        held, self._held = self._held, None
        if held is not None:
            self._loop.call_soon_threadsafe(held.set)

    def wait_for(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(self.requests)} AGI requests, wanted {count}")
                self._cond.wait(remaining)
            return list(self.requests)

    def stop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture
def agi_listener():
    listener = AgiListener().start()
    yield listener
    listener.stop()


@pytest.fixture
def pbx_settings(tmp_path, agi_listener):
    return load_settings({
        "AGI_HOST": "127.0.0.1",
        "AGI_PORT": str(agi_listener.port),
        "DIALPLAN_PATH": str(tmp_path / "asterisk" / "callcast.conf"),
        "MEDIA_DIR": str(tmp_path / "media"),
        "DIAL_TEMPLATE": "Local/{number}@pstn",
    })


def sample_campaign(campaign_id=7, **overrides):
    """Options of every action: 1, 2 record; 3 transfer; 4 repeat."""
    fields = dict(
        id=campaign_id, name=f"Campaign {campaign_id}", message_sound="custom/callcast-demo",
        digit_timeout_s=5, message_repeats=2, ring_timeout_s=30,
        options=[
            OptionSpec("1", "Confirm", "record"),
            OptionSpec("2", "Cancel", "record"),
            OptionSpec("3", "Agent", "transfer", "100"),
            OptionSpec("4", "Hear again", "repeat"),
        ],
    )
    fields.update(overrides)
    return CampaignSpec(**fields)


@pytest.fixture
def pbxsim(pbx_settings):
    """pbxsim in a thread, fast (speed 20), its dialplan written with two sample campaigns."""
    write_dialplan([sample_campaign(7), sample_campaign(8)], settings=pbx_settings)
    sims = []

    def start(port=0, **kwargs):
        options = dict(dialplan_path=pbx_settings.dialplan_path, speed=20.0,
                       username="callcast", secret="callcast")
        options.update(kwargs)
        sim = PbxsimThread(port=port, **options)
        sim.start()
        sims.append(sim)
        return sim

    sim = start()
    sim.restart = start  # start another on a given port (e.g. the same one)
    yield sim
    for s in sims:
        s.stop()


class PbxsimProcess:
    def __init__(self, proc, port):
        self.proc, self.port = proc, port

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        return self.proc.returncode


@pytest.fixture
def pbxsim_process(tmp_path):
    """Factory: ``python -m pbxsim`` on a free port; extra CLI args allowed."""
    procs = []

    def start(*args, env=None, timeout=15.0):
        port_file = tmp_path / f"pbxsim-{len(procs)}.port"
        cmd = [sys.executable, "-m", "pbxsim", "--port", "0", "--port-file", str(port_file),
               *args]
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        handle = PbxsimProcess(proc, None)
        procs.append(handle)
        deadline = time.monotonic() + timeout
        while not port_file.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"pbxsim exited: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError("pbxsim did not write its port file")
            threading.Event().wait(0.02)
        handle.port = int(port_file.read_text())
        return handle

    yield start
    for p in procs:
        p.stop()
