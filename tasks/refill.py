"""The ``refill`` actor on the ``dialing`` queue: fill freed slots once a call's end is stored.

The AGI daemons and the UserEvent recorder send it (``agi.refill.Nudger``,
throttled per campaign); the work is ``app.dialer.refill``. Within one worker
process a campaign has at most one refill running: a nudge that arrives
meanwhile marks it to run once more when it is done, instead of a second
refill beside it (nothing freed is missed, and nothing piles up).
"""

from __future__ import annotations

import logging
import threading

import dramatiq

from tasks.broker import DIALING, broker  # noqa: F401  (sets the broker first)

from app.clock import utcnow
from app.config import get_settings
from app.db import connection
from app.dialer.refill import refill
from app.pbx.poolami import get_pool_ami

log = logging.getLogger(__name__)

ACTOR_NAME = "refill_campaign"
MAX_ROUNDS = 20  # rounds one message may run while nudges keep arriving

_running: dict[int, bool] = {}  # campaign -> nudged again while running
_lock = threading.Lock()


@dramatiq.actor(actor_name=ACTOR_NAME, queue_name=DIALING, max_retries=0, time_limit=60_000)
def refill_campaign(campaign_id: int):
    """Refill one campaign's freed slots now (see the module docstring)."""
    campaign_id = int(campaign_id)
    with _lock:
        if campaign_id in _running:
            _running[campaign_id] = True
            return
        _running[campaign_id] = False
    try:
        for _ in range(MAX_ROUNDS):
            settings = get_settings()
            with connection():
                refill(campaign_id, utcnow(), get_pool_ami(settings), settings)
            with _lock:
                if not _running[campaign_id]:
                    break
                _running[campaign_id] = False
    finally:
        with _lock:
            _running.pop(campaign_id, None)
