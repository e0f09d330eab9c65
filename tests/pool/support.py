"""Pools of pbxsim PBXs for the tests: threads (SimPbx) and processes that can be killed -9."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from app.config import get_settings
from app.pbx import pool
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def add_sim(name: str, port: int, capacity: int, **fields):
    """A pool row for a pbxsim listening on ``port``."""
    s = get_settings()
    return pool.add_pbx(dict(name=name, ami_host="127.0.0.1", ami_port=port, ami_user=s.ami_user,
                             ami_secret=s.ami_secret, agi_host="127.0.0.1",
                             dial_template=s.dial_template, capacity=capacity, **fields))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SimProcess:
    """``python -m pbxsim`` on a fixed port, so that it can be killed -9 and started again."""

    def __init__(self, port: int, *args):
        self.port, self.args, self.proc = port, args, None

    def start(self):
        s = get_settings()
        cmd = [sys.executable, "-m", "pbxsim", "--port", str(self.port),
               "--dialplan", str(s.dialplan_path), "--user", s.ami_user, "--secret", s.ami_secret,
               *self.args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._listening, timeout=15, what=f"pbxsim on port {self.port}")
        return self

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"pbxsim exited with {self.proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def kill9(self):
        self.proc.kill()  # SIGKILL: no goodbye on the AMI connection
        self.proc.wait(10)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
