"""Rate limiting per API token: a token bucket in this process's memory.

Each token holds up to ``burst`` requests and refills at ``per_second``. In
memory on purpose: counting in the database would turn every read into a write
and make the API slow down with the dialer's own writes; the cost is that each
web worker process keeps its own buckets (with N gunicorn workers a client may
reach N times the rate), which is fine for a limit that keeps one runaway
client from crowding out the rest.
"""

from __future__ import annotations

import math
import threading
import time


class TokenBuckets:
    """Buckets by key; ``take`` answers 0 (go on) or the seconds to wait."""

    def __init__(self, burst: int, per_second: float, clock=time.monotonic):
        self.burst, self.per_second, self.clock = burst, per_second, clock
        self._buckets: dict = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key) -> int:
        """Spend one request of ``key``'s bucket; return 0, or the whole seconds until it may."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.per_second))
