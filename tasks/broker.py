"""The one place that builds the broker, and the queue names. Actor modules import this first."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from periodiq import PeriodiqMiddleware

from app.config import get_settings

DIALING = "dialing"
DRAIN = "drain"
FINALIZE = "finalize"
DEFAULT = "default"
WEBHOOKS = "webhooks"  # outbox dispatch and webhook deliveries: a slow receiver waits here only
MAIL = "mail"  # the campaign-closed mail: a slow SMTP server waits here only
TTS = "tts"  # speech synthesis of personalised messages (tasks.tts), ahead of dialing
QUEUES = (DIALING, DRAIN, FINALIZE, DEFAULT, WEBHOOKS, MAIL, TTS)

# Imported after the queue names: the middleware maps them to heartbeat kinds.
from tasks.middleware import setup_middleware  # noqa: E402

broker = RabbitmqBroker(url=get_settings().broker_url)
broker.add_middleware(PeriodiqMiddleware(skip_delay=30))
setup_middleware(broker)  # heartbeats, Prometheus on METRICS_PORT, worker process set-up
dramatiq.set_broker(broker)
