"""Speech files of personalised messages on the agent PBX hosts: sent files-only by the
``tts`` step and confirmed before their contacts may be called, played from the agent's own
MEDIA_DIR, a dead agent left out, an agent that starts writing the files of running campaigns,
and a dialplan retried after a newer files-only version still applied."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

import dramatiq
import pika
import pytest

from app.campaigns import activation
from app.config import get_settings
from app.dialer.tick import run_tick
from app.messages.audio import synthesize_some, waiting_for_audio
from app.messages.prompts import audio_file
from app.messages.tables import MessageAudio
from app.models import Campaign, CampaignContact, Contact, ContactList
from app.pbx import agents
from app.pbx.poolami import PoolAmi, get_pool_ami
from app.pbx.registry import reset_registry
from app.pbx.tables import MediaFile, Pbx
from dialing_support import SimPbx, make_campaign
from tests.pool.support import add_sim, free_port
from tests.pool.test_agent import Agent
from tests.waiting import wait_until

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)
NAMES = ("Maria", "Ana", "Joe", "Lee")


@pytest.fixture
def tts_pool(db, broker, tmp_path, monkeypatch):
    """PBX a reads this host's files; PBX b has its own MEDIA_DIR, dialplan file and agent."""
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "media"))  # campaign 1 on both engines
    get_settings.cache_clear()
    monkeypatch.setattr(agents, "CONFIRM_TIMEOUT_S", 3.0)
    a = SimPbx(speed=50.0)
    add_sim("a", a.port, 10)
    name, port = f"b-{secrets.token_hex(3)}", free_port()
    add_sim(name, port, 10, agent=True)
    b_file = tmp_path / "b" / "callcast.conf"
    agent = Agent(name, b_file, port, tmp_path / "agent.log", tmp_path / "b" / "media")
    try:
        wait_until(b_file.exists, 30, "the agent's file at start")
        b = SimPbx(port=port, dialplan_path=str(b_file), speed=50.0)
        yield name, b, agent
    finally:
        agent.stop()
        print(agent.log_path.read_text(errors="replace")[-3000:])
        reset_registry()
        a.close()
        if "b" in locals():
            b.close()
        get_settings.cache_clear()


def spoken_campaign():
    """Four contacts whose message is one synthesized text each; a silent menu (digit 4)."""
    campaign = make_campaign([f"+120255500{i}4" for i in range(len(NAMES))], max_channels=10)
    ContactList.update(columns=["name"]).where(
        ContactList.id == campaign.contact_list_id).execute()
    for contact, name in zip(Contact.select().where(
            Contact.contact_list == campaign.contact_list_id).order_by(Contact.position), NAMES):
        Contact.update(fields={"name": name}).where(Contact.id == contact.id).execute()
    Campaign.update(message_template={"segments": [{"kind": "tts", "text": "Hello {name}"}]}
                    ).where(Campaign.id == campaign.id).execute()
    return campaign


def speech_files(campaign_id, settings):
    return [audio_file(settings, campaign_id, row.digest) for row in
            MessageAudio.select().where(MessageAudio.campaign_id == campaign_id)]


def test_the_speech_files_reach_the_agent_s_host_before_their_contacts_are_called(tts_pool):
    name, b, agent = tts_pool
    settings = get_settings()
    pool = PoolAmi(settings)
    campaign = spoken_campaign()
    activation.activate(campaign.id, NOW, ami=pool)
    assert pool.left_out == [] and waiting_for_audio(campaign.id) == len(NAMES)
    dialplan = (agent.log_path.parent / "b" / "callcast.conf").read_text()
    row = Pbx.get(Pbx.name == name)
    assert synthesize_some(campaign.id, NOW, settings) == 0
    assert get_pool_ami(settings).left_out == []
    # a files-only version, confirmed: the dialplan was neither rewritten nor replaced
    after = Pbx.get_by_id(row.id)
    assert after.dialplan_version == row.dialplan_version + 1 == after.dialplan_confirmed
    assert (agent.log_path.parent / "b" / "callcast.conf").read_text() == dialplan
    files = speech_files(campaign.id, settings)
    assert len(files) == len(NAMES)
    for path in files:
        copy = agent.media_dir / path.relative_to(settings.media_dir)
        assert copy.read_bytes() == path.read_bytes()
    assert waiting_for_audio(campaign.id) == 0
    # each call names the files under the MEDIA_DIR of the PBX that carries it
    result = run_tick(campaign.id, NOW, pool)
    assert result.originated == len(NAMES)
    b.thread.wait_idle(30)
    calls = b.stats()["calls"]
    assert calls and all(c["missing"] == [] for c in calls)
    played = [p for c in calls for p in c["played"] if "/tts/" in p]
    assert played and all(p.startswith(str(agent.media_dir)) for p in played)


def test_a_dead_agent_is_left_out_and_the_contacts_are_ready_for_the_others(tts_pool, tmp_path):
    name, b, agent = tts_pool
    settings = get_settings()
    campaign = spoken_campaign()
    activation.activate(campaign.id, NOW, ami=PoolAmi(settings))
    agent.stop()
    assert synthesize_some(campaign.id, NOW, settings) == 0
    left_out = get_pool_ami(settings).left_out
    assert len(left_out) == 1 and left_out[0].startswith(
        f"{name}: its dialplan agent did not confirm files version")
    row = Pbx.get(Pbx.name == name)
    assert row.down_since is not None and "did not confirm files" in row.last_error
    assert CampaignContact.select().where((CampaignContact.campaign == campaign.id)
                                          & CampaignContact.audio_ready).count() == len(NAMES)
    assert not (agent.media_dir / "tts").exists()
    assert MediaFile.select().where(MediaFile.campaign_id == campaign.id).count() == len(NAMES)
    # an agent that starts writes every recorded file of the running campaigns
    late = f"e-{secrets.token_hex(3)}"
    add_sim(late, free_port(), 10, agent=True)
    dialplan = tmp_path / "e" / "callcast.conf"
    started = Agent(late, dialplan, free_port(), tmp_path / "e.log", tmp_path / "e" / "media")
    try:
        wait_until(dialplan.exists, 30, "the late agent's file at start")
        for path in speech_files(campaign.id, settings):
            copy = started.media_dir / path.relative_to(settings.media_dir)
            assert copy.read_bytes() == path.read_bytes()
    finally:
        started.stop()
        print(started.log_path.read_text(errors="replace")[-3000:])


def publish_as_retry(row, version, text, settings):
    """Dialplan ``version`` of ``row`` as its retry would come back: after newer versions."""
    manifest = agents.manifest_of([], agents.settings_for(row, settings))
    body = dramatiq.Message(queue_name=agents.queue_of(row.name), actor_name=agents.ACTOR,
                            args=(version, text, manifest), kwargs={}, options={}).encode()
    connection = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
    try:
        connection.channel().basic_publish(exchange="", routing_key=agents.queue_of(row.name),
                                           body=body)
    finally:
        connection.close()


def test_a_dialplan_retried_after_a_newer_files_only_version_still_applies(tts_pool):
    name, b, agent = tts_pool
    settings = get_settings()
    row = Pbx.get(Pbx.name == name)
    failed = row.dialplan_version + 1  # a dialplan sent, its reload failed: to be retried
    Pbx.update(dialplan_version=failed).where(Pbx.id == row.id).execute()
    sent = agents.send_media([row], {row.id: agents.manifest_of(
        [], agents.settings_for(row, settings))}, settings.broker_url)
    assert agents.wait_confirmed(sent, timeout=30) == [] and sent[row.id] == failed + 1
    publish_as_retry(row, failed, "; the retried dialplan\n", settings)
    b_file = agent.log_path.parent / "b" / "callcast.conf"
    wait_until(lambda: "; the retried dialplan" in b_file.read_text(), 30,
               "the retried dialplan in place")
    publish_as_retry(row, failed - 1, "; older than what is in place\n", settings)
    wait_until(lambda: "skipped: a newer one is in place" in agent.log_path.read_text(
        errors="replace"), 30, "the older dialplan skipped")
    assert "; the retried dialplan" in b_file.read_text()
