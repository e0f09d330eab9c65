"""tasks.broker through a real RabbitMQ (this session's throwaway vhost) and a real worker."""

from __future__ import annotations

import os
import secrets
import threading
import time

import dramatiq
from periodiq import PeriodiqMiddleware

from tasks.broker import DEFAULT, DIALING, DRAIN, FINALIZE, MAIL, QUEUES, WEBHOOKS
from tasks.broker import broker as real_broker

TEST_QUEUE = "callcast-test-echo"
DEADLINE_SECONDS = 15


class Inbox:
    """What the test actors received, keyed by a per-test token."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items: dict[str, list] = {}
        self._arrived = threading.Condition(self._lock)

    def put(self, token, value):
        with self._arrived:
            self._items.setdefault(token, []).append(value)
            self._arrived.notify_all()

    def wait(self, token, count=1, timeout=DEADLINE_SECONDS):
        with self._arrived:
            self._arrived.wait_for(lambda: len(self._items.get(token, ())) >= count, timeout)
            return list(self._items.get(token, ()))


inbox = Inbox()
attempts: dict[str, int] = {}


@dramatiq.actor(broker=real_broker, queue_name=TEST_QUEUE, max_retries=0)
def echo(token, payload):
    inbox.put(token, payload)


@dramatiq.actor(broker=real_broker, queue_name=TEST_QUEUE, max_retries=3, min_backoff=10, max_backoff=50)
def fail_once(token):
    attempts[token] = attempts.get(token, 0) + 1
    if attempts[token] == 1:
        raise RuntimeError(f"first attempt of {token} fails on purpose")
    inbox.put(token, attempts[token])


def test_it_names_the_design_queues():
    assert (DIALING, DRAIN, FINALIZE, DEFAULT) == ("dialing", "drain", "finalize", "default")
    assert (WEBHOOKS, MAIL) == ("webhooks", "mail")
    assert set(QUEUES) == {"dialing", "drain", "finalize", "default", "webhooks", "mail", "tts"}


def test_it_builds_one_rabbitmq_broker_with_periodiq_on_the_test_vhost():
    assert dramatiq.get_broker() is real_broker
    assert any(isinstance(m, PeriodiqMiddleware) for m in real_broker.middleware)
    vhost = real_broker.parameters.virtual_host
    assert vhost.startswith("callcast-test-")
    assert os.environ["BROKER_URL"].endswith("/" + vhost)


def test_it_keeps_a_message_in_rabbitmq_until_a_worker_takes_it(broker):
    token = secrets.token_hex(4)
    echo.send(token, {"n": 1})

    # Publishing is asynchronous: poll RabbitMQ's count until it shows the message.
    deadline = time.monotonic() + DEADLINE_SECONDS
    while broker.get_queue_message_counts(TEST_QUEUE) != (1, 0, 0):
        assert time.monotonic() < deadline, broker.get_queue_message_counts(TEST_QUEUE)
        broker.connection.sleep(0.02)
    assert inbox.wait(token, timeout=0) == []


def test_it_delivers_a_message_through_rabbitmq_to_a_real_worker(broker, worker):
    token = secrets.token_hex(4)
    echo.send(token, {"campaign": 7, "digits": "12#"})

    assert inbox.wait(token) == [{"campaign": 7, "digits": "12#"}]
    broker.join(TEST_QUEUE, timeout=DEADLINE_SECONDS * 1000)
    worker.join()
    assert broker.get_queue_message_counts(TEST_QUEUE) == (0, 0, 0)


def test_it_retries_a_failed_message_through_the_delay_queue(broker, worker):
    token = secrets.token_hex(4)
    fail_once.send(token)

    assert inbox.wait(token) == [2]
    broker.join(TEST_QUEUE, timeout=DEADLINE_SECONDS * 1000)
    worker.join()
    assert attempts[token] == 2
