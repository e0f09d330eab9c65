"""Dramatiq actors. The workers (``dramatiq tasks -Q ...``) and the scheduler
(``python -m tasks.scheduler``, periodiq) import this package, so it registers
every actor; a worker's ``-Q`` chooses which queues it consumes."""

from tasks.broker import broker  # noqa: F401  (set the broker before any actor)
from tasks import (  # noqa: F401,E402
    dialing, draining, finalizing, importing, refill, schedules, tts, webhooks)
