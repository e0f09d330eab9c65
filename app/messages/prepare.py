"""Activation's pass over a campaign's contacts, the dialer's variables, and the purge.

``prepare_messages`` renders every contact once (``app.messages.values``): a contact
whose values do not fit the template is made final with ``bad_message`` and its
reason (never dialled); the others get their channel variables, and one
``message_audio`` row per distinct TTS text (made by the ``tts`` actor, ahead of
dialing: a contact waits, ``audio_ready`` false, until its texts are made).
"""

from __future__ import annotations

import io
import logging

from app.csvcells import writer
from app.db import database
from app.events import BAD_MESSAGE
from app.messages.audio import remove_audio
from app.messages.prompts import audio_file, prompt_of
from app.messages.tables import READY, ContactAudio, ContactMessage, MessageAudio
from app.messages.template import parse
from app.messages.tts import engine_of
from app.messages.values import audio_digest, render_contact, variable
from app.models import FINAL, PENDING, Campaign, CampaignContact, Contact

log = logging.getLogger(__name__)

CHUNK = 1000


def prepare_messages(campaign_id: int, now, settings) -> int:
    """Render every contact's message (idempotent); the count of contacts skipped."""
    campaign = Campaign.get_by_id(campaign_id)
    template = parse(campaign.message_template)
    if template.empty:
        return 0
    engine = engine_of(settings).name
    texts = {}  # digest -> (rank, text)
    skipped = 0
    last = -1
    while True:  # keyset pages on the list's (contact_list, position) index
        rows = list(Contact.select(Contact.id, Contact.position, Contact.fields).where(
            (Contact.contact_list == campaign.contact_list_id) & (Contact.position > last)
        ).order_by(Contact.position).limit(CHUNK).tuples())
        if not rows:
            break
        last = rows[-1][1]
        skipped += _prepare_chunk(campaign, template, engine, rows, texts, now, settings)
    _store_texts(campaign_id, texts, settings, now)
    log.info("campaign=%s messages prepared texts=%d skipped=%d", campaign_id, len(texts), skipped)
    return skipped


def _prepare_chunk(campaign, template, engine, rows, texts, now, settings) -> int:
    messages, links, bad, waiting = [], [], [], []
    for contact_id, position, fields in rows:
        out = render_contact(template, fields, campaign.timezone)
        if out.problems:
            bad.append(contact_id)
            messages.append(dict(campaign_id=campaign.id, contact_id=contact_id,
                                 problem="; ".join(out.problems)[:500]))
            continue
        for index, text in out.texts.items():
            digest = audio_digest(text, template.language, template.voice, engine)
            texts.setdefault(digest, (position, text))
            links.append(dict(campaign_id=campaign.id, contact_id=contact_id, digest=digest))
            out.variables[variable(index)] = prompt_of(settings, campaign.id, digest)
        if out.texts:
            waiting.append(contact_id)
        messages.append(dict(campaign_id=campaign.id, contact_id=contact_id,
                             variables=out.variables, text=" ".join(out.shown)))
    with database.atomic():
        ContactMessage.insert_many(messages).on_conflict_ignore().execute()
        if links:
            ContactAudio.insert_many(links).on_conflict_ignore().execute()
        _set_contacts(campaign.id, bad, dict(state=FINAL, last_outcome=BAD_MESSAGE), now)
        _set_contacts(campaign.id, waiting, dict(audio_ready=False), now)
    return len(bad)


def _set_contacts(campaign_id, contact_ids, values, now):
    if contact_ids:
        CampaignContact.update(updated_at=now, **values).where(
            (CampaignContact.campaign == campaign_id) & (CampaignContact.state == PENDING)
            & CampaignContact.contact.in_(contact_ids)).execute()


def _store_texts(campaign_id, texts, settings, now) -> None:
    """One row per distinct text; a file already there (a second activation) is ready."""
    rows = []
    for digest, (rank, text) in texts.items():
        ready = audio_file(settings, campaign_id, digest).exists()
        rows.append(dict(campaign_id=campaign_id, digest=digest, text=text, rank=rank,
                         state=READY if ready else "pending", ready_at=now if ready else None))
    with database.atomic():
        for start in range(0, len(rows), CHUNK):
            MessageAudio.insert_many(rows[start:start + CHUNK]).on_conflict_ignore().execute()


def message_variables(campaign, contact_ids) -> dict:
    """{contact id: its message's channel variables} for the claimed contacts of a tick."""
    if not campaign.message_template or not contact_ids:
        return {}
    return dict(ContactMessage.select(ContactMessage.contact_id, ContactMessage.variables).where(
        (ContactMessage.campaign_id == campaign.id)
        & ContactMessage.contact_id.in_(list(contact_ids))).tuples())


def skipped_rows(campaign_id: int):
    """(contact id, line in the file, phone, reason) of every contact skipped for its message."""
    return (ContactMessage.select(ContactMessage.contact_id, Contact.position, Contact.phone,
                                  ContactMessage.problem)
            .join(Contact, on=(Contact.id == ContactMessage.contact_id))
            .where((ContactMessage.campaign_id == campaign_id) & (ContactMessage.problem != ""))
            .order_by(Contact.position).tuples())


def skipped_count(campaign_id: int) -> int:
    """How many contacts activation (or a failed synthesis) skipped for their message."""
    return ContactMessage.select().where((ContactMessage.campaign_id == campaign_id)
                                         & (ContactMessage.problem != "")).count()


def skipped_note(campaign_id: int) -> str:
    """What the console and the CLI say after activation ("" when none was skipped)."""
    count = skipped_count(campaign_id)
    return (f"{count} contacts skipped: their values do not fit the personalised message "
            "(the skipped list names the field of each)") if count else ""


def skipped_csv(campaign_id: int) -> str:
    """The contacts skipped for their message as CSV (formula cells neutralised): the list
    the console, the CLI and the API hand out."""
    out = io.StringIO()
    rows = writer(out)
    rows.writerow(["contact_id", "line", "phone", "reason"])
    for row in skipped_rows(campaign_id):
        rows.writerow(row)
    return out.getvalue()


def message_of(campaign_id: int, contact_id: int):
    """One contact's message row (its text and problem), or None."""
    return ContactMessage.get_or_none((ContactMessage.campaign_id == campaign_id)
                                      & (ContactMessage.contact_id == contact_id))


def purge_messages(campaign_id: int, settings) -> list[str]:
    """Delete a campaign's message rows and generated audio; the digests it had (for the
    archive)."""
    digests = [d for (d,) in MessageAudio.select(MessageAudio.digest).where(
        MessageAudio.campaign_id == campaign_id).order_by(MessageAudio.digest).tuples()]
    with database.atomic():
        for table in (ContactAudio, ContactMessage, MessageAudio):
            table.delete().where(table.campaign_id == campaign_id).execute()
    remove_audio(settings, campaign_id)
    return digests
