"""Dramatiq actors. ``dramatiq tasks`` and ``periodiq tasks`` import this package,
so it registers every actor; a worker's ``-Q`` chooses which queues it consumes."""

from tasks.broker import broker  # noqa: F401  (set the broker before any actor)
from tasks import dialing, draining, finalizing, importing, schedules  # noqa: F401,E402
