"""The per-PBX dialplan agent: its file at start, each activation confirmed, a dead one left out."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from app.campaigns import activation
from app.config import get_settings
from app.dialer.tick import run_tick
from app.models import CallAttempt
from app.pbx import agents
from app.pbx.dialplan import render_dialplan
from app.pbx.dialplan_spec import campaign_spec
from app.pbx.poolami import PoolAmi
from app.pbx.registry import reset_registry
from app.pbx.tables import Pbx
from dialing_support import SimPbx, make_campaign
from tests.pool.support import ROOT, SimProcess, add_sim, free_port
from tests.waiting import wait_until

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)


class Agent:
    def __init__(self, name, dialplan, ami_port, log):
        env = dict(os.environ, DIALPLAN_PATH=str(dialplan), AMI_PORT=str(ami_port),
                   METRICS_PORT="0", LOG_LEVEL="INFO", dramatiq_worker_timeout="100")
        self.log = open(log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "tasks.pbxagent", name], cwd=ROOT,
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def two(db, broker, tmp_path, monkeypatch):
    """PBX a reads the shared file (AMI reload); PBX b has its own file and an agent."""
    monkeypatch.setattr(agents, "CONFIRM_TIMEOUT_S", 3.0)
    a = SimPbx(speed=1.0)
    b_file = tmp_path / "b" / "callcast.conf"
    port = free_port()
    add_sim("a", a.port, 10)
    # its own queue per test: the vhost (and a dead agent's messages) outlive a test
    name = f"b-{secrets.token_hex(3)}"
    add_sim(name, port, 10, agent=True)
    agent = Agent(name, b_file, port, tmp_path / "agent.log")
    try:
        wait_until(b_file.exists, 30, "the agent's file at start")
        b = SimProcess(port, "--dialplan", str(b_file)).start()
        yield name, b_file, agent
    finally:
        agent.stop()
        print((tmp_path / "agent.log").read_text(errors="replace")[-3000:])
        reset_registry()
        a.close()
        if "b" in locals():
            b.stop()


def test_the_agent_writes_its_pbx_dialplan_and_the_activation_waits_for_it(two):
    name, b_file, agent = two
    pool = PoolAmi(get_settings())
    campaign = make_campaign([f"+1202555{i:03d}6" for i in range(20)], max_channels=20)
    activation.activate(campaign.id, NOW, ami=pool)
    assert pool.left_out == []
    row = Pbx.get(Pbx.name == name)
    assert row.dialplan_confirmed == row.dialplan_version >= 1
    assert f"[callcast-campaign-{campaign.id}]" in b_file.read_text()
    # b's own file (its agent wrote it) is loaded: b's calls are not refused
    result = run_tick(campaign.id, NOW, pool)
    assert result.originated == 20 and "refused" not in result.status
    per = {p.name: CallAttempt.select().where(CallAttempt.pbx_id == p.id).count()
           for p in Pbx.select()}
    assert per == {"a": 10, name: 10}


def test_an_activation_leaves_out_a_pbx_whose_agent_is_dead_and_says_so(two):
    name, b_file, agent = two
    agent.stop()
    pool = PoolAmi(get_settings())
    campaign = make_campaign(["+12025550016"], max_channels=5)
    activation.activate(campaign.id, NOW, ami=pool)  # a took it: the activation goes on
    assert len(pool.left_out) == 1 and pool.left_out[0].startswith(
        f"{name}: its dialplan agent did not confirm version")
    row = Pbx.get(Pbx.name == name)
    assert row.down_since is not None and "did not confirm" in row.last_error
    assert f"[callcast-campaign-{campaign.id}]" not in b_file.read_text()


def test_an_agent_started_during_an_activation_applies_that_activation_s_dialplan(
        db, broker, tmp_path):
    """The activation sends its rendering (the campaign still DRAFT) before the agent starts:
    the agent's own file at start lacks the campaign, and the message must still apply."""
    name = f"c-{secrets.token_hex(3)}"
    port = free_port()
    add_sim(name, port, 10, agent=True)
    dialplan = tmp_path / "c" / "callcast.conf"
    dialplan.parent.mkdir()
    dialplan.write_text("")  # what Asterisk loaded before (pbxsim reloads this file)
    sim = SimProcess(port, "--dialplan", str(dialplan)).start()
    campaign = make_campaign(["+12025550016"], max_channels=5)
    row = Pbx.get(Pbx.name == name)
    spec = campaign_spec(campaign, [])
    text = render_dialplan([spec], agents.settings_for(row, get_settings()))
    sent = agents.send([row], {row.id: text}, get_settings().broker_url)
    agent = Agent(name, dialplan, port, tmp_path / "agent.log")
    try:
        assert agents.wait_confirmed(sent, timeout=30) == []
        assert f"[callcast-campaign-{campaign.id}]" in dialplan.read_text()
    finally:
        agent.stop()
        print((tmp_path / "agent.log").read_text(errors="replace")[-3000:])
        sim.stop()
