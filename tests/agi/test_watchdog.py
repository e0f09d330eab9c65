"""A frozen AGI daemon is killed, so its callers take the fallback (issue 13, finding 10).

On a real Asterisk 22 a daemon stopped with SIGSTOP kept every live channel in
``AGI()``: the kernel completed the connects into its backlog, ``run_agi`` has
no timeout, supervisord saw a RUNNING process. The watchdog kills a daemon
whose loop heartbeat went stale; the waiting connections are reset, and the
dialplan, reading no STORED, reports to the fallback instance.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from agi.liveness import Liveness, liveness_path, process_started
from agi.watchdog import Watchdog
from app.config import load_settings
from app.models import CallEvent
from app.pbx.ami import AmiClient
from app.pbx.dialplan import write_dialplan
from app.pbx.originate import originate_args
from pbxsim.server import PbxsimThread
from tests.agi.conftest import ROOT, DaemonProcess, stored_rows, wait_until
from tests.pbx.conftest import sample_campaign


@pytest.fixture
def sleeper():
    """A process of our own to be watched (and maybe killed)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


def write_liveness(path, pid, started, age):
    path.write_text(json.dumps({"pid": pid, "started": started, "port": 1, "source": "agi"}))
    then = time.time() - age
    os.utime(path, (then, then))


def test_it_kills_only_the_process_that_wrote_a_stale_heartbeat(sleeper, tmp_path):
    path = tmp_path / "agi-journal.jsonl.alive"
    watchdog = Watchdog([path, tmp_path / "missing.alive"], stale_after=2.0)
    started = process_started(sleeper.pid)
    write_liveness(path, sleeper.pid, started, age=0.5)
    assert watchdog.check() == []  # fresh
    write_liveness(path, sleeper.pid, started + 1, age=10)
    assert watchdog.check() == []  # stale, but that pid is another process now
    assert sleeper.poll() is None
    write_liveness(path, sleeper.pid, started, age=10)
    assert watchdog.check() == [sleeper.pid]
    assert sleeper.wait(10) == -signal.SIGKILL


def start_watchdog(tmp_path, paths, stale):
    log = open(tmp_path / "watchdog.log", "a")
    argv = [sys.executable, "-m", "agi.watchdog", "--stale-seconds", str(stale)]
    for path in paths:
        argv += ["--watch", str(path)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=log,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "INFO"})
    wait_until(lambda: "watching" in (tmp_path / "watchdog.log").read_text()
               or proc.poll() is not None, 20, "the watchdog to start")
    assert proc.poll() is None, (tmp_path / "watchdog.log").read_text()
    return proc


def place_calls(sim, settings, contacts):
    """Originate one call per contact (numbers ending in 0: answered, dtmf-1, hangup)."""
    with AmiClient("127.0.0.1", sim.port, "callcast", "callcast") as ami:
        for contact in contacts:
            ami.originate(**originate_args(sample_campaign(7), contact, 1,
                                           f"+155500{contact:05d}0", settings))


@pytest.mark.e2e
def test_it_kills_a_stopped_daemon_and_its_callers_take_the_fallback(sqlite_url, tmp_path):
    (tmp_path / "fallback").mkdir()
    primary = DaemonProcess(tmp_path, sqlite_url).start()
    fallback = DaemonProcess(tmp_path / "fallback", sqlite_url,
                             args=["--source", "fallback"]).start()
    watchdog = start_watchdog(tmp_path, [liveness_path(primary.journal),
                                         liveness_path(fallback.journal)], stale=1.5)
    settings = load_settings({
        "CALL_TOKEN_SECRET": os.environ["CALL_TOKEN_SECRET"],
        "AGI_PORT": str(primary.port), "AGI_FALLBACK_HOST": "127.0.0.1",
        "AGI_FALLBACK_PORT": str(fallback.port),
        "DIALPLAN_PATH": str(tmp_path / "callcast.conf")})
    write_dialplan([sample_campaign(7)], settings=settings)
    # Asterisk would wait forever; pbxsim gives up after 30 s and says PINNED.
    sim = PbxsimThread(dialplan_path=settings.dialplan_path, speed=20.0, pin_limit=30.0)
    sim.start()
    try:
        place_calls(sim, settings, [1])
        sim.wait_idle()
        assert stored_rows(sqlite_url, 7) == {(1, 1, "answered"): 1, (1, 1, "dtmf-1"): 1,
                                              (1, 1, "hangup"): 1}
        os.kill(primary.proc.pid, signal.SIGSTOP)
        place_calls(sim, settings, range(10, 20))
        stats = sim.wait_idle(timeout=60)
    finally:
        sim.stop()
        if primary.proc.poll() is None:
            os.kill(primary.proc.pid, signal.SIGCONT)
        watchdog.send_signal(signal.SIGTERM)
        watchdog.wait(15)
        fallback.stop()
        primary.stop()

    assert primary.proc.returncode == -signal.SIGKILL
    assert "no loop heartbeat" in (tmp_path / "watchdog.log").read_text()
    frozen = [c for c in stats["calls"] if c["account"] == "campaign-7"][1:]
    statuses = [(a["port"], a["status"], a["variables"].get("CALLCAST_AGI_STATUS"))
                for c in frozen for a in c["agi"]]
    assert not [s for s in statuses if s[1] == "PINNED"], statuses
    # each call's first report waited on the stopped daemon until the kill reset it
    first = [c["agi"][0] for c in frozen]
    assert {(a["port"], a["status"], a["detail"]) for a in first} == {
        (primary.port, "SUCCESS", "reset by server")}
    rows = stored_rows(sqlite_url, 7)
    assert {k: n for k, n in rows.items() if k[0] >= 10} == {
        (c, 1, e): 1 for c in range(10, 20) for e in ("answered", "dtmf-1", "hangup")}
    sources = {e.source for e in CallEvent.select().where(CallEvent.contact_id >= 10)}
    assert sources == {"fallback"}


def test_it_serves_on_when_the_liveness_file_cannot_be_written(tmp_path):
    (tmp_path / "not-a-dir").write_text("")
    liveness = Liveness(tmp_path / "not-a-dir" / "agi-journal.jsonl.alive")
    liveness.publish(4573, "agi")  # logged, not raised: a side hook never stops the daemon
    liveness.touch()
    liveness.remove()
