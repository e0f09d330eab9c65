"""The operations page: RabbitMQ queues, process heartbeats, the /health summary, the
reports quarantined for a missing or wrong call token and supervisord's restarts."""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, unquote, urlparse

from flask import current_app
from flask_admin import expose
from peewee import fn

from app import process_states
from app.web.admin.base import SecureBaseView
from app.web.health import run_checks
from app.models import Heartbeat, QuarantinedReport
from app.outbound.status import outbound_summary
from app.pbx.pool import list_pbxs
from app.dialer.spread import pbx_in_flight

log = logging.getLogger(__name__)

MANAGEMENT_TIMEOUT = 3.0
QUARANTINE_SHOWN = 20
QUARANTINE_WINDOW = timedelta(hours=24)
PROGRAM_WINDOW = timedelta(hours=1)


def broker_vhost(broker_url: str) -> str:
    path = urlparse(broker_url).path.lstrip("/")
    return unquote(path) if path else "/"


def management_credentials(broker_url: str) -> tuple[str, str]:
    parsed = urlparse(broker_url)
    return parsed.username or "guest", parsed.password or "guest"


def fetch_queues(management_url: str, vhost: str, credentials, timeout=MANAGEMENT_TIMEOUT):
    """Queues of ``vhost`` from the management API: (rows, error text or "")."""
    url = f"{management_url.rstrip('/')}/api/queues/{quote(vhost, safe='')}"
    request = urllib.request.Request(
        url + "?columns=name,vhost,messages_ready,messages_unacknowledged,consumers,state"
    )
    token = base64.b64encode(":".join(credentials).encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            rows = json.loads(response.read() or b"[]")
    except (OSError, urllib.error.URLError, ValueError) as exc:
        log.warning("RabbitMQ management API unreachable url=%s: %s", url, exc)
        return [], f"RabbitMQ management API at {management_url} did not answer: {exc}"
    queues = [
        {
            "name": q.get("name", ""),
            "vhost": q.get("vhost", vhost),
            "ready": q.get("messages_ready", 0) or 0,
            "unacked": q.get("messages_unacknowledged", 0) or 0,
            "consumers": q.get("consumers", 0) or 0,
            "state": q.get("state", ""),
            "link": f"{management_url.rstrip('/')}/#/queues/{quote(q.get('vhost', vhost), safe='')}/"
            f"{quote(q.get('name', ''), safe='')}",
        }
        for q in rows
    ]
    return sorted(queues, key=lambda q: q["name"]), ""


def heartbeat_rows(now, stale_after: int):
    rows = []
    for beat in Heartbeat.select().order_by(Heartbeat.kind, Heartbeat.name):
        age = (now - beat.seen_at).total_seconds()
        rows.append(
            {
                "name": beat.name,
                "kind": beat.kind,
                "host": beat.host,
                "pid": beat.pid,
                "seen_at": beat.seen_at,
                "age": int(age),
                "stale": age > stale_after,
                "info": beat.info or {},
            }
        )
    return rows


def quarantine_summary(now):
    """Quarantined reports of the last 24 h: counts per (source, reason), and the latest rows."""
    since = now - QUARANTINE_WINDOW
    q = QuarantinedReport
    counts = (
        q.select(q.source, q.reason, fn.COUNT(q.id), fn.MAX(q.received_at))
        .where(q.received_at >= since)
        .group_by(q.source, q.reason)
        .order_by(q.source, q.reason)
        .tuples()
    )
    latest = q.select().order_by(q.received_at.desc(), q.id.desc()).limit(QUARANTINE_SHOWN)
    rows = [{"source": s, "reason": r, "count": n, "last": last} for s, r, n, last in counts]
    return rows, list(latest)


class OperationsView(SecureBaseView):
    @expose("/")
    def index(self):
        settings = current_app.config["SETTINGS"]
        now = datetime.now(timezone.utc)
        vhost = broker_vhost(settings.broker_url)
        queues, queue_error = fetch_queues(
            settings.rabbitmq_management_url, vhost, management_credentials(settings.broker_url)
        )
        ok, checks = run_checks(settings, now)
        quarantine_counts, quarantined = quarantine_summary(now)
        return self.render(
            "callcast/operations.html",
            queues=queues,
            queue_error=queue_error,
            vhost=vhost,
            management_url=settings.rabbitmq_management_url,
            heartbeats=heartbeat_rows(now, settings.heartbeat_stale_seconds),
            stale_after=settings.heartbeat_stale_seconds,
            health_ok=ok,
            checks=checks,
            quarantine_counts=quarantine_counts,
            quarantined=quarantined,
            outbound=outbound_summary(now),
            programs=process_states.summaries(now, PROGRAM_WINDOW),
            pbxs=list_pbxs(),
            pbx_calls=pbx_in_flight(),
        )
