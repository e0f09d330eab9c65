"""The Outbound views: endpoints (URL rule, secret made on create), deliveries, attempts, mails."""

from __future__ import annotations

from datetime import timedelta

from app.clock import utcnow
from app.models import User
from app.outbound.dispatch import fan_out
from app.outbound.endpoints import create_endpoint
from app.outbound.tables import (
    FAILED,
    STATE_CHANGED,
    MailMessage,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

from tests.admin.conftest import flashes


def test_it_creates_an_endpoint_with_a_fresh_secret_shown_in_its_details(
        app, no_csrf, operator_client):
    response = operator_client.post("/admin/webhookendpoint/new/", data={
        "url": "https://crm.example.com/hooks", "events": ["campaign.closed"], "active": "y",
        "description": "CRM"}, follow_redirects=True)
    endpoint = WebhookEndpoint.get()
    assert response.status_code == 200
    assert (endpoint.url, endpoint.events, endpoint.campaign_id) == (
        "https://crm.example.com/hooks", "campaign.closed", None)
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    details = operator_client.get(f"/admin/webhookendpoint/details/?id={endpoint.id}")
    assert endpoint.secret in details.get_data(as_text=True)


def test_it_refuses_an_endpoint_url_that_is_not_http(app, no_csrf, admin_client):
    response = admin_client.post("/admin/webhookendpoint/new/", data={
        "url": "file:///etc/passwd", "events": ["campaign.closed"]}, follow_redirects=True)
    assert WebhookEndpoint.select().count() == 0
    assert any("http or https only" in f for f in flashes(response))


def test_it_keeps_endpoints_and_their_secrets_from_viewers(app, viewer_client):
    create_endpoint("https://crm.example.com/hooks")
    assert viewer_client.get("/admin/webhookendpoint/").status_code == 403


def test_it_lists_deliveries_attempts_and_failed_mails_and_the_operations_page_shows_them(
        app, viewer_client):
    now = utcnow()
    create_endpoint("https://crm.example.com/hooks")
    (delivery_id,) = fan_out(STATE_CHANGED, 5, {"to": "PAUSED"}, now)
    WebhookDelivery.update(status=FAILED, attempts=8, last_error="timeout: timed out").execute()
    WebhookAttempt.create(delivery=delivery_id, number=8, at=now, outcome="timeout",
                          latency_ms=5003)
    MailMessage.create(campaign_id=5, recipients="ops@example.com", subject="s", status=FAILED,
                       attempts=8, last_error="ConnectionRefusedError: refused",
                       created_at=now - timedelta(minutes=1))

    deliveries = viewer_client.get("/admin/webhookdelivery/").get_data(as_text=True)
    attempts = viewer_client.get("/admin/webhookattempt/").get_data(as_text=True)
    mails = viewer_client.get("/admin/mail/").get_data(as_text=True)
    page = viewer_client.get("/admin/operations/").get_data(as_text=True)

    assert "timeout: timed out" in deliveries and "5003" in attempts
    assert "ConnectionRefusedError: refused" in mails
    outbound = page.split('id="outbound"')[1].split("</table>")[0]
    assert "failed=1" in outbound and "ConnectionRefusedError" in outbound
    assert "campaign 5: timeout: timed out" in outbound


def test_it_saves_a_user_email_and_refuses_a_malformed_one(app, no_csrf, admin_client, users):
    viewer = users["viewer"]
    form = {"username": "viewer", "role": "viewer", "active": "y"}
    admin_client.post(f"/admin/user/edit/?id={viewer.id}", data={**form, "email": "v@example.com"})
    assert User.get_by_id(viewer.id).email == "v@example.com"
    admin_client.post(f"/admin/user/edit/?id={viewer.id}", data={**form, "email": "not an address"})
    assert User.get_by_id(viewer.id).email == "v@example.com"
