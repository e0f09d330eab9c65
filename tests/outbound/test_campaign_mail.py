"""The campaign-closed mail and event: finalization records them, a real SMTP server gets the mail."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from app.finalization import finalize
from app.models import CLOSED, FINALIZING, Campaign, CampaignReport, User
from app.outbound import attempts
from app.outbound.dispatch import dispatch
from app.outbound.endpoints import create_endpoint
from app.outbound.mail import send_mail
from app.outbound.tables import CLOSED as CLOSED_EVENT
from app.outbound.tables import DELIVERED, FAILED, MailMessage, OutboxEvent, WebhookDelivery
from tests.campaign_end_support import T0, call, contact_ids, make_campaign
from tests.outbound.receivers import SmtpSink
from tests.waiting import free_port

NOW = T0 + timedelta(hours=5)


def closed_campaign(email="owner@example.com"):
    """A campaign of three contacts (one answered) finalized to CLOSED, created by a user."""
    owner = User.create(username="owner", password_hash="x", role="operator", email=email)
    campaign = make_campaign(3, state=FINALIZING, created_by=owner.id)
    c = contact_ids(campaign)
    call(campaign, c[0], 1, [("answered", 0), ("dtmf-1", 5), ("hangup", 30)], outcome="answered")
    call(campaign, c[1], 1, [("failed-busy", 3)], outcome="busy")
    assert finalize(campaign.id, NOW) == "closed"
    return campaign


def smtp(outbound_env, tmp_path, port, **more):
    return outbound_env(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SECURITY="none",
                        MAIL_TO="ops@example.com, owner@example.com", EXPORT_DIR=tmp_path,
                        MAIL_MAX_ATTEMPTS=2, **more)


def test_it_records_the_close_with_its_report_for_webhooks(db, outbound_env, tmp_path):
    outbound_env(EXPORT_DIR=tmp_path)
    endpoint = create_endpoint("https://crm.example.com/hooks", events=[CLOSED_EVENT])
    campaign = closed_campaign()

    (row,) = OutboxEvent.select().where(OutboxEvent.kind == CLOSED_EVENT)
    assert row.campaign_id == campaign.id and row.payload["csv"] is True
    assert row.payload["report"]["contacts"] == 3 and row.payload["report"]["answered"] == 1
    dispatch(NOW)
    (delivery,) = WebhookDelivery.select().where(WebhookDelivery.endpoint == endpoint.id)
    assert json.loads(delivery.body)["data"]["report"]["contacts"] == 3


def test_it_mails_the_owner_and_the_list_the_report_with_the_csv(db, outbound_env, tmp_path):
    with SmtpSink() as sink:
        settings = smtp(outbound_env, tmp_path, sink.port)
        campaign = closed_campaign()
        (mail_id,) = dispatch(NOW).mails
        assert dispatch(NOW).mails == []  # one mail per close
        done = send_mail(mail_id, NOW, settings)
        again = send_mail(mail_id, NOW + timedelta(seconds=1), settings)

    assert done.action == attempts.DONE and again.action == attempts.DONE
    (rcpt, message), = sink.messages
    assert sorted(rcpt) == ["ops@example.com", "owner@example.com"]
    assert message["Subject"] == f"Campaign {campaign.id} closed: end test"
    text = message.get_body(("plain",)).get_content()
    assert "contacts   3" in text and "answered   1" in text
    (attachment,) = list(message.iter_attachments())
    csv = Path(CampaignReport.get(CampaignReport.campaign == campaign.id).csv_path)
    assert attachment.get_filename() == f"campaign-{campaign.id}-report.csv"
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_payload(decode=True) == csv.read_bytes()
    mail = MailMessage.get_by_id(mail_id)
    assert (mail.status, mail.attempts, mail.sent_at) == (DELIVERED, 1, NOW)


def test_it_links_a_csv_larger_than_the_attachment_limit(db, outbound_env, tmp_path):
    with SmtpSink() as sink:
        settings = smtp(outbound_env, tmp_path, sink.port, MAIL_ATTACH_MAX_BYTES=10,
                        PUBLIC_URL="https://callcast.example.com/")
        campaign = closed_campaign(email="")
        (mail_id,) = dispatch(NOW).mails
        send_mail(mail_id, NOW, settings)

    (rcpt, message), = sink.messages
    assert sorted(rcpt) == ["ops@example.com", "owner@example.com"]  # MAIL_TO only
    assert list(message.iter_attachments()) == []
    assert (f"https://callcast.example.com/admin/campaign/report/{campaign.id}.csv"
            in message.get_body(("plain",)).get_content())


def test_it_retries_a_failed_send_and_shows_why_then_gives_up(db, outbound_env, tmp_path):
    settings = smtp(outbound_env, tmp_path, free_port())  # nothing listens there
    closed_campaign()
    (mail_id,) = dispatch(NOW).mails

    first = send_mail(mail_id, NOW, settings)
    second = send_mail(mail_id, NOW + timedelta(seconds=1), settings)

    assert (first.action, first.retry_in_ms) == (attempts.RETRY, 50)
    assert second.action == attempts.DONE
    mail = MailMessage.get_by_id(mail_id)
    assert (mail.status, mail.attempts) == (FAILED, 2)
    assert "ConnectionRefusedError" in mail.last_error


def test_it_queues_no_mail_when_smtp_is_off(db, outbound_env, tmp_path):
    outbound_env(EXPORT_DIR=tmp_path, MAIL_TO="ops@example.com")
    campaign = closed_campaign()
    assert Campaign.get_by_id(campaign.id).state == CLOSED
    assert dispatch(NOW).mails == [] and MailMessage.select().count() == 0
