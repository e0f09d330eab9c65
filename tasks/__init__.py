"""Dramatiq actors. ``dramatiq tasks`` and ``periodiq tasks`` import this package."""

from tasks.broker import broker  # noqa: F401  (set the broker before any actor)
