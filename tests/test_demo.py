"""The README's run command, headless: seed the demo, start every Procfile
process with honcho, and watch the demo campaign reach CLOSED with its report.

It runs the real Procfile on free ports and a throwaway database, so it can
run next to a live `make run`.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app.db import init_database
from app.models import CLOSED, Campaign, CampaignReport
from tests.waiting import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONTACTS = 60

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]


def two_free_ports():
    """A free port whose successor is free too (the fallback AGI daemon's metrics)."""
    while True:
        port = free_port()
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue


def healthy(port):
    """/health's body when it answers 200, else None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return json.load(response)
    except OSError:  # refused while gunicorn starts; HTTPError for a 503
        return None


def test_it_runs_the_demo_campaign_to_closed_with_every_procfile_process(tmp_path):
    web_port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/callcast.db",
        "MEDIA_DIR": str(tmp_path / "media"),
        "EXPORT_DIR": str(tmp_path / "exports"),
        "DIALPLAN_PATH": str(tmp_path / "asterisk" / "callcast.conf"),
        "AGI_JOURNAL_PATH": str(tmp_path / "agi-journal.jsonl"),
        "WEB_PORT": str(web_port),
        "AMI_PORT": str(free_port()),
        "AGI_PORT": str(free_port()),
        "AGI_FALLBACK_HOST": "127.0.0.1",
        "AGI_FALLBACK_PORT": str(free_port()),
        "AGI_METRICS_PORT": str(two_free_ports()),
        "DIALER_METRICS_PORT": str(free_port()),
        "LIFECYCLE_METRICS_PORT": str(free_port()),
        "PBXSIM_SPEED": "20",
        "HEARTBEAT_STALE_SECONDS": "30",
        "DEMO": "1",  # as scripts/run.sh sets it: the demo runs on the published SECRET_KEY
    }
    flask = [str(BIN / "flask"), "--app", "app"]
    run = dict(cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
               timeout=120)
    upgraded = subprocess.run([*flask, "db", "upgrade"], **run)
    assert upgraded.returncode == 0, upgraded.stderr
    seeded = subprocess.run([*flask, "demo", "seed", "--contacts", str(CONTACTS),
                             "--url", f"http://127.0.0.1:{web_port}/"], **run)
    assert seeded.returncode == 0, seeded.stderr
    assert f"is ACTIVE with {CONTACTS} contacts" in seeded.stdout
    assert "sign in as demo / callcast-demo" in seeded.stdout
    again = subprocess.run([*flask, "demo", "seed"], **run)
    assert "exists already" in again.stdout  # created once

    empty_env_file = tmp_path / "empty.env"  # never a developer's own .env
    empty_env_file.write_text("")
    log = open(tmp_path / "honcho.log", "w")
    honcho = subprocess.Popen(
        [str(BIN / "honcho"), "-e", str(empty_env_file), "start"], cwd=ROOT, env=env,
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    db = init_database(env["DATABASE_URL"])
    try:
        # every process up: /health answers 200 with all checks passing
        body = wait_until(lambda: healthy(web_port), 90, "/health 200 with every process alive",
                          interval=0.5)
        assert body["status"] == "ok"

        def state():
            with db.connection_context():
                return Campaign.get(Campaign.name == "Demo campaign").state

        wait_until(lambda: state() == CLOSED, 270, "the demo campaign to close", interval=1)
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
        log.close()
    with db.connection_context():
        campaign = Campaign.get(Campaign.name == "Demo campaign")
        report = CampaignReport.get(CampaignReport.campaign == campaign.id)
    assert report.data["contacts"] == CONTACTS
    with open(report.csv_path, newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == CONTACTS
    assert set(report.charts) == {"outcomes", "digits", "answered_per_attempt", "attempts_histogram",
                                  "calls_per_hour"}
