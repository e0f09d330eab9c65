"""The ``tts`` queue: speech synthesis of personalised messages, ahead of dialing.

``start_synthesis(campaign_id)`` (sent with every start of dialing) runs
``synthesize`` in steps of ``app.messages.audio.BATCH`` texts, the ones the list
needs first; each step commits, then sends the next while texts remain. The
dialer claims only contacts whose audio is made, so a call never waits for it.
The lifecycle worker consumes the queue (Procfile, supervisord).
"""

from __future__ import annotations

import logging

import dramatiq

from tasks.broker import TTS, broker  # noqa: F401  (sets the broker first)

from app.clock import utcnow
from app.config import get_settings
from app.db import connection
from app.messages.audio import synthesize_some
from app.models import DIALPLAN_STATES, Campaign

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name=TTS, time_limit=600_000, max_retries=5, min_backoff=2_000)
def synthesize(campaign_id: int):
    """Make the next texts of a campaign's messages; send the next step while some remain."""
    with connection():
        campaign = Campaign.get_or_none(Campaign.id == campaign_id)
        if campaign is None or campaign.state not in DIALPLAN_STATES:
            return
        if not campaign.message_template:
            return
        left = synthesize_some(campaign_id, utcnow(), get_settings())
    if left:
        synthesize.send(campaign_id)
    else:
        log.info("campaign=%s every message text is synthesized", campaign_id)


def start_synthesis(campaign_id: int) -> None:
    """Start making a campaign's audio (a second chain only repeats finished checks)."""
    synthesize.send(campaign_id)
