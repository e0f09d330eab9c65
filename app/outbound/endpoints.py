"""Webhook endpoints: the URL rule, their creation and which ones want an event."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.errors import ValidationError
from app.outbound.signing import new_secret
from app.outbound.tables import EVENT_TYPES, WebhookEndpoint

MAX_URL_LENGTH = 500
SCHEMES = ("http", "https")


def validate_url(url: str) -> str:
    """The URL, stripped, when deliveries may go there.

    Raises:
        ValidationError: not http(s), no host, credentials in it, too long, or not one line.
    """
    url = (url or "").strip()
    if not url:
        raise ValidationError("url: a webhook needs a URL")
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(f"url: at most {MAX_URL_LENGTH} characters, got {len(url)}")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise ValidationError("url: one line of printable ASCII, no spaces (percent-encode them)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValidationError("url: not a URL (check the port)") from None
    if parts.scheme.lower() not in SCHEMES:
        raise ValidationError(f"url: http or https only, got {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise ValidationError("url: names no host")
    if parts.username or parts.password:
        raise ValidationError("url: no user or password in the URL; verify the signature instead")
    return url


def validate_events(events) -> str:
    """The event types as stored (comma-separated, known ones only).

    Raises:
        ValidationError: an unknown type, or none.
    """
    if isinstance(events, str):
        events = events.split(",")
    chosen = [e.strip() for e in events if e and e.strip()]
    unknown = [e for e in chosen if e not in EVENT_TYPES]
    if unknown:
        raise ValidationError(f"events: unknown {unknown[0][:40]!r}; "
                              f"one of {', '.join(EVENT_TYPES)}")
    if not chosen:
        raise ValidationError("events: choose at least one")
    return ",".join(e for e in EVENT_TYPES if e in chosen)


def create_endpoint(url: str, campaign_id: int | None = None, events=EVENT_TYPES,
                    description: str = "") -> WebhookEndpoint:
    """A new endpoint with a fresh secret (for one campaign, or every one when None)."""
    return WebhookEndpoint.create(
        url=validate_url(url), secret=new_secret(), campaign_id=campaign_id,
        events=validate_events(events), description=(description or "")[:200],
    )


def endpoints_for(event_type: str, campaign_id: int) -> list[WebhookEndpoint]:
    """The active endpoints that want ``event_type`` of that campaign (its own and global ones)."""
    query = WebhookEndpoint.select().where(
        WebhookEndpoint.active
        & (WebhookEndpoint.campaign_id.is_null() | (WebhookEndpoint.campaign_id == campaign_id))
    ).order_by(WebhookEndpoint.id)
    return [e for e in query if event_type in e.event_types]
