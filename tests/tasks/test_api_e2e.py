"""End to end by API only: upload a list, create a campaign, activate, poll, CLOSED, results.

gunicorn serves the app as the Procfile and the playbook run it (two workers, on a
free port); the client only speaks HTTP with a Bearer token. Behind it run the real processes: pbxsim, the
AGI daemon, a dialer and a lifecycle process on the session's RabbitMQ vhost.
The scheduler's minute tick is sent by the test, as periodiq would.
"""

from __future__ import annotations

import csv
import io
import secrets

import pytest
import requests

from app.apitokens import create_token
from app.clock import utcnow
from app.config import get_settings
from app.models import User
from app.pbx.ami import reset_ami
from stack import VENV_BIN, Stack

from tests.waiting import free_port, wait_until

pytestmark = pytest.mark.e2e

N = 12
# pbxsim's lastdigit model: 0-3 answer and press 1-4, 4 answers without a digit,
# 5 busy, 6 no answer, 7 congestion, 8-9 answer
PHONES = [f"+1202555{i:04d}" for i in range(N)]


@pytest.fixture
def stack(sqlite_db, broker, tmp_path, monkeypatch):
    env = {"DIAL_TICK_MS": "100", "AMI_TIMEOUT": "2", "EXPORT_DIR": str(tmp_path / "exports")}
    s = Stack(tmp_path, env)
    try:
        s.start_agi()
        s.start_pbxsim(speed=20.0)
        for key in ("AGI_PORT", "AMI_PORT", "DIAL_TICK_MS", "AMI_TIMEOUT", "EXPORT_DIR"):
            monkeypatch.setenv(key, s.env[key])
        get_settings.cache_clear()
        reset_ami()  # the web side's AMI client is built from these settings
        yield s
    finally:
        print(s.logs())  # pytest shows it only when the test failed
        s.close()
        reset_ami()
        get_settings.cache_clear()


@pytest.fixture
def server(stack):
    """gunicorn with the Procfile's options, on a free port and the stack's settings; its URL."""
    port = free_port()
    env = dict(stack.env, SECRET_KEY=secrets.token_urlsafe(32))
    web = stack._spawn("web", [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}",
                               "--workers", "2", "--graceful-timeout", "20", "app:create_app()"],
                       env)
    url = f"http://127.0.0.1:{port}"

    def answers():
        assert web.alive(), web.tail()
        try:
            return requests.get(f"{url}/api/v1/openapi.json", timeout=5).status_code == 200
        # refused until gunicorn binds, then held until a worker has imported the app
        except (requests.ConnectionError, requests.Timeout):
            return False

    wait_until(answers, 90, "gunicorn answering")
    return url


def start_lifecycle(stack):
    argv = [str(VENV_BIN / "dramatiq"), "tasks.draining", "tasks.finalizing", "tasks.schedules",
            "-Q", "drain", "finalize", "-p", "1", "-t", "2"]
    return stack._spawn("lifecycle", argv, stack.env)


def scheduler_tick():
    """What periodiq sends every minute: the expiry scan (FINISHED, then DRAINING)."""
    from tasks.schedules import expire_campaigns

    expire_campaigns.send()


def test_it_runs_a_whole_campaign_by_api_only(stack, server):
    user = User.create(username="crm", role="operator", password_hash="-")
    _, token = create_token(user.id, "crm", "write", utcnow())
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    stack.start_dialer()
    start_lifecycle(stack)

    body = "phone,name\n" + "".join(f"{p},n{i}\n" for i, p in enumerate(PHONES))
    made = http.post(f"{server}/api/v1/contact-lists/", data={"name": "crm list"},
                     files={"file": ("crm.csv", body.encode(), "text/csv")}, timeout=30)
    assert made.status_code == 201, made.text
    contact_list = made.json()
    assert contact_list["status"] == "ready" and contact_list["rows_imported"] == N

    campaign = http.post(f"{server}/api/v1/campaigns/", json={
        "name": "by api", "contact_list": contact_list["id"], "message_sound": "hello-world",
        "max_channels": 6, "max_attempts": 1, "ring_timeout_s": 10, "max_call_s": 30,
        "digit_timeout_s": 2, "message_repeats": 1,
        "options": [{"digit": d, "label": f"option {d}"} for d in "1234"],
        "windows": [{"weekday": d, "starts": "00:00", "ends": "00:00"} for d in range(7)],
    }, timeout=30)
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    url = f"{server}/api/v1/campaigns/{campaign_id}"

    activated = http.post(f"{url}/activate", timeout=30)
    assert activated.status_code == 200, activated.text
    assert activated.json()["state"] == "ACTIVE"

    def all_final():
        live = http.get(f"{url}/status", timeout=30).json()
        return live if live["contacts_final"] == N else None

    live = wait_until(all_final, 90, "every contact final, by the API's status", interval=0.2)
    assert live["dialer_status"], "the dialer's status line is shown"

    def closed():
        scheduler_tick()
        return http.get(url, timeout=30).json()["state"] == "CLOSED"

    wait_until(closed, 120, "CLOSED, by the API", interval=0.5)

    results = http.get(f"{url}/results?per_page=5", timeout=30).json()
    rows = results["items"]
    page = 2
    while results["has_more"]:
        results = http.get(f"{url}/results?per_page=5&page={page}", timeout=30).json()
        rows += results["items"]
        page += 1
    assert sorted(r["phone"] for r in rows) == sorted(PHONES)
    by_phone = {r["phone"]: r for r in rows}
    assert by_phone["+12025550005"]["outcome"] == "busy"
    assert by_phone["+12025550006"]["outcome"] == "noanswer"
    assert by_phone["+12025550001"]["outcome"] == "answered"
    assert by_phone["+12025550001"]["digit"] == "2"

    report = http.get(f"{url}/report", timeout=30).json()["report"]
    assert report["contacts"] == N
    download = http.get(f"{url}/report.csv", timeout=30)
    assert download.status_code == 200
    table = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert len(table) == 1 + N
