"""One webhook delivery attempt: claim, POST with the signature, log the attempt, settle.

Requests go only to the endpoint's URL as the operator stored it: http(s)
only, no redirects followed, no proxy from the environment, a bounded timeout,
at most 64 KiB of the answer read.
"""

from __future__ import annotations

import http.client
import logging
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from app.config import get_settings
from app.db import database
from app.outbound import attempts
from app.outbound.endpoints import validate_url
from app.outbound.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, HEADER, header_value
from app.outbound.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.errors import ValidationError

log = logging.getLogger(__name__)

OK, HTTP_ERROR, TIMEOUT, ERROR = "ok", "http_error", "timeout", "error"
USER_AGENT = "Callcast-Webhooks/1"
MAX_ANSWER_BYTES = 65536


@dataclass(frozen=True)
class Answer:
    """What one POST got back."""

    outcome: str
    status_code: int | None = None
    latency_ms: int = 0
    error: str = ""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is the answer: deliveries go only where the operator said


OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)


def deliver(delivery_id: int, now, settings=None) -> attempts.Claim:
    """Make one attempt of a delivery, unless it is done, early, or held by another attempt."""
    settings = settings or get_settings()
    claimed = attempts.claim(WebhookDelivery, delivery_id, now,
                             lease_seconds=settings.webhook_timeout * 2 + 30)
    if claimed.action != attempts.SENT:
        return claimed
    delivery = claimed.row
    endpoint = WebhookEndpoint.get_or_none(WebhookEndpoint.id == delivery.endpoint_id)
    answer = post(endpoint, delivery, now, settings.webhook_timeout)
    with database.atomic():
        WebhookAttempt.insert(delivery=delivery.id, number=delivery.attempts + 1, at=now,
                              outcome=answer.outcome, status_code=answer.status_code,
                              latency_ms=answer.latency_ms, error=answer.error[:300]).execute()
        done = attempts.settle(
            WebhookDelivery, claimed, answer.outcome == OK, _summary(answer), now,
            settings.webhook_max_attempts,
            (settings.webhook_backoff_ms, settings.webhook_backoff_max_ms), delivered_at=now)
    log.info("webhook delivery=%s event=%s endpoint=%s attempt=%s %s code=%s %sms -> %s",
             delivery.id, delivery.event_id, delivery.endpoint_id, delivery.attempts + 1,
             answer.outcome, answer.status_code, answer.latency_ms, done.action)
    return done


def post(endpoint, delivery, now, timeout: float) -> Answer:
    """POST the delivery's body, signed, to its endpoint; what came back (never raises)."""
    if endpoint is None or not endpoint.active:
        return Answer(ERROR, error="endpoint deleted or disabled")
    try:
        url = validate_url(endpoint.url)
    except ValidationError as exc:
        return Answer(ERROR, error=str(exc))
    body = delivery.body.encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": USER_AGENT,
        HEADER: header_value(endpoint.secret, int(now.timestamp()), body),
        EVENT_ID_HEADER: delivery.event_id, EVENT_TYPE_HEADER: delivery.event_type,
    })
    started = time.monotonic()
    try:
        with OPENER.open(request, timeout=timeout) as response:
            response.read(MAX_ANSWER_BYTES)
            code = response.status
        outcome, error = (OK, "") if 200 <= code < 300 else (HTTP_ERROR, f"HTTP {code}")
    except urllib.error.HTTPError as exc:
        code, outcome, error = exc.code, HTTP_ERROR, f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        code = None
        timed_out = isinstance(exc.reason, (TimeoutError, socket.timeout))
        outcome, error = (TIMEOUT, "timed out") if timed_out else (ERROR, str(exc.reason))
    except (TimeoutError, socket.timeout):
        code, outcome, error = None, TIMEOUT, "timed out"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        code, outcome, error = None, ERROR, f"{type(exc).__name__}: {exc}"
    latency = int((time.monotonic() - started) * 1000)
    return Answer(outcome, code, latency, error)


def _summary(answer: Answer) -> str:
    return "" if answer.outcome == OK else f"{answer.outcome}: {answer.error}"
