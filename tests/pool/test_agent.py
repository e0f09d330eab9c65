"""The per-PBX dialplan agent: its file at start, each activation confirmed, a dead one left out."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from app.campaigns import activation
from app.config import get_settings
from app.db import write_transaction
from app.dialer.tick import run_tick
from app.models import CallAttempt, Campaign
from app.pbx import agents, media
from app.pbx.dialplan import render_dialplan
from app.pbx.dialplan_spec import campaign_spec
from app.pbx.poolami import PoolAmi
from app.pbx.registry import reset_registry
from app.pbx.tables import MediaFile, Pbx
from app.web.admin.media import store_message
from dialing_support import SimPbx, make_campaign
from tests.admin.test_media import wav
from tests.pool.support import ROOT, SimProcess, add_sim, free_port
from tests.waiting import wait_until

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)


class Agent:
    """``python -m tasks.pbxagent NAME``; ``media_dir``: its host's own MEDIA_DIR."""

    def __init__(self, name, dialplan, ami_port, log, media_dir=None):
        self.media_dir = Path(media_dir or get_settings().media_dir)
        env = dict(os.environ, DIALPLAN_PATH=str(dialplan), AMI_PORT=str(ami_port),
                   METRICS_PORT="0", LOG_LEVEL="INFO", dramatiq_worker_timeout="100",
                   MEDIA_DIR=str(self.media_dir))
        self.log_path = Path(log)
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
    """PBX a reads the shared file (AMI reload); PBX b has its own file, MEDIA_DIR and agent."""
    monkeypatch.setattr(agents, "CONFIRM_TIMEOUT_S", 3.0)
    a = SimPbx(speed=1.0)
    b_file = tmp_path / "b" / "callcast.conf"
    port = free_port()
    add_sim("a", a.port, 10)
    # its own queue per test: the vhost (and a dead agent's messages) outlive a test
    name = f"b-{secrets.token_hex(3)}"
    add_sim(name, port, 10, agent=True)
    agent = Agent(name, b_file, port, tmp_path / "agent.log", tmp_path / "b" / "media")
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


def test_a_pbx_whose_agent_is_behind_takes_no_new_calls_until_it_catches_up(two, tmp_path):
    """The activation left b out (its agent dead). b's AMI answers, so /health and a dialer
    that never saw it fail take it for up: it still gets no call while its agent lags."""
    name, b_file, agent = two
    agent.stop()
    campaign = make_campaign([f"+1202555{i:03d}6" for i in range(20)], max_channels=20)
    activation.activate(campaign.id, NOW, ami=PoolAmi(get_settings()))
    Pbx.update(down_since=None, last_error="").where(Pbx.name == name).execute()
    reset_registry()  # a dialer process that never saw b fail
    pool = PoolAmi(get_settings())
    result = run_tick(campaign.id, NOW, pool)
    row = Pbx.get(Pbx.name == name)
    assert result.originated == 10  # a's capacity; none to b
    assert (f"{name}: no new calls: its agent confirmed version {row.dialplan_confirmed} of "
            f"{row.dialplan_version}") in result.status
    assert CallAttempt.select().where(CallAttempt.pbx_id == row.id).count() == 0
    # another activation sends b its dialplan too, but does not wait for a lagging agent
    other = make_campaign(["+12025559996"], max_channels=1)
    activation.activate(other.id, NOW, ami=pool)
    assert pool.left_out == [f"{name}: its dialplan agent is behind (version 0 of 1): no calls "
                             f"until it has applied version 2"]
    row = Pbx.get(Pbx.name == name)
    back = Agent(name, b_file, row.ami_port, tmp_path / "agent-back.log", agent.media_dir)
    try:
        wait_until(lambda: Pbx.get(Pbx.name == name).dialplan_confirmed == row.dialplan_version,
                   30, "the agent to apply its queue")
        assert f"[callcast-campaign-{other.id}]" in b_file.read_text()
        assert run_tick(campaign.id, NOW, pool).originated == 10  # now b's 10
        assert CallAttempt.select().where(CallAttempt.pbx_id == row.id).count() == 10
    finally:
        back.stop()
        print((tmp_path / "agent-back.log").read_text(errors="replace")[-3000:])


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
    manifest = agents.manifest_of([], agents.settings_for(row, get_settings()))
    sent = agents.send([row], {row.id: text}, {row.id: manifest}, get_settings().broker_url)
    agent = Agent(name, dialplan, port, tmp_path / "agent.log")
    try:
        assert agents.wait_confirmed(sent, timeout=30) == []
        assert f"[callcast-campaign-{campaign.id}]" in dialplan.read_text()
    finally:
        agent.stop()
        print((tmp_path / "agent.log").read_text(errors="replace")[-3000:])
        sim.stop()


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_an_uploaded_message_is_on_the_agent_s_host_before_the_activation_returns(two):
    """b keeps its sound files under its own MEDIA_DIR: they come through the database."""
    name, b_file, agent = two
    settings = get_settings()
    assert agent.media_dir != settings.media_dir
    pool = PoolAmi(settings)
    campaign = make_campaign(["+12025550016"], max_channels=5, message_sound="")
    with write_transaction():  # as the console stores an upload
        stored = store_message(settings.media_dir, campaign.id, "hello.wav", wav(frames=1600))
        Campaign.update(message_file=stored).where(Campaign.id == campaign.id).execute()
    activation.activate(campaign.id, NOW, ami=pool)
    assert pool.left_out == []
    copy = agent.media_dir / stored
    assert copy.read_bytes() == wav(frames=1600)
    assert mode(copy) == 0o640 and mode(copy.parent) == 0o750
    text = b_file.read_text()  # b's dialplan names b's copy, never the web host's file
    assert f"Read(CC_DIGIT,{agent.media_dir / stored[:-4]}," in text
    assert str(settings.media_dir) not in text
    # a file the CLI names, then changed in place: the next activation replaces b's copy
    folder = f"named-{secrets.token_hex(3)}"
    named = settings.media_dir / folder / "greeting.wav"
    named.parent.mkdir(parents=True)
    named.write_bytes(wav(frames=800))
    second = make_campaign(["+12025550017"], message_file=f"{folder}/greeting.wav",
                           message_sound="")
    activation.activate(second.id, NOW, ami=pool)
    assert (agent.media_dir / folder / "greeting.wav").read_bytes() == wav(frames=800)
    named.write_bytes(wav(frames=2400))
    third = make_campaign(["+12025550018"], message_file=f"{folder}/greeting.wav",
                          message_sound="")
    activation.activate(third.id, NOW, ami=pool)
    assert pool.left_out == []
    assert (agent.media_dir / folder / "greeting.wav").read_bytes() == wav(frames=2400)
    assert copy.read_bytes() == wav(frames=1600)


def test_the_agent_refuses_a_file_outside_its_media_dir_and_confirms_nothing(two, tmp_path):
    name, b_file, agent = two
    row = Pbx.get(Pbx.name == name)
    data = b"root:x:0:0:root:/root:/bin/sh\n"
    MediaFile.insert(path="../../etc/passwd", sha256=media.sha256_of(data), size=len(data),
                     data=data, campaign_id=1, created_at=NOW).execute()  # around record()
    manifest = agents.manifest_of([("../../etc/passwd", media.sha256_of(data))],
                                  agents.settings_for(row, get_settings()))
    sent = agents.send([row], {row.id: "; refused\n"}, {row.id: manifest},
                       get_settings().broker_url)
    assert [late.id for late in agents.wait_confirmed(sent, timeout=3)] == [row.id]
    wait_until(lambda: "MediaError" in agent.log_path.read_text(errors="replace"), 10,
               "the agent's refusal in its log")
    assert agent.media_dir.parent.parent == tmp_path and not (tmp_path / "etc").exists()
    assert "; refused" not in b_file.read_text()
    # a text rendered for another MEDIA_DIR (before this agent reported its own): refused
    elsewhere = {"media_dir": str(tmp_path / "elsewhere"), "files": []}
    sent = agents.send([row], {row.id: "; elsewhere\n"}, {row.id: elsewhere},
                       get_settings().broker_url)
    wait_until(lambda: "names the sound files under" in agent.log_path.read_text(
        errors="replace"), 30, "the agent's refusal of another MEDIA_DIR")
    assert Pbx.get_by_id(row.id).dialplan_confirmed < sent[row.id]
    assert "; elsewhere" not in b_file.read_text()


def test_an_agent_writes_the_files_of_running_campaigns_at_start(db, broker, tmp_path):
    settings = get_settings()
    name = f"d-{secrets.token_hex(3)}"
    add_sim(name, free_port(), 10, agent=True)
    folder = f"named-{secrets.token_hex(3)}"
    (settings.media_dir / folder).mkdir(parents=True)
    (settings.media_dir / folder / "hello.wav").write_bytes(wav(frames=1200))
    campaign = make_campaign(["+12025550016"], message_file=f"{folder}/hello.wav",
                             message_sound="")
    activation.activate(campaign.id, NOW)  # no PBX reached: only recorded and written here
    dialplan = tmp_path / "d" / "callcast.conf"
    agent = Agent(name, dialplan, free_port(), tmp_path / "agent.log", tmp_path / "d" / "media")
    try:
        wait_until(dialplan.exists, 30, "the agent's file at start")
        copy = agent.media_dir / folder / "hello.wav"
        assert copy.read_bytes() == wav(frames=1200) and mode(copy) == 0o640
        assert f"{copy}"[:-4] in dialplan.read_text()
        assert Pbx.get(Pbx.name == name).media_dir == str(agent.media_dir)
    finally:
        agent.stop()
        print(agent.log_path.read_text(errors="replace")[-3000:])


def test_the_agent_deletes_its_copies_of_a_closed_campaigns_speech_files(two):
    """The host that made them deletes its own at the close; b's copies go with b's next
    dialplan (the close's, its context unloaded), those of running campaigns stay."""
    name, b_file, agent = two
    closed = make_campaign(["+12025550031"], state="CLOSED")
    running = make_campaign(["+12025550032"], state="ACTIVE")
    folders = {c.id: agent.media_dir / "tts" / f"campaign-{c.id}" for c in (closed, running)}
    for folder in folders.values():
        folder.mkdir(parents=True)
        (folder / f"{'a' * 64}.wav").write_bytes(wav(frames=80))
    pool = PoolAmi(get_settings())
    campaign = make_campaign(["+12025550033"], max_channels=5)
    activation.activate(campaign.id, NOW, ami=pool)  # a dialplan message to b, confirmed
    assert pool.left_out == []
    wait_until(lambda: not folders[closed.id].exists(), 30, "the closed campaign's copies gone")
    assert (folders[running.id] / f"{'a' * 64}.wav").read_bytes() == wav(frames=80)
