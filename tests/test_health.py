"""/health and /metrics through the real database and RabbitMQ."""

import dataclasses
import socket

from app.models import Campaign


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket closes


def test_it_reports_database_and_broker_up(client):
    # The full 200 (PBX and every process heartbeat too) is in tests/ops/test_health_checks.py.
    body = client.get("/health").get_json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


def test_it_answers_503_naming_the_broker_when_it_is_unreachable(app, client):
    settings = app.config["SETTINGS"]
    url = f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F"
    app.config["SETTINGS"] = dataclasses.replace(settings, broker_url=url)
    try:
        response = client.get("/health")
    finally:
        app.config["SETTINGS"] = settings
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
