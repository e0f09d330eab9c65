"""/health and /metrics through the real database and RabbitMQ."""

import dataclasses
import socket

import pytest

from app.models import Campaign, User
from app.users import hash_password
from app.web.health import HealthCache


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket closes


def test_it_reports_database_and_broker_up(client):
    # The full 200 (PBX and every process heartbeat too) is in tests/ops/test_health_checks.py.
    body = client.get("/health").get_json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


TOKEN = "monitoring-token-for-the-tests"
MONITORING = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def settings_of(app):
    """Swap the app's settings (with a monitoring token) for the duration of a test."""
    original = app.config["SETTINGS"]

    def swap(**changes):
        app.config["SETTINGS"] = dataclasses.replace(original, health_token=TOKEN, **changes)

    swap()
    yield swap
    app.config["SETTINGS"] = original


def unreachable_broker():
    return f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F"


def test_it_answers_503_naming_the_broker_when_it_is_unreachable(app, client, settings_of):
    settings_of(broker_url=unreachable_broker())
    response = client.get("/health", headers=MONITORING)
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded"
    assert "broker" in body["failing"]
    assert "cannot connect to 127.0.0.1" in body["checks"]["broker"]["detail"]
    assert body["checks"]["database"]["ok"] is True


def test_it_exposes_campaign_gauges_for_prometheus(client):
    Campaign.create(name="a", state="ACTIVE")
    Campaign.create(name="b", state="ACTIVE")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'callcast_campaigns{state="ACTIVE"} 2.0' in text
    assert 'callcast_campaigns{state="CLOSED"} 0.0' in text


def test_it_tells_anonymous_callers_the_status_and_check_names_only(app, client, settings_of):
    settings_of(broker_url=unreachable_broker(), ami_host="pbx.internal.example", ami_user="secret-user")
    response = client.get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failing"] == sorted(body["failing"]) and "broker" in body["failing"]
    assert body["checks"]["broker"] == {"ok": False}
    text = response.get_data(as_text=True)
    for secret in ("detail", "127.0.0.1", "pbx.internal.example", "secret-user", "5038"):
        assert secret not in text


def test_it_shows_details_to_signed_in_users(app, client, settings_of):
    settings_of(broker_url=unreachable_broker())
    User.create(username="watcher", role="viewer", password_hash=hash_password("watcher pass"))
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    signed = client.post("/login", data={"username": "watcher", "password": "watcher pass",
                                         "csrf_token": token})
    assert signed.status_code == 302
    body = client.get("/health").get_json()
    assert "cannot connect to 127.0.0.1" in body["checks"]["broker"]["detail"]


def test_it_refuses_details_for_a_wrong_token(app, client, settings_of):
    settings_of(broker_url=unreachable_broker())
    body = client.get("/health", headers={"Authorization": "Bearer not-the-token"}).get_json()
    assert "detail" not in body["checks"]["broker"]


def test_it_answers_anonymous_callers_from_the_cache(app, client, settings_of):
    app.extensions["health"] = HealthCache(max_age=3600)  # every answer within one result's life
    assert client.get("/health").get_json()["checks"]["broker"]["ok"] is True
    settings_of(broker_url=unreachable_broker())
    # the broker went away: anonymous callers still get the cached answer, no new check runs
    assert client.get("/health").get_json()["checks"]["broker"]["ok"] is True
    # monitoring runs the checks now, and its fresh result serves everyone after it
    assert client.get("/health", headers=MONITORING).status_code == 503
    assert client.get("/health").get_json()["checks"]["broker"] == {"ok": False}


def test_it_runs_the_checks_once_per_max_age():
    now = [100.0]
    runs = []
    cache = HealthCache(max_age=5.0, clock=lambda: now[0])

    def run():
        runs.append(now[0])
        return True, {"database": {"ok": True, "detail": "ok"}}

    for step in (0.0, 1.0, 4.9):
        now[0] = 100.0 + step
        cache.get(run)
    assert runs == [100.0]
    now[0] = 105.5
    cache.get(run)
    assert runs == [100.0, 105.5]
