"""Webhooks and the campaign mail through a real Dramatiq worker on RabbitMQ (the session vhost).

The core writes outbox rows; ``dispatch_outbox`` (sent here as the scheduler's
minute kick would) fans them out, ``deliver_webhook`` and
``send_campaign_mail`` run on their own queues with their backoff.
"""

from __future__ import annotations

import json
from datetime import timedelta

from app.campaigns import activation
from app.clock import utcnow
from app.models import Campaign
from app.outbound.endpoints import create_endpoint
from app.outbound.signing import EVENT_ID_HEADER, HEADER, verify
from app.outbound.tables import DELIVERED, MailMessage, WebhookAttempt, WebhookDelivery
from tasks.broker import MAIL, WEBHOOKS
from tasks.webhooks import deliver_webhook, dispatch_outbox, kick_outbox, send_campaign_mail
from tests.campaign_end_support import T0
from tests.outbound.receivers import SmtpSink, WebhookReceiver
from tests.outbound.test_campaign_mail import closed_campaign
from tests.waiting import wait_until
from dialing_support import make_campaign


def join(broker, worker, *queues):
    for queue in queues:
        broker.join(queue, timeout=30_000)
    worker.join()


def test_it_delivers_state_changes_through_a_500_and_a_timeout_once(
        db, outbound_env, broker, worker):
    with WebhookReceiver([500, "slow"]) as receiver:
        endpoint = create_endpoint(receiver.url)
        campaign = make_campaign(["+15550000001"])
        activation.activate(campaign.id, T0, ami=None)
        activation.pause(campaign.id, T0 + timedelta(seconds=1))

        dispatch_outbox.send()
        deliveries = wait_until(lambda: (lambda rows: rows if len(rows) >= 2 else None)(
            list(WebhookDelivery.select().order_by(WebhookDelivery.id))), what="two deliveries")
        wait_until(lambda: all(d.status == DELIVERED for d in WebhookDelivery.select()),
                   timeout=30, what="both delivered")
        join(broker, worker, WEBHOOKS)
        # a redelivered message, and the minute's kick: nothing goes out twice
        for delivery in deliveries:
            deliver_webhook.send(delivery.id)
        kick_outbox.send()
        join(broker, worker, WEBHOOKS)

    assert len(deliveries) == 2
    ids = [headers[EVENT_ID_HEADER] for headers, _ in receiver.received]
    delivered = {headers[EVENT_ID_HEADER]: (headers, body) for headers, body in receiver.received}
    assert len(receiver.received) == 4 and len(delivered) == 2  # 2 events + a 500 + a timeout
    for headers, body in delivered.values():
        assert verify(endpoint.secret, headers[HEADER], body, now=utcnow().timestamp())
    moves = sorted((json.loads(b)["data"]["from"], json.loads(b)["data"]["to"])
                   for _, b in delivered.values())
    assert moves == [("ACTIVE", "PAUSED"), ("DRAFT", "ACTIVE")]
    outcomes = [a.outcome for a in WebhookAttempt.select().order_by(WebhookAttempt.id)]
    assert sorted(outcomes) == ["http_error", "ok", "ok", "timeout"]
    assert ids.count(ids[0]) == 2  # the first event was tried again under its own id
    assert Campaign.get_by_id(campaign.id).state == "PAUSED"


def test_it_mails_a_closed_campaign_through_the_mail_queue(
        db, outbound_env, broker, worker, tmp_path):
    with SmtpSink() as sink:
        outbound_env(SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_SECURITY="none",
                     EXPORT_DIR=tmp_path)
        campaign = closed_campaign()
        dispatch_outbox.send()
        wait_until(lambda: sink.messages, timeout=30, what="the mail")
        join(broker, worker, WEBHOOKS, MAIL)
        send_campaign_mail.send(MailMessage.get().id)  # redelivered: not sent again
        join(broker, worker, MAIL)

    (rcpt, message), = sink.messages
    assert rcpt == ["owner@example.com"]
    assert f"Campaign {campaign.id} closed" in message["Subject"]
    assert [a.get_filename() for a in message.iter_attachments()] == [
        f"campaign-{campaign.id}-report.csv"]
    assert MailMessage.get().status == DELIVERED
