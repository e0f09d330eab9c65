"""The real processes of a dialing run, each on free ports: pbxsim, the AGI daemon, dialer workers.

Every process is started in its own session so a test can ``kill -9`` it (and
its children) without touching anything else; output goes to files under the
test's tmp dir and is printed when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from app.config import get_settings
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


class Proc:
    def __init__(self, name, argv, env, log_path):
        self.name, self.argv, self.log_path = name, argv, log_path
        self.log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )

    def alive(self):
        return self.popen.poll() is None

    def kill9(self):
        """SIGKILL the whole process group (a dramatiq master and its workers)."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(10)

    def stop(self, timeout=15):
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.log.close()

    def tail(self, lines=40):
        try:
            text = Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Stack:
    """pbxsim + AGI daemon + dialer workers sharing one database and broker vhost."""

    def __init__(self, tmp_path, env_overrides=None):
        self.tmp = Path(tmp_path)
        self.procs = []
        self.env = dict(os.environ)
        # dramatiq looks at its delay queue every worker timeout (1 s by default):
        # sub-second tick delays need a shorter one (the Procfile sets it too)
        # METRICS_PORT 0: the dialers serve no Prometheus port (no fixed ports in tests)
        self.env.update(LOG_LEVEL="INFO", PYTHONUNBUFFERED="1", dramatiq_worker_timeout="100",
                        METRICS_PORT="0")
        self.env.update(env_overrides or {})
        self.pbx_port = None
        self.agi_port = None
        self.pbxsim = None
        self.agi = None
        self._ami = None

    def _file(self, name):
        return self.tmp / name

    def start_agi(self):
        port_file = self._file("agi.port")
        port_file.unlink(missing_ok=True)
        env = dict(self.env, AGI_JOURNAL_PATH=str(self._file("agi-journal.jsonl")))
        self.agi = self._spawn("agi", [sys.executable, "-m", "agi", "--port", "0",
                                       "--no-metrics", "--port-file", str(port_file)], env)
        text = wait_until(lambda: port_file.exists() and port_file.read_text().strip(), 20,
                        "the AGI daemon's port file")
        self.agi_port = int(text.split()[0])
        self.env["AGI_PORT"] = str(self.agi_port)
        return self.agi_port

    def start_pbxsim(self, speed=20.0, port=0, max_channels=1000, extra=()):
        port_file = self._file("pbxsim.port")
        port_file.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "pbxsim", "--port", str(port), "--port-file",
                str(port_file), "--speed", str(speed), "--max-channels", str(max_channels),
                "--model", "lastdigit", *extra]
        self.pbxsim = self._spawn("pbxsim", argv, self.env)
        text = wait_until(lambda: port_file.exists() and port_file.read_text().strip(), 20,
                        "pbxsim's port file")
        self.pbx_port = int(text)
        self.env["AMI_PORT"] = str(self.pbx_port)
        return self.pbx_port

    def start_ami_events(self):
        """The AMI UserEvent recorder (``python -m agi.amievents``), once it is logged in."""
        from app.models import Heartbeat

        env = dict(self.env, AGI_JOURNAL_PATH=str(self._file("ami-journal.jsonl")))
        proc = self._spawn("ami-events", [sys.executable, "-m", "agi.amievents"], env)
        # it beats only after a Ping answered, i.e. logged in and listening
        wait_until(lambda: Heartbeat.select().where(Heartbeat.kind == "ami-events").exists(),
                 20, "the AMI UserEvent recorder to log in")
        return proc

    def start_dialer(self, name="dialer", threads=8):
        argv = [str(VENV_BIN / "dramatiq"), "tasks.dialing", "-Q", "dialing", "-p", "1",
                "-t", str(threads)]
        return self._spawn(name, argv, self.env)

    def _spawn(self, name, argv, env):
        proc = Proc(name, argv, env, self._file(f"{name}-{len(self.procs)}.log"))
        self.procs.append(proc)
        return proc

    def ami(self):
        """An AMI client to pbxsim (one per Stack; rebuilt after a pbxsim restart)."""
        from app.pbx.ami import AmiClient

        if self._ami is None or self._ami.port != self.pbx_port:
            if self._ami is not None:
                self._ami.close()
            self._ami = AmiClient("127.0.0.1", self.pbx_port, self.env.get("AMI_USER", "callcast"),
                                  self.env.get("AMI_SECRET", "callcast"), timeout=5.0, name="e2e")
        return self._ami

    def pbx_stats(self):
        return json.loads(self.ami().action("PbxsimStats").get("JSON"))

    def logs(self):
        return "\n\n".join(f"--- {p.name} ({p.log_path}) ---\n{p.tail()}" for p in self.procs)

    def close(self):
        if self._ami is not None:
            self._ami.close()
        for proc in reversed(self.procs):
            proc.stop()


@contextlib.contextmanager
def serving(stack, monkeypatch, keys, start):
    """``start(stack)``, then the test process's settings point at it (``keys`` of its env)
    while it runs; its logs are printed (pytest shows them when the test failed), then it
    is closed."""
    try:
        start(stack)
        for key in keys:
            monkeypatch.setenv(key, stack.env[key])
        get_settings.cache_clear()
        yield stack
    finally:
        print(stack.logs())
        stack.close()
        get_settings.cache_clear()
