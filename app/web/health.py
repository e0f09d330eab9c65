"""Health checks for /health: each returns (ok, detail) and never raises.

Every dependency and process adds a check here; a failing one names itself.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlparse

import pika

from app import heartbeats, process_states
from app.db import database
from app.models import Heartbeat
from app.pbx.poolhealth import check_pool

log = logging.getLogger(__name__)

# Most seconds one /health spends on the PBX: a hung AMI must not hang /health.


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


def _describe(beat, now):
    age = (now - beat.seen_at).total_seconds()
    return f"{beat.name} {age:.0f}s ago"


def heartbeat_check(kind, source=None):
    """A check that passes while a ``kind`` process (AGI: of ``source``) beat recently."""

    def matches(beat):
        return source is None or (beat.info or {}).get("source", "agi") == source

    def check(settings, now):
        stale = settings.heartbeat_stale_seconds
        try:
            seen = [b for b in heartbeats.alive(kind, now, stale) if matches(b)]
            if seen:
                return True, f"{len(seen)} alive: " + ", ".join(_describe(b, now) for b in seen)
            rows = Heartbeat.select().where(Heartbeat.kind == kind).order_by(Heartbeat.seen_at.desc())
            last = next((b for b in rows if matches(b)), None)
        except Exception as exc:
            return False, f"cannot read heartbeats: {type(exc).__name__}: {exc}"
        label = kind if source is None or source == kind else f"{kind} ({source})"
        if last is None:
            return False, f"no {label} process has ever beaten"
        return False, f"no {label} heartbeat within {stale}s (last: {_describe(last, now)})"

    check.__name__ = f"check_{kind}" + (f"_{source}" if source else "")
    return check


_agi_fallback_beat = heartbeat_check("agi", source="fallback")


def check_agi_fallback(settings, now):
    """The second FastAGI instance, when the dialplan is told about one."""
    if not settings.agi_fallback_host:
        return True, "not configured (AGI_FALLBACK_HOST is empty)"
    return _agi_fallback_beat(settings, now)


def check_supervisor(settings, now):
    """No program left FATAL by supervisord; the detail names the restarts of the last hour."""
    try:
        fatal = sorted(f"{p} on {h}" for (h, p), row in process_states.latest_states().items()
                       if row.to_state == "FATAL")
        restarted = [s for s in process_states.summaries(now) if s.restarts]
    except Exception as exc:
        return False, f"cannot read process transitions: {type(exc).__name__}: {exc}"
    restarts = "; ".join(s.sentence("hour") for s in restarted) or "no restarts in the last hour"
    if fatal:
        gave_up = ", ".join(fatal)
        return False, f"FATAL (supervisord gave up, start it by hand): {gave_up}; {restarts}"
    return True, restarts


CHECKS = {
    "database": check_database,
    "broker": check_broker,
    "pbx": check_pool,  # every enabled PBX of the pool (app.pbx.poolhealth), AMD modules included
    "dialer": heartbeat_check("dialer"),
    "lifecycle": heartbeat_check("lifecycle"),
    "scheduler": heartbeat_check("scheduler"),
    "agi": heartbeat_check("agi", source="agi"),
    "agi_fallback": check_agi_fallback,
    "ami_events": heartbeat_check("ami-events"),
    "supervisor": check_supervisor,
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


def public_view(ok, results) -> dict:
    """What anyone may read: the status and each check's name and verdict, no details
    (they name hosts, ports and users)."""
    body = {
        "status": "ok" if ok else "degraded",
        "checks": {name: {"ok": r["ok"]} for name, r in results.items()},
    }
    if not ok:
        body["failing"] = sorted(name for name, r in results.items() if not r["ok"])
    return body


def full_view(ok, results) -> dict:
    """The public view plus each check's detail, for signed-in users and monitoring."""
    body = public_view(ok, results)
    body["checks"] = results
    return body


class HealthCache:
    """The last result of ``run_checks``, reused for ``max_age`` seconds.

    Anonymous callers share it, so however often they ask, the checks (an AMI
    login, an AMQP connection) run at most once per ``max_age`` per process,
    and only one caller at a time runs them while the others wait for its result.
    """

    def __init__(self, max_age: float, clock=time.monotonic):
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._result = None
        self._taken_at = 0.0

    def get(self, run):
        """The cached result, or ``run()``'s when there is none younger than ``max_age``."""
        with self._lock:
            if self._result is None or self._clock() - self._taken_at > self.max_age:
                self._store(run())
            return self._result

    def refresh(self, run):
        """Run the checks now (an authorised caller) and keep the result for the others."""
        result = run()
        with self._lock:
            self._store(result)
        return result

    def _store(self, result):
        self._result, self._taken_at = result, self._clock()
