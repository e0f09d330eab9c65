"""The AGI side of the refill: a refill_campaign message per campaign whose call ended, throttled."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pika

from agi.refill import Nudger
from app.config import get_settings
from tests.waiting import wait_until


def ev(campaign_id, name):
    return SimpleNamespace(campaign_id=campaign_id, name=name)


def messages(broker_url):
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        found = []
        while True:
            _, _, body = channel.basic_get("dialing", auto_ack=True)
            if body is None:
                return found
            found.append(json.loads(body))
    finally:
        connection.close()


def test_it_sends_one_refill_per_campaign_with_an_end_and_throttles_the_next(broker):
    url = get_settings().broker_url
    broker.get_queue_message_counts("dialing")  # declared as Dramatiq declares it
    nudger = Nudger(url, min_interval=0.5)
    try:
        began = time.monotonic()
        nudger.stored([ev(7, "hangup"), ev(7, "failed-busy"), ev(8, "failed-congestion"),
                       ev(9, "answered"), ev(9, "dtmf-1")])
        wait_until(lambda: nudger.sent == 2, 10, "two nudges")
        nudger.stored([ev(7, "hangup")])
        wait_until(lambda: nudger.sent == 3, 10, "the throttled nudge")
        took = time.monotonic() - began
        assert took >= 0.5, took  # not before its campaign's interval ran out
        got = wait_until(lambda: (lambda m: m if len(m) == 3 else None)(messages(url)) or None,
                         10, "three messages on the dialing queue")
    finally:
        nudger.stop()
    assert sorted(m["args"][0] for m in got) == [7, 7, 8]
    assert {(m["actor_name"], m["queue_name"]) for m in got} == {("refill_campaign", "dialing")}


def test_it_drops_nudges_while_rabbitmq_is_away_and_never_raises():
    nudger = Nudger("amqp://guest:guest@127.0.0.1:1/%2F", min_interval=0.0)
    try:
        nudger.stored([ev(1, "hangup")])
        wait_until(lambda: nudger._retry_at > 0, 10, "the failed publish")
        assert nudger.sent == 0
    finally:
        nudger.stop()
