"""Health checks for /health: each returns (ok, detail) and never raises.

Every dependency and process adds a check here; a failing one names itself.
"""

from __future__ import annotations

import logging
from urllib.parse import urlparse

import pika

from app.db import database

log = logging.getLogger(__name__)


def check_database(settings, now):
    try:
        database.execute_sql("SELECT 1")
        return True, "ok"
    except Exception as exc:  # a health check reports, it does not raise
        return False, f"{type(exc).__name__}: {exc}"


def check_broker(settings, now):
    params = pika.URLParameters(settings.broker_url)
    params.socket_timeout = 2
    params.blocked_connection_timeout = 2
    params.connection_attempts = 1
    params.stack_timeout = 3
    try:
        pika.BlockingConnection(params).close()
        return True, "ok"
    except Exception as exc:
        where = urlparse(settings.broker_url)
        return False, f"cannot connect to {where.hostname}:{where.port or 5672}: {type(exc).__name__}"


CHECKS = {
    "database": check_database,
    "broker": check_broker,
}


def run_checks(settings, now, checks=None):
    """Run every check; return (all_ok, {name: {"ok": bool, "detail": str}})."""
    results = {}
    for name, check in (checks or CHECKS).items():
        try:
            ok, detail = check(settings, now)
        except Exception as exc:  # a broken check must not break /health
            log.exception("health check %s crashed", name)
            ok, detail = False, f"check crashed: {exc}"
        results[name] = {"ok": ok, "detail": detail}
    return all(r["ok"] for r in results.values()), results
