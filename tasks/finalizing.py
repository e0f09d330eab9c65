"""Actor on the ``finalize`` queue: results, report, CSV, charts, archive, purge, CLOSED.

The steps and their idempotence live in ``app.finalization``; a redelivered
message (worker killed, broker connection lost) resumes from the last step
committed. Once closed, the campaign's context leaves the dialplan file and
Asterisk (``dialplan reload`` over the process's AMI client).
"""

from __future__ import annotations

import logging

import dramatiq

from tasks.broker import FINALIZE, broker  # noqa: F401  (sets the broker first)
from app.clock import utcnow
from tasks.lifecycle import keep_draining, lifecycle_beat, record_failure

from app.db import connection
from app.finalization import CLOSE, finalize
from app.config import get_settings
from app.pbx.poolami import get_pool_ami
from tasks.webhooks import dispatch_outbox

log = logging.getLogger(__name__)


@dramatiq.actor(
    queue_name=FINALIZE,
    retry_when=keep_draining,
    min_backoff=5_000,
    max_backoff=300_000,
    time_limit=3_600_000,
)
def finalize_campaign(campaign_id: int, token: str | None = None):
    """Finalize one FINALIZING campaign, from its last committed step to CLOSED."""
    with connection():
        now = utcnow()
        lifecycle_beat(now, {"finalizing": campaign_id})
        try:
            done = finalize(campaign_id, now, token, ami=get_pool_ami(get_settings()))
        except Exception as exc:
            record_failure(campaign_id, "finalize", exc, now)
            raise
    log.info("campaign=%s finalize run ended at step %r", campaign_id, done)
    if done == CLOSE:
        _announce_close(campaign_id)


def _announce_close(campaign_id: int) -> None:
    """Dispatch the close's webhooks and mail now, not at the next minute (a side hook)."""
    try:
        dispatch_outbox.send()
    except Exception:  # the minute's kick dispatches them anyway
        log.exception("campaign=%s could not kick the outbox dispatcher", campaign_id)
