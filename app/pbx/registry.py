"""The AMI connections of a process to the PBXs of the pool: one per PBX, reused, with down/up.

Each PBX gets one ``AmiClient`` (which reconnects by itself with exponential
backoff); it is rebuilt only when the PBX's address or login changes, and
closed when the PBX leaves the pool or is disabled. On top of the client, a
``Link`` remembers whether the PBX answered its last question: a PBX that did
not is ``down`` and is asked again only after its own backoff (or as soon as its
client reconnected), so a dead or hung PBX costs the dialer one timeout per
backoff step, not one per tick.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from app.pbx.ami.client import AmiClient

# backoff of a down PBX before the dialer asks it again (seconds, doubling)
RETRY_MIN_S = 0.5
RETRY_MAX_S = 30.0
# how long a probe of a down PBX may take: a hung one must not hold up a tick
PROBE_TIMEOUT_S = 1.0


@dataclass
class Link:
    """One PBX's connection and what the last question to it found."""

    pbx_id: int
    name: str
    key: tuple  # (host, port, user, secret, timeout): a change rebuilds the client
    client: AmiClient
    failures: int = 0  # questions in a row it did not answer
    retry_at: float = 0.0  # monotonic time before which a down PBX is not asked
    error: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def down(self) -> bool:
        return self.failures > 0

    def askable(self, clock: float) -> bool:
        """Whether to ask it now: it is up, its backoff ran out, or its client is back."""
        return not self.down or clock >= self.retry_at or self.client.connected

    def timeout(self, normal: float) -> float:
        return min(normal, PROBE_TIMEOUT_S) if self.down else normal

    def failed(self, error: str, clock: float) -> bool:
        """It did not answer; True when it was up until now."""
        was_up = not self.down
        self.failures += 1
        self.error = error
        self.retry_at = clock + min(RETRY_MAX_S, RETRY_MIN_S * 2 ** min(self.failures - 1, 16))
        return was_up

    def answered(self) -> bool:
        """It answered; True when it was down until now."""
        was_down = self.down
        self.failures, self.error, self.retry_at = 0, "", 0.0
        return was_down


class Registry:
    """The links of one process, by PBX id (thread-safe)."""

    def __init__(self, timeout: float, factory=AmiClient):
        self.timeout = timeout
        self._factory = factory
        self._links: dict[int, Link] = {}
        self._lock = threading.Lock()

    def links(self, rows) -> list[Link]:
        """The link of each PBX row (in order), built or rebuilt as needed; others closed."""
        stale = []
        with self._lock:
            wanted = {}
            for row in rows:
                key = (row.ami_host, int(row.ami_port), row.ami_user, row.ami_secret,
                       self.timeout)
                link = self._links.get(row.id)
                if link is None or link.key != key:
                    if link is not None:
                        stale.append(link)
                    client = self._factory(*key[:4], timeout=self.timeout, events="off",
                                           backoff_min=RETRY_MIN_S, backoff_max=RETRY_MAX_S,
                                           name=f"pbx-{row.name}")
                    link = Link(row.id, row.name, key, client)
                link.name = row.name
                wanted[row.id] = link
            stale.extend(link for pbx_id, link in self._links.items() if pbx_id not in wanted)
            self._links = wanted
            result = [wanted[row.id] for row in rows]
        for link in stale:
            link.client.close()
        return result

    def close(self) -> None:
        with self._lock:
            links, self._links = list(self._links.values()), {}
        for link in links:
            link.client.close()


_registry = None
_registry_pid = None
_registry_lock = threading.Lock()


def get_registry(timeout: float) -> Registry:
    """The process's registry (fork-safe: a forked worker builds its own connections)."""
    global _registry, _registry_pid
    with _registry_lock:
        if _registry is None or _registry_pid != os.getpid():
            _registry, _registry_pid = Registry(timeout), os.getpid()
        _registry.timeout = timeout  # AMI_TIMEOUT as read now: a change rebuilds the clients
        return _registry


def reset_registry() -> None:
    """Close every connection and forget them (tests; the pool changed under us)."""
    global _registry, _registry_pid
    with _registry_lock:
        registry, _registry, _registry_pid = _registry, None, None
    if registry is not None:
        registry.close()


def monotonic() -> float:
    return time.monotonic()
