"""The web process: Flask app, per-request database connection, /health, /metrics."""

from __future__ import annotations

import hmac
import logging

import click
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from flask_login import current_user
from peewee import PeeweeException, fn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from app.clock import utcnow
from app.config import secret_key_problem, settings_or_exit
from app.db import database, init_database
from app.logs import configure_logging
from app.models import STATES, Campaign
from app.web.health import HealthCache, full_view, public_view, run_checks
from app.web.proxies import TrustedProxies

log = logging.getLogger(__name__)
bp = Blueprint("core", __name__)


@bp.get("/health")
def health():
    """Status and check names for anyone (cached); details for users and monitoring."""
    settings = current_app.config["SETTINGS"]
    cache = current_app.extensions["health"]

    def run():
        return run_checks(settings, utcnow())

    if _may_see_details(settings):
        ok, results = cache.refresh(run)
        body = full_view(ok, results)
    else:
        ok, results = cache.get(run)
        body = public_view(ok, results)
    return jsonify(body), 200 if ok else 503


def _may_see_details(settings) -> bool:
    """A signed-in user, or monitoring presenting ``Authorization: Bearer HEALTH_TOKEN``."""
    try:
        if current_user.is_authenticated:
            return True
    except PeeweeException:  # the database is down: the checks will say so, to monitoring
        pass
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = settings.health_token
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), expected.encode()
    )


class CampaignCollector:
    """Campaigns per state, read at scrape time."""

    def collect(self):
        gauge = GaugeMetricFamily("callcast_campaigns", "Campaigns by state", labels=["state"])
        counts = dict.fromkeys(STATES, 0)
        with database.connection_context():
            rows = Campaign.select(Campaign.state, fn.COUNT(Campaign.id)).group_by(Campaign.state)
            for state, count in rows.tuples():
                counts[state] = count
        for state, count in counts.items():
            gauge.add_metric([state], count)
        yield gauge


@bp.get("/metrics")
def metrics():
    return Response(generate_latest(current_app.extensions["metrics"]), content_type=CONTENT_TYPE_LATEST)


def _check_secret_key(app, settings) -> None:
    """A default or short SECRET_KEY lets anyone forge a session: the server refuses it.

    A ``flask`` command (inside a click context: schema upgrade, users, campaigns)
    issues no session and only warns; ``flask run`` is a development server.
    """
    problem = secret_key_problem(app.config.get("SECRET_KEY") or "")
    if problem is None:
        return
    serving = click.get_current_context(silent=True) is None
    if serving and not (settings.demo or app.testing or app.debug):
        raise SystemExit(
            f"callcast: configuration error: {problem}; set a long random SECRET_KEY "
            "(python3 -c 'import secrets; print(secrets.token_hex(32))'), or DEMO=1 for a demo"
        )
    log.warning("%s: acceptable for a demo or a test only", problem)


def build_app(test_config=None) -> Flask:
    settings = settings_or_exit()
    app = Flask(__name__)
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        MAX_CONTENT_LENGTH=512 * 1024 * 1024,
    )
    if test_config:
        app.config.update(test_config)
    _check_secret_key(app, settings)
    if not logging.getLogger().handlers:
        # gunicorn and flask leave the root logger bare; a host that set up
        # logging itself (pytest, an embedding program) keeps its own
        configure_logging(settings, "web")
    init_database(app.config.get("DATABASE_URL"))
    if settings.trusted_proxies:
        app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxies)

    @app.before_request
    def _open_db():
        # /health opens the database inside its checks: an outage is a 503 naming it, not a 500
        if request.endpoint == "core.health":
            return
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(exc):
        if not database.is_closed():
            database.close()

    registry = CollectorRegistry()
    registry.register(CampaignCollector())
    app.extensions["metrics"] = registry
    app.extensions["health"] = HealthCache(settings.health_cache_seconds)
    app.register_blueprint(bp)

    from app.web.admin import init_admin

    from app.web.i18n import init_i18n

    init_i18n(app)
    init_admin(app)

    # after the admin: its bounded <int:...> converter then holds for the API's ids too
    from app.web.api import init_api
    from app.web.auth import csrf

    init_api(app, csrf)

    from app.cli import register_cli

    register_cli(app)
    return app
