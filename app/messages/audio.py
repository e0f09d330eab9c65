"""The synthesis cache: one 8 kHz WAV per distinct text of a campaign, named by its hash.

Files live in ``MEDIA_DIR/tts/campaign-<id>/<sha256>.wav``, 0640 in a 0750 folder
(``app.private_files``: the owner, and Asterisk's group that plays them; nobody else). ``synthesize_some`` is the step of the ``tts``
actor: the pending texts the list needs first, each written once (an existing file is
kept), then the contacts whose every text is ready become claimable
(``campaign_contact.audio_ready``); a text the engine cannot say skips its contacts.

When the pool has a PBX with a dialplan agent (another host, its own MEDIA_DIR),
each step first records its files in ``media_file`` and sends them to every such
agent, files only, waiting for each (bounded; one that does not confirm is marked
down and left out: ``PoolAmi.send_files``), so a contact becomes claimable only
once its files are where the call may play them (``deliver``). The Originate
names each file under the MEDIA_DIR of the PBX that carries the call
(``app.messages.prompts.prompts_under``).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from peewee import fn

from app.db import database
from app.events import BAD_MESSAGE
from app.messages.prompts import audio_dir, audio_file
from app.messages.tables import FAILED, PENDING, READY, ContactAudio, ContactMessage, MessageAudio
from app.messages.tts import TtsError, engine_of, telephony_wav
from app.models import FINAL, CampaignContact, Campaign
from app.pbx import media
from app.pbx.poolami import get_pool_ami
from app.private_files import open_private

log = logging.getLogger(__name__)

BATCH = 20  # texts per actor message: a message stays short, progress is committed often

def write_audio(settings, campaign_id: int, digest: str, wav: bytes) -> Path:
    """Write one file atomically (temp file + rename), 0640: the owner and Asterisk's group
    (personal data, played by another user); return its path."""
    path = audio_file(settings, campaign_id, digest)
    tmp = path.with_name(f".{digest}.{os.getpid()}.tmp")
    with open_private(tmp, "wb", shared=settings.media_dir, group=True) as fh:
        fh.write(wav)
    os.replace(tmp, path)
    return path


def synthesize_one(row: MessageAudio, language: str, voice: str, engine, settings) -> int:
    """Make one text's file unless it exists; its duration in ms."""
    path = audio_file(settings, row.campaign_id, row.digest)
    if path.exists():
        return row.duration_ms
    wav, duration_ms = telephony_wav(engine.synthesize(row.text, language, voice))
    write_audio(settings, row.campaign_id, row.digest, wav)
    return duration_ms


def synthesize_some(campaign_id: int, now, settings, limit: int = BATCH) -> int:
    """Synthesize up to ``limit`` pending texts (those the list needs first); how many remain."""
    from app.messages.template import parse

    campaign = Campaign.get_by_id(campaign_id)
    template = parse(campaign.message_template)
    engine = engine_of(settings)
    rows = list(MessageAudio.select().where(
        (MessageAudio.campaign_id == campaign_id) & (MessageAudio.state == PENDING)
    ).order_by(MessageAudio.rank).limit(limit))
    ready, failed = [], []
    for row in rows:
        try:
            row.duration_ms = synthesize_one(row, template.language, template.voice, engine,
                                             settings)
            ready.append(row)
        except (TtsError, OSError) as exc:
            log.warning("tts failed campaign=%s digest=%s: %s", campaign_id, row.digest[:12], exc)
            row.error = str(exc)[:300]
            failed.append(row)
    deliver(campaign_id, [row.digest for row in ready], settings)
    with database.atomic():
        for row in ready:
            MessageAudio.update(state=READY, duration_ms=row.duration_ms, ready_at=now).where(
                MessageAudio.id == row.id).execute()
        for row in failed:
            MessageAudio.update(state=FAILED, error=row.error).where(
                MessageAudio.id == row.id).execute()
        mark_ready(campaign_id, [r.digest for r in ready], now)
        skip_failed(campaign_id, failed, now)
    return pending_texts(campaign_id)


def deliver(campaign_id: int, digests, settings) -> int:
    """The files of ``digests`` on every enabled agent PBX's host (recorded, sent, each
    confirmed or its PBX left out) before their contacts are claimable; how many were
    recorded (0: the pool has no agent PBX, the PBXs read this host's MEDIA_DIR)."""
    if not digests or not media.agent_pbxs():
        return 0
    files = []
    for digest in digests:
        path = audio_file(settings, campaign_id, digest)
        row = media.record(path.relative_to(settings.media_dir), path.read_bytes(), campaign_id)
        files.append((row.path, row.sha256))
    get_pool_ami(settings).send_files(files, settings)
    return len(files)


def pending_texts(campaign_id: int) -> int:
    return MessageAudio.select().where(
        (MessageAudio.campaign_id == campaign_id) & (MessageAudio.state == PENDING)).count()


def mark_ready(campaign_id: int, digests, now) -> int:
    """Contacts that use one of ``digests`` and whose every text is ready become claimable."""
    if not digests:
        return 0
    users = ContactAudio.select(ContactAudio.contact_id).where(
        (ContactAudio.campaign_id == campaign_id) & ContactAudio.digest.in_(digests))
    other = ContactAudio.alias()
    waiting = (other.select(fn.COUNT(other.id))
               .join(MessageAudio, on=((MessageAudio.campaign_id == other.campaign_id)
                                       & (MessageAudio.digest == other.digest)))
               .where((other.campaign_id == campaign_id)
                      & (other.contact_id == CampaignContact.contact)
                      & (MessageAudio.state != READY)))
    return CampaignContact.update(audio_ready=True, updated_at=now).where(
        (CampaignContact.campaign == campaign_id) & (CampaignContact.audio_ready == False)  # noqa: E712
        & CampaignContact.contact.in_(users) & (waiting == 0)
    ).execute()


def skip_failed(campaign_id: int, failed, now) -> int:
    """Contacts whose text the engine could not say: final, with the reason kept."""
    if not failed:
        return 0
    users = ContactAudio.select(ContactAudio.contact_id).where(
        (ContactAudio.campaign_id == campaign_id)
        & ContactAudio.digest.in_([r.digest for r in failed]))
    ContactMessage.update(problem=f"text-to-speech failed: {failed[0].error}"[:500]).where(
        (ContactMessage.campaign_id == campaign_id) & ContactMessage.contact_id.in_(users)
    ).execute()
    return CampaignContact.update(state=FINAL, last_outcome=BAD_MESSAGE, updated_at=now).where(
        (CampaignContact.campaign == campaign_id) & CampaignContact.contact.in_(users)
        & (CampaignContact.state == "pending")
    ).execute()


def waiting_for_audio(campaign_id: int) -> int:
    """Pending contacts not claimable yet because their audio is not made."""
    return CampaignContact.select().where(
        (CampaignContact.campaign == campaign_id) & (CampaignContact.state == "pending")
        & (CampaignContact.audio_ready == False)  # noqa: E712
    ).count()


def remove_audio(settings, campaign_id: int) -> None:
    shutil.rmtree(audio_dir(settings, campaign_id), ignore_errors=True)
