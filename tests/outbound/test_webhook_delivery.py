"""Webhook deliveries against a real HTTP server on 127.0.0.1: signature, retries, cap, no repeats."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from app.errors import ValidationError
from app.outbound import attempts
from app.outbound.delivery import deliver
from app.outbound.dispatch import fan_out
from app.outbound.endpoints import create_endpoint, validate_url
from app.outbound.signing import EVENT_ID_HEADER, HEADER, verify
from app.outbound.tables import (
    DELIVERED,
    FAILED,
    PENDING,
    STATE_CHANGED,
    WebhookAttempt,
    WebhookDelivery,
)
from tests.campaign_end_support import T0
from tests.outbound.receivers import WebhookReceiver

DATA = {"campaign": {"id": 7, "name": "spring"}, "from": "ACTIVE", "to": "PAUSED"}


def one_delivery(url, campaign_id=7):
    endpoint = create_endpoint(url)
    (delivery_id,) = fan_out(STATE_CHANGED, campaign_id, DATA, T0)
    return endpoint, delivery_id


def log_of(delivery_id):
    return [(a.number, a.outcome, a.status_code) for a in WebhookAttempt.select()
            .where(WebhookAttempt.delivery == delivery_id).order_by(WebhookAttempt.number)]


def test_it_posts_a_signed_event_the_receiver_can_verify(db, outbound_env):
    with WebhookReceiver() as receiver:
        endpoint, delivery_id = one_delivery(receiver.url)
        done = deliver(delivery_id, T0)

    assert done.action == attempts.DONE
    (headers, body), = receiver.received
    event = json.loads(body)
    assert event["type"] == STATE_CHANGED and event["data"] == DATA
    assert headers[EVENT_ID_HEADER] == event["id"]
    assert verify(endpoint.secret, headers[HEADER], body, now=T0.timestamp())
    assert not verify(endpoint.secret, headers[HEADER], body + b" ", now=T0.timestamp())
    assert not verify("whsec_other", headers[HEADER], body, now=T0.timestamp())
    assert not verify(endpoint.secret, headers[HEADER], body, now=T0.timestamp() + 3600)
    delivery = WebhookDelivery.get_by_id(delivery_id)
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == (DELIVERED, 1, T0)
    assert log_of(delivery_id) == [(1, "ok", 200)]


def test_it_retries_after_a_500_with_backoff_and_logs_each_attempt(db, outbound_env):
    with WebhookReceiver([500, 503]) as receiver:
        _, delivery_id = one_delivery(receiver.url)
        first = deliver(delivery_id, T0)
        early = deliver(delivery_id, T0)  # a redelivered message before its turn
        second = deliver(delivery_id, T0 + timedelta(milliseconds=50))
        third = deliver(delivery_id, T0 + timedelta(milliseconds=150))

    assert (first.action, first.retry_in_ms) == (attempts.RETRY, 50)
    assert early.action == attempts.RETRY and len(receiver.received) == 3
    assert (second.action, second.retry_in_ms) == (attempts.RETRY, 100)
    assert third.action == attempts.DONE
    assert log_of(delivery_id) == [(1, "http_error", 500), (2, "http_error", 503), (3, "ok", 200)]
    ids = {headers[EVENT_ID_HEADER] for headers, _ in receiver.received}
    assert len(ids) == 1  # the same event id every time: the receiver can drop repeats
    assert WebhookDelivery.get_by_id(delivery_id).status == DELIVERED


def test_it_gives_up_a_slow_receiver_at_the_timeout_and_tries_again(db, outbound_env):
    with WebhookReceiver(["slow"]) as receiver:
        _, delivery_id = one_delivery(receiver.url)
        started = time.monotonic()
        first = deliver(delivery_id, T0)
        took = time.monotonic() - started
        second = deliver(delivery_id, T0 + timedelta(seconds=1))

    assert first.action == attempts.RETRY and took < 3
    assert second.action == attempts.DONE
    assert [row[:2] for row in log_of(delivery_id)] == [(1, "timeout"), (2, "ok")]


def test_it_stops_at_the_cap_and_marks_the_delivery_failed(db, outbound_env):
    with WebhookReceiver([500] * 10) as receiver:
        _, delivery_id = one_delivery(receiver.url)
        now, results = T0, []
        for _ in range(6):
            results.append(deliver(delivery_id, now))
            now += timedelta(seconds=1)

    assert len(receiver.received) == 4  # WEBHOOK_MAX_ATTEMPTS
    assert [r.action for r in results] == [attempts.RETRY] * 3 + [attempts.DONE] * 3
    delivery = WebhookDelivery.get_by_id(delivery_id)
    assert (delivery.status, delivery.attempts) == (FAILED, 4)
    assert delivery.last_error == "http_error: HTTP 500"


def test_it_never_posts_an_event_twice_once_it_is_delivered(db, outbound_env):
    with WebhookReceiver() as receiver:
        _, delivery_id = one_delivery(receiver.url)
        results = [deliver(delivery_id, T0 + timedelta(seconds=i)) for i in range(3)]

    assert len(receiver.received) == 1
    assert [r.action for r in results] == [attempts.DONE] * 3


def test_it_does_not_follow_a_redirect_elsewhere(db, outbound_env):
    with WebhookReceiver() as elsewhere, WebhookReceiver([(302, "x")]) as receiver:
        receiver.script = [(302, elsewhere.url)]
        _, delivery_id = one_delivery(receiver.url)
        done = deliver(delivery_id, T0)

    assert done.action == attempts.RETRY
    assert elsewhere.received == []
    assert log_of(delivery_id) == [(1, "http_error", 302)]


def test_it_holds_a_delivery_while_another_attempt_has_it(db, outbound_env):
    _, delivery_id = one_delivery("http://127.0.0.1:9/never")
    held = attempts.claim(WebhookDelivery, delivery_id, T0, lease_seconds=60)
    assert held.action == attempts.SENT
    assert deliver(delivery_id, T0 + timedelta(seconds=1)).action == attempts.BUSY
    # the holder died: once its lease runs out the next message takes over
    taken = attempts.claim(WebhookDelivery, delivery_id, T0 + timedelta(seconds=61), 60)
    assert taken.action == attempts.SENT
    assert WebhookDelivery.get_by_id(delivery_id).status != PENDING


@pytest.mark.parametrize("url", [
    "ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "gopher://h/",
    "http://", "https:///path", "http://user:pw@example.com/", "http://example.com/a b",
    "http://example.com:99999/", "http://example.com/" + "a" * 500, "", "http://é.com/",
    "http://example.com/\nHost: evil",
])
def test_it_refuses_urls_deliveries_must_not_go_to(url):
    with pytest.raises(ValidationError):
        validate_url(url)


def test_it_accepts_http_and_https_urls():
    assert validate_url(" https://crm.example.com:8443/hooks?x=1 ") == (
        "https://crm.example.com:8443/hooks?x=1")
    assert validate_url("http://10.0.0.5/callcast") == "http://10.0.0.5/callcast"
