"""The operations page: queues from the RabbitMQ management API, heartbeats, health."""

from __future__ import annotations

import dataclasses
import re
import socket
from datetime import timedelta

from app.clock import utcnow
from app.heartbeats import beat


def test_it_shows_the_queues_of_the_broker_vhost(app, viewer_client, broker):
    from tasks.importing import import_contact_list

    # one message waits on the queue (no worker runs here; the fixture flushes it)
    import_contact_list.send(999_999, "/nonexistent.csv")
    page = viewer_client.get("/admin/operations/").get_data(as_text=True)
    queues = page.split('id="queues"')[1].split("</table>")[0]
    row = queues.split(">default</a>")[1].split("</tr>")[0]
    # management stats lag a few seconds behind; the queue and its columns are there
    assert re.findall(r'<td class="text-right">(\d+)</td>', row)[2] == "0"  # no consumers
    assert "#/queues/" in queues  # links into the management UI
    assert 'id="queue-error"' not in page
    assert "<td>database</td><td>ok</td>" in page.split('id="health-checks"')[1]


def test_it_marks_stale_heartbeats(app, viewer_client):
    beat("dialer", utcnow(), {"campaigns": 2}, name="dialer@here:1")
    beat("agi", utcnow() - timedelta(hours=1), name="agi@here:2")
    page = viewer_client.get("/admin/operations/").get_data(as_text=True)
    table = page.split('id="heartbeats"')[1]
    assert "dialer@here:1" in table and "campaigns=2" in table
    stale_row = table.split("agi@here:2")[0].rsplit("<tr", 1)[1]
    assert "table-danger" in stale_row


def test_it_says_when_the_management_api_is_unreachable(app, viewer_client):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = app.config["SETTINGS"]
    app.config["SETTINGS"] = dataclasses.replace(settings, rabbitmq_management_url=f"http://127.0.0.1:{port}")
    page = viewer_client.get("/admin/operations/").get_data(as_text=True)
    assert 'id="queue-error"' in page and f"127.0.0.1:{port}" in page


def test_it_shows_reports_quarantined_for_a_missing_or_wrong_call_token(app, viewer_client):
    from app.models import QuarantinedReport

    for reason, event in (("no_token", "answered"), ("bad_token", "dtmf-1"),
                          ("bad_token", "hangup")):
        QuarantinedReport.create(received_at=utcnow(), source="agi", peer="127.0.0.1:40000",
                                 reason=reason, campaign_id=999999, contact_id=5, attempt=1,
                                 event=event, summary="channel=<script>x</script>")
    page = viewer_client.get("/admin/operations/").get_data(as_text=True)
    counts = page.split('id="quarantine-counts"')[1].split("</table>")[0]
    assert "<td>agi</td><td>bad_token</td><td class=\"text-right\">2</td>" in counts
    assert "<td>agi</td><td>no_token</td><td class=\"text-right\">1</td>" in counts
    rows = page.split('id="quarantined"')[1].split("</table>")[0]
    assert rows.count("<td>999999</td>") == 3 and "127.0.0.1:40000" in rows
    assert "<script>x" not in rows and "&lt;script&gt;x" in rows  # peer data is escaped


def test_it_tells_how_often_each_program_restarted_in_the_last_hour(app, viewer_client):
    from app.process_states import record

    now = utcnow()
    record("pbx1", "callcast-agi", "RUNNING", "EXITED", now - timedelta(hours=2), 5, False)
    for minutes in (40, 20, 1):
        at = now - timedelta(minutes=minutes)
        record("pbx1", "callcast-agi", "RUNNING", "EXITED", at, 10 + minutes, False)
        record("pbx1", "callcast-agi", "EXITED", "STARTING", at)
        record("pbx1", "callcast-agi", "STARTING", "RUNNING", at, 11 + minutes)
    page = viewer_client.get("/admin/operations/").get_data(as_text=True)
    assert ("<li>callcast-agi restarted 3 times in the last hour (3 unexpected exits) on pbx1"
            in page.split('id="restarts"')[1])
    row = page.split('id="programs"')[1].split("</table>")[0].split("<tr", 2)[2]
    assert re.findall(r'<td class="text-right">(\d+)</td>', row) == ["3", "3", "0"]
    assert "table-warning" in row and "<td>RUNNING</td>" in row
