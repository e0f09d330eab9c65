"""Failure drills, one per runbook entry (docs/runbook.md), on the deployed copy.

Each drill produces the failure on the supervisord-run deployment of
conftest.py, checks the symptom the runbook documents, repairs it the way the
runbook says and checks /health is 200 again.
"""

import base64
import json
import re
import sqlite3
import subprocess
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest

from .conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def stale_window(deployment):
    return deployment.vars["callcast_heartbeat_stale_seconds"]


def drill_stopped(deployment, programs, failing):
    """Stop ``programs``: /health 503 naming exactly ``failing``; start: 200."""
    deployment.wait_health(200, timeout=120)
    deployment.ctl("stop", *programs)
    try:
        body = deployment.wait_health(503, timeout=stale_window(deployment) + 45, failing=failing)
    finally:
        deployment.ctl("start", *programs)
    deployment.wait_health(200, timeout=120)
    return body


def db_rows(deployment, sql, *args):
    path = urlparse(deployment.vars["callcast_database_url"]).path[1:]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(sql, args).fetchall()


def last_beat(deployment, kind):
    rows = db_rows(deployment, "SELECT max(seen_at) FROM heartbeat WHERE kind = ?", kind)
    return rows[0][0]


def test_it_drills_web_down(deployment):
    deployment.wait_health(200, timeout=120)
    before = last_beat(deployment, "dialer")
    deployment.ctl("stop", "callcast-web")
    try:
        status, detail = deployment.health()
        assert status is None, detail  # nothing answers on the web port
        # calls and events go on: the dialer keeps beating while the console is down
        wait_until(lambda: last_beat(deployment, "dialer") > before, 30, "a newer dialer beat")
    finally:
        deployment.ctl("start", "callcast-web")
    deployment.wait_health(200, timeout=120)


def test_it_drills_dialer_down(deployment):
    body = drill_stopped(deployment, ["callcast-dialer:*"], ["dialer"])
    assert body["checks"]["dialer"]["detail"].startswith(
        f"no dialer heartbeat within {stale_window(deployment)}s")


def test_it_drills_lifecycle_down(deployment):
    drill_stopped(deployment, ["callcast-lifecycle"], ["lifecycle"])


def test_it_drills_scheduler_down(deployment):
    drill_stopped(deployment, ["callcast-scheduler"], ["scheduler"])


def test_it_drills_agi_down(deployment):
    # the fallback instance keeps running and does not stand in for the primary
    body = drill_stopped(deployment, ["callcast-agi"], ["agi"])
    assert body["checks"]["agi_fallback"]["ok"] is True


def test_it_drills_pbx_down(deployment):
    # the UserEvent recorder beats only while it is logged in to AMI: it goes too
    body = drill_stopped(deployment, ["callcast-pbx"], ["ami_events", "pbx"])
    assert "AMI 127.0.0.1" in body["checks"]["pbx"]["detail"]


def _management(deployment, method, path, body):
    settings = deployment.settings
    admin = urlparse(settings.broker_url)
    request = urllib.request.Request(
        settings.rabbitmq_management_url.rstrip("/") + path,
        data=json.dumps(body).encode(), method=method,
    )
    creds = f"{admin.username or 'guest'}:{admin.password or 'guest'}"
    request.add_header("Authorization", "Basic " + base64.b64encode(creds.encode()).decode())
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def test_it_drills_broker_unreachable(deployment):
    # The deployment has its own RabbitMQ user: changing its password refuses
    # every new connection (like a broker down for new clients) without touching
    # the shared broker other people use.
    user = urlparse(deployment.vars["callcast_broker_url"]).username
    password = urlparse(deployment.vars["callcast_broker_url"]).password
    deployment.wait_health(200, timeout=120)
    _management(deployment, "PUT", f"/api/users/{quote(user, safe='')}",
                {"password": "not-the-right-one", "tags": ""})
    try:
        body = deployment.wait_health(503, timeout=60, failing=["broker"])
        assert "cannot connect to 127.0.0.1" in body["checks"]["broker"]["detail"]
    finally:
        _management(deployment, "PUT", f"/api/users/{quote(user, safe='')}",
                    {"password": password, "tags": ""})
    deployment.wait_health(200, timeout=120)


def test_it_drills_database_unreachable(deployment):
    # A directory where the SQLite file was: every new connection fails to open
    # it, open ones keep the file; putting the file back repairs it.
    path = Path(urlparse(deployment.vars["callcast_database_url"]).path[1:])
    away = path.with_name(path.name + ".away")
    deployment.wait_health(200, timeout=120)
    path.rename(away)
    path.mkdir()
    try:
        body = deployment.wait_health(503, timeout=60)
        assert "database" in body["failing"]
        assert "OperationalError" in body["checks"]["database"]["detail"]
    finally:
        path.rmdir()
        away.rename(path)
    deployment.wait_health(200, timeout=120)


def test_it_keeps_every_event_through_the_fallback_while_the_agi_daemon_is_down(deployment):
    """The AGI drill's second half: calls made while the primary is down lose nothing."""
    deployment.wait_health(200, timeout=120)
    run = Path(deployment.vars["callcast_root"]) / "bin" / "callcast-run"
    csv = deployment.workdir / "drill.csv"
    # lastdigit callee: ..0-..3 answer and press digit+1, ..4 answers silently, ..5 busy,
    # ..7 congestion
    csv.write_text("phone\n" + "".join(f"+3361234567{d}\n" for d in (0, 1, 2, 4, 5, 7)))

    def cli(*args):
        done = subprocess.run([str(run), "flask", "--app", "app", *args], capture_output=True,
                              text=True, timeout=120, env=deployment.env)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    out = cli("campaign", "create", "--name", "agi-drill", "--csv", str(csv),
              "--windows", "mon-sun 00:00-23:59", "--message-sound", "demo-congrats",
              "--option", "1=one", "--option", "2=two", "--option", "3=three",
              "--option", "4=four", "--attempts", "1", "--ring-timeout", "30")
    campaign_id = int(re.search(r"created campaign (\d+)", out).group(1))
    deployment.ctl("stop", "callcast-agi")
    try:
        cli("campaign", "activate", str(campaign_id))

        def terminal_contacts():
            rows = db_rows(
                deployment,
                "SELECT DISTINCT contact_id FROM call_event WHERE campaign_id = ? AND "
                "(name = 'hangup' OR name LIKE 'failed-%')", campaign_id)
            return len(rows) == 6

        wait_until(terminal_contacts, 180, "a terminal event for every contact", interval=1)
        sources = db_rows(deployment, "SELECT DISTINCT source FROM call_event "
                          "WHERE campaign_id = ?", campaign_id)
        assert sources == [("fallback",)]
        names = sorted(n for (n,) in db_rows(
            deployment, "SELECT name FROM call_event WHERE campaign_id = ?", campaign_id))
        for expected in ("answered", "dtmf-1", "dtmf-2", "dtmf-3", "failed-busy",
                         "failed-congestion"):
            assert expected in names, names
    finally:
        deployment.ctl("start", "callcast-agi")
        subprocess.run([str(run), "flask", "--app", "app", "campaign", "finish", str(campaign_id)],
                       capture_output=True, timeout=120, env=deployment.env)
    deployment.wait_health(200, timeout=120)


def _metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def test_it_drills_the_journal_disk_full(deployment):
    """A full disk under the journal and the (SQLite) database: the event is left
    unconfirmed, counted as lost, and the dialplan takes its other paths."""
    import asyncio
    import resource

    from agi.client import agi_call

    def report(port, contact):
        return asyncio.run(agi_call("127.0.0.1", port, f"9001/{contact}/1/answered", timeout=60))

    deployment.wait_health(200, timeout=120)
    run = Path(deployment.vars["callcast_root"]) / "bin" / "callcast-run"
    port_file = deployment.workdir / "agi-full.port"
    journal = deployment.workdir / "agi-full" / "journal.jsonl"
    journal.parent.mkdir()

    def disk_full():
        # No file of this process may grow past 64 bytes (the port file fits): the
        # journal append and the SQLite commit fail with EFBIG, as on a full disk.
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

    daemon = subprocess.Popen(
        [str(run), "python", "-m", "agi", "--port", "0", "--metrics-port", "0",
         "--port-file", str(port_file), "--journal", str(journal)],
        preexec_fn=disk_full, env=deployment.env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = b""
    try:
        wait_until(lambda: port_file.exists() or daemon.poll() is not None, 60,
                   "the AGI daemon on the full disk")
        assert daemon.poll() is None, daemon.communicate()[0].decode()[-3000:]
        port, metrics_port = map(int, port_file.read_text().split())
        assert report(port, 2) is False  # neither committed nor journaled: not confirmed
        assert _metric(metrics_port, "agi_events_lost_total") == 1
    finally:
        daemon.terminate()
        output = daemon.communicate(timeout=30)[0]
    assert b"could not be committed nor journaled" in output
    # the supervised daemon, with disk space, confirms the next report
    assert report(deployment.ports["agi"], 3) is True
    stored = db_rows(deployment, "SELECT contact_id FROM call_event WHERE campaign_id = 9001")
    assert stored == [(3,)]
    deployment.wait_health(200, timeout=120)
