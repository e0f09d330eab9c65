"""/health names every dependency and process: PBX AMI and the heartbeats."""

import dataclasses
import socket
from datetime import datetime, timedelta, timezone

import pytest

from app.web.health import CHECKS
from app.heartbeats import beat
from pbxsim.server import PbxsimThread

KINDS = ("dialer", "lifecycle", "scheduler", "agi", "ami-events")


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def pbx():
    sim = PbxsimThread(username="callcast", secret="s3cret")
    port = sim.start()
    yield port
    sim.stop()


TOKEN = "ops-monitoring-token"


@pytest.fixture
def settings_of(app):
    """Swap the app's settings for the duration of a test (monitoring sees details with TOKEN)."""
    original = dataclasses.replace(app.config["SETTINGS"], health_token=TOKEN)
    app.config["SETTINGS"] = original

    def swap(**changes):
        app.config["SETTINGS"] = dataclasses.replace(original, **changes)
        return app.config["SETTINGS"]

    yield swap
    app.config["SETTINGS"] = original


def beat_all(now, skip=()):
    for kind in KINDS:
        if kind not in skip:
            beat(kind, now, {"source": "agi"} if kind == "agi" else {}, name=f"{kind}@test:1")


def get_health(client):
    response = client.get("/health", headers={"Authorization": f"Bearer {TOKEN}"})
    return response.status_code, response.get_json()


def test_it_checks_every_dependency_and_process():
    assert list(CHECKS) == [
        "database", "broker", "pbx", "dialer", "lifecycle", "scheduler", "agi", "agi_fallback",
        "ami_events", "supervisor",
    ]


def test_it_answers_200_when_everything_is_up(client, settings_of, pbx):
    settings_of(ami_port=pbx, ami_secret="s3cret")
    beat_all(datetime.now(timezone.utc))
    status, body = get_health(client)
    assert status == 200, body
    assert body["checks"]["pbx"] == {"ok": True, "detail": "ok"}
    assert body["checks"]["dialer"]["detail"].startswith("1 alive: dialer@test:1")


def test_it_names_the_pbx_when_ami_does_not_answer(client, settings_of):
    port = closed_port()
    settings_of(ami_port=port)
    beat_all(datetime.now(timezone.utc))
    status, body = get_health(client)
    assert status == 503
    assert body["failing"] == ["pbx"]
    assert f"AMI 127.0.0.1:{port}" in body["checks"]["pbx"]["detail"]


def test_it_names_the_pbx_when_the_ami_secret_is_wrong(client, settings_of, pbx):
    settings_of(ami_port=pbx, ami_secret="wrong")
    beat_all(datetime.now(timezone.utc))
    status, body = get_health(client)
    assert status == 503
    assert body["failing"] == ["pbx"]
    assert "AmiAuthError" in body["checks"]["pbx"]["detail"]


def test_it_names_a_process_whose_heartbeat_went_stale(client, settings_of, pbx):
    settings = settings_of(ami_port=pbx, ami_secret="s3cret", heartbeat_stale_seconds=30)
    now = datetime.now(timezone.utc)
    beat_all(now, skip=("agi",))
    beat("agi", now - timedelta(seconds=45), {"source": "agi"}, name="agi@test:1")
    status, body = get_health(client)
    assert status == 503
    assert body["failing"] == ["agi"]
    detail = body["checks"]["agi"]["detail"]
    assert detail.startswith(f"no agi heartbeat within {settings.heartbeat_stale_seconds}s")
    assert "agi@test:1 45s ago" in detail


def test_it_names_a_process_that_never_beat(client, settings_of, pbx):
    settings_of(ami_port=pbx, ami_secret="s3cret")
    beat_all(datetime.now(timezone.utc), skip=("scheduler", "dialer"))
    status, body = get_health(client)
    assert status == 503
    assert body["failing"] == ["dialer", "scheduler"]
    assert body["checks"]["scheduler"]["detail"] == "no scheduler process has ever beaten"


def test_it_does_not_count_the_fallback_agi_as_the_primary(client, settings_of, pbx):
    settings_of(ami_port=pbx, ami_secret="s3cret", agi_fallback_host="127.0.0.1")
    now = datetime.now(timezone.utc)
    beat_all(now, skip=("agi",))
    beat("agi", now, {"source": "fallback"}, name="agi@test:2")
    status, body = get_health(client)
    assert status == 503
    assert body["failing"] == ["agi"]
    assert body["checks"]["agi_fallback"]["ok"] is True


def test_it_requires_the_fallback_agi_only_when_configured(client, settings_of, pbx):
    settings_of(ami_port=pbx, ami_secret="s3cret", agi_fallback_host="")
    beat_all(datetime.now(timezone.utc))
    status, body = get_health(client)
    assert status == 200
    assert "not configured" in body["checks"]["agi_fallback"]["detail"]
    settings_of(ami_port=pbx, ami_secret="s3cret", agi_fallback_host="10.0.0.9")
    status, body = get_health(client)
    assert status == 503
    assert body["failing"] == ["agi_fallback"]


def test_it_answers_503_naming_the_database_when_it_cannot_be_opened(app, client, settings_of,
                                                                      pbx, tmp_path):
    from app.db import connect_database, database

    settings_of(ami_port=pbx, ami_secret="s3cret")
    beat_all(datetime.now(timezone.utc))
    working = database.obj
    database.initialize(connect_database(f"sqlite:///{tmp_path}/a-folder"))
    (tmp_path / "a-folder").mkdir()  # a folder where the file should be: cannot open
    try:
        status, body = get_health(client)
    finally:
        database.initialize(working)
    assert status == 503
    assert "database" in body["failing"]
    assert "OperationalError" in body["checks"]["database"]["detail"]
    assert body["checks"]["dialer"]["detail"].startswith("cannot read heartbeats")


def test_it_names_the_restarts_of_the_last_hour_and_fails_on_a_program_left_fatal(
        client, settings_of, pbx):
    from app.process_states import record

    settings_of(ami_port=pbx, ami_secret="s3cret")
    now = datetime.now(timezone.utc)
    beat_all(now)
    status, body = get_health(client)
    assert (status, body["checks"]["supervisor"]) == (
        200, {"ok": True, "detail": "no restarts in the last hour"})
    for _ in range(3):
        record("pbx1", "callcast-agi", "RUNNING", "EXITED", now, pid=7, expected=False)
        record("pbx1", "callcast-agi", "EXITED", "STARTING", now)
    status, body = get_health(client)
    assert status == 200
    assert body["checks"]["supervisor"]["detail"] == (
        "callcast-agi restarted 3 times in the last hour (3 unexpected exits)")
    record("pbx1", "callcast-agi", "STARTING", "BACKOFF", now)
    record("pbx1", "callcast-agi", "BACKOFF", "FATAL", now)
    status, body = get_health(client)
    assert (status, body["failing"]) == (503, ["supervisor"])
    assert body["checks"]["supervisor"]["detail"].startswith(
        "FATAL (supervisord gave up, start it by hand): callcast-agi on pbx1; callcast-agi "
        "restarted 3 times")
    record("pbx1", "callcast-agi", "FATAL", "STARTING", now)  # an operator started it
    assert get_health(client)[0] == 200
