"""Back-office views of what goes out: webhook endpoints, deliveries and attempts, mails."""

from __future__ import annotations

import logging

from flask_admin.contrib.peewee.filters import FilterEqual
from flask_login import current_user
from wtforms import fields, validators

from app.web.admin.base import IdFilter, SecureModelView, utc_filters
from app.web.admin.records import ReadOnlyView
from app.outbound.endpoints import MAX_URL_LENGTH, validate_events, validate_url
from app.outbound.signing import new_secret
from app.outbound.tables import (
    DELIVERED,
    EVENT_TYPES,
    FAILED,
    PENDING,
    SENDING,
    MailMessage,
    WebhookAttempt,
    WebhookDelivery,
)
from app.users import ADMIN

log = logging.getLogger(__name__)

STATUS_OPTIONS = [(s, s) for s in (PENDING, SENDING, DELIVERED, FAILED)]
OPERATORS = (ADMIN, "operator")


class WebhookEndpointView(SecureModelView):
    """Operators and admins manage endpoints; the secret is made here and shown to them only."""

    roles = OPERATORS
    column_list = ("id", "url", "campaign_id", "events", "active", "description", "created_at")
    column_details_list = (*column_list, "secret")
    column_labels = {"campaign_id": "Campaign (empty: every campaign)"}
    column_descriptions = {
        "secret": "Signs every delivery (Callcast-Signature); give it to the receiver."}
    form_columns = ("url", "campaign_id", "events", "active", "description")
    form_overrides = {"events": fields.SelectMultipleField}
    form_args = {
        "url": {"validators": [validators.DataRequired(), validators.Length(max=MAX_URL_LENGTH)]},
        "events": {"choices": [fields.SelectChoice(e) for e in EVENT_TYPES],
                   "default": list(EVENT_TYPES)},
        "campaign_id": {"validators": [validators.Optional(),
                                       validators.NumberRange(min=1, max=2**31 - 1)]},
    }

    def on_form_prefill(self, form, id):
        form.events.data = [e for e in EVENT_TYPES if e in self.get_one(id).event_types]

    def on_model_change(self, form, model, is_created):
        model.url = validate_url(model.url)
        model.events = validate_events(form.events.data or [])
        if is_created:
            model.secret = new_secret()
        log.info("webhook endpoint saved url=%s campaign=%s by=%s", model.url, model.campaign_id,
                 current_user.username)


class WebhookDeliveryView(ReadOnlyView):
    column_list = ("id", "event_type", "campaign_id", "endpoint", "status", "attempts",
                   "next_attempt_at", "delivered_at", "last_error", "event_id")
    column_details_list = (*column_list, "created_at", "body")
    column_default_sort = ("id", True)
    column_sortable_list = ("id", "created_at")
    column_filters = (
        IdFilter(WebhookDelivery.campaign_id, "Campaign"),
        IdFilter(WebhookDelivery.endpoint, "Endpoint"),
        FilterEqual(WebhookDelivery.status, "Status", options=STATUS_OPTIONS),
        FilterEqual(WebhookDelivery.event_type, "Event", options=[(e, e) for e in EVENT_TYPES]),
        *utc_filters(WebhookDelivery.created_at, "Created"),
    )
    column_formatters = {"endpoint": lambda v, c, m, n: m.endpoint_id}


class WebhookAttemptView(ReadOnlyView):
    column_list = ("id", "delivery", "number", "at", "outcome", "status_code", "latency_ms",
                   "error")
    column_default_sort = ("id", True)
    column_sortable_list = ("id", "at", "latency_ms")
    column_filters = (
        IdFilter(WebhookAttempt.delivery, "Delivery"),
        FilterEqual(WebhookAttempt.outcome, "Outcome",
                    options=[(o, o) for o in ("ok", "http_error", "timeout", "error")]),
        *utc_filters(WebhookAttempt.at, "At"),
    )
    column_formatters = {"delivery": lambda v, c, m, n: m.delivery_id}


class MailView(ReadOnlyView):
    column_list = ("id", "campaign_id", "recipients", "subject", "status", "attempts",
                   "next_attempt_at", "sent_at", "last_error")
    column_default_sort = ("id", True)
    column_sortable_list = ("id", "created_at")
    column_filters = (
        IdFilter(MailMessage.campaign_id, "Campaign"),
        FilterEqual(MailMessage.status, "Status", options=STATUS_OPTIONS),
    )
