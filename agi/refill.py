"""Nudging the dialer when a call's end is stored, so its slot is refilled at once.

The AGI daemons and the UserEvent recorder hand every batch they committed to
``Nudger.stored``; for each campaign with a ``hangup`` or ``failed-*`` among
them, a ``refill_campaign`` message goes to the ``dialing`` queue
(``tasks.refill``), at most one per campaign every ``min_interval`` seconds (20
ms by default; the ends in between ride on the same refill, and the dialer runs
one refill per campaign at a time, a nudge meanwhile making it run once more).
Best effort and never in the way: the messages are published by a thread of
their own over one pika connection; when RabbitMQ is away they are dropped (the
tick chain refills at its next tick anyway) and the connection is tried again
later. The message is Dramatiq's own encoding, published as Dramatiq's RabbitMQ
broker publishes (default exchange, routing key = queue, persistent): this
process need not build the workers' broker and middleware.
"""

from __future__ import annotations

import logging
import threading
import time

import dramatiq
import pika

from app.events import FAILED_PREFIX, HANGUP

log = logging.getLogger(__name__)

QUEUE = "dialing"  # tasks.broker.DIALING
ACTOR = "refill_campaign"  # tasks.refill.ACTOR_NAME
RETRY_CONNECT_S = 2.0


def is_end(name: str) -> bool:
    return name == HANGUP or name.startswith(FAILED_PREFIX)


class Nudger:
    """Throttled ``refill_campaign`` messages, one publishing thread."""

    def __init__(self, broker_url: str, min_interval: float = 0.02):
        self.broker_url = broker_url
        self.min_interval = min_interval
        self.sent = 0  # messages published (tests, metrics)
        self._pending: set[int] = set()
        self._last: dict[int, float] = {}
        self._cond = threading.Condition()
        self._thread = None
        self._stopping = False
        self._connection = None
        self._channel = None
        self._retry_at = 0.0

    def stored(self, events) -> None:
        """Called with the events of a committed batch (any thread); never raises."""
        ids = {int(e.campaign_id) for e in events if is_end(str(e.name))}
        if not ids:
            return
        with self._cond:
            self._pending |= ids
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="refill-nudger",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _due(self, now: float):
        """(campaigns to nudge now, seconds until the next one is due or None)."""
        due, wait = [], None
        for cid in list(self._pending):
            left = self._last.get(cid, -1e9) + self.min_interval - now
            if left <= 0:
                due.append(cid)
                self._pending.discard(cid)
                self._last[cid] = now
            else:
                wait = left if wait is None else min(wait, left)
        return due, wait

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    due, wait = self._due(time.monotonic())
                    if due:
                        break
                    self._cond.wait(wait)
                if self._stopping:
                    break
            self._publish(due)
        self._close()

    def _publish(self, campaign_ids) -> None:
        if time.monotonic() < self._retry_at:
            return  # RabbitMQ was away a moment ago: the ticks refill meanwhile
        # an idle connection may have been closed by the broker (missed heartbeats):
        # one more try on a fresh one before giving up for a while
        for attempt in (1, 2):
            try:
                self._send(self._open(), campaign_ids)
                return
            except Exception as exc:  # best effort: never in the way of the events
                self._close()
                if attempt == 2:
                    log.warning("refill nudge not sent (%d campaigns): %s: %s",
                                len(campaign_ids), type(exc).__name__, exc)
                    self._retry_at = time.monotonic() + RETRY_CONNECT_S

    def _send(self, channel, campaign_ids) -> None:
        for cid in campaign_ids:
            body = dramatiq.Message(queue_name=QUEUE, actor_name=ACTOR, args=(cid,), kwargs={},
                                    options={}).encode()
            channel.basic_publish(exchange="", routing_key=QUEUE, body=body,
                                  properties=pika.BasicProperties(delivery_mode=2))
            self.sent += 1

    def _open(self):
        if self._channel is None or not self._channel.is_open:
            params = pika.URLParameters(self.broker_url)
            params.socket_timeout = 2
            params.blocked_connection_timeout = 2
            params.connection_attempts = 1
            self._connection = pika.BlockingConnection(params)
            self._channel = self._connection.channel()
        return self._channel

    def _close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                pass
