"""Response time of the home dashboard's JSON (polled every 5 s) with busy campaigns loaded.

    .venv/bin/python bench/dashboard.py [--campaigns 20] [--attempts 20000] [--requests 100]

Loads ``--campaigns`` ACTIVE campaigns, each with ``--attempts`` contacts and one
finished call attempt per contact spread over the last two hours (so about a
quarter fall in the dashboard's 30-minute window), into a fresh SQLite file. Then
it signs in and times, through the Flask test client (the whole app, no network):

- ``/admin/dashboard.json``: every open campaign's row (progress, calls per minute,
  answer rate, digits, warnings);
- for comparison, measured in the same run: the campaign list page (the page the
  console showed as home before), and the dashboard before the attempts are loaded.

The /health checks the dashboard shows are cached (HEALTH_CACHE_SECONDS=60 here), as
the web process caches them; the first request, which runs them, is the "cold" one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from admin_pages import build, percentile, signed_in_client, time_page  # noqa: E402


def create_campaigns(count: int) -> list[tuple[int, int]]:
    """``count`` ACTIVE campaigns with three options each; their (campaign id, list id)."""
    from app.models import ACTIVE, Campaign, CampaignOption, ContactList

    found = []
    for n in range(count):
        lst = ContactList.create(name=f"list {n}", status="ready")
        c = Campaign.create(name=f"campaign {n}", state=ACTIVE, contact_list=lst.id, max_channels=20)
        for digit in "123":
            CampaignOption.create(campaign=c.id, digit=digit, label=f"option {digit}")
        found.append((c.id, lst.id))
    return found


def fill(campaign_id: int, list_id: int, attempts: int, now: datetime) -> None:
    """Contacts, final dial states and finished attempts over the last 2 hours, in SQL."""
    from app.db import database
    from app.models import ContactList

    stamp = now.strftime("%Y-%m-%d %H:%M:%S")  # stored naive UTC
    ContactList.update(rows_total=attempts, rows_imported=attempts).where(ContactList.id == list_id).execute()
    database.execute_sql(
        "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < ? - 1) "
        "INSERT INTO contact (contact_list_id, phone, fields, position) "
        "SELECT ?, '+1202' || printf('%07d', n), '{}', n + 2 FROM i", (attempts, list_id))
    database.execute_sql(
        "INSERT INTO campaign_contact (campaign_id, contact_id, state, attempts, next_attempt_at, "
        "last_outcome, updated_at, given_back) SELECT ?, id, 'final', 1, ?, "
        "CASE id % 3 WHEN 0 THEN 'busy' ELSE 'answered' END, ?, 0 FROM contact "
        "WHERE contact_list_id = ?", (campaign_id, stamp, stamp, list_id))
    database.execute_sql(
        "INSERT INTO call_attempt (campaign_id, contact_id, number, state, channel_id, "
        "originated_at, finished_at, outcome, digit, hangup_cause) "
        "SELECT ?, id, 1, 'done', 'cc-' || ? || '-' || id || '-1', ?, "
        "strftime('%Y-%m-%d %H:%M:%S', ?, '-' || (id % 7200) || ' seconds'), "
        "CASE id % 3 WHEN 0 THEN 'busy' ELSE 'answered' END, "
        "CASE id % 4 WHEN 0 THEN '1' WHEN 1 THEN '2' ELSE '' END, '' "
        "FROM contact WHERE contact_list_id = ?", (campaign_id, campaign_id, stamp, stamp, list_id))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--campaigns", type=int, default=20)
    p.add_argument("--attempts", type=int, default=20_000, help="contacts and attempts per campaign")
    p.add_argument("--requests", type=int, default=100)
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="callcast-bench-dashboard-"))
    os.environ.update(LOG_LEVEL="WARNING", HEALTH_CACHE_SECONDS="60", AMI_TIMEOUT="1", DEMO="1",
                      MEDIA_DIR=str(tmp / "media"), EXPORT_DIR=str(tmp / "exports"))
    app = build(f"sqlite:///{tmp / 'bench.db'}")
    from app.db import database

    with database.connection_context():
        created = create_campaigns(args.campaigns)
    client = signed_in_client(app)  # each request opens and closes its own connection
    empty = time_page(client, "/admin/dashboard.json", args.requests)
    started, now = time.perf_counter(), datetime.now(timezone.utc)
    with database.connection_context(), database.atomic():
        for campaign_id, list_id in created:
            fill(campaign_id, list_id, args.attempts, now)
    print(f"loaded {args.campaigns} x {args.attempts:,} contacts and attempts "
          f"in {time.perf_counter() - started:.1f} s")
    database.close()
    rows = {
        "dashboard JSON": time_page(client, "/admin/dashboard.json", args.requests),
        "campaign list page (baseline)": time_page(client, "/admin/campaign/", args.requests),
        "dashboard JSON, no attempts (baseline)": empty,
    }
    row = client.get("/admin/dashboard.json").get_json()["campaigns"][0]
    print(f"one row: {sum(row['per_minute'])} calls ended in the last 30 min, answer rate "
          f"{row['answer_rate']}, progress {row['contacts_final']}/{row['contacts_total']}")
    print(f"{'request':40} {'p50 ms':>8} {'p95 ms':>8} {'cold ms':>8}")
    for name, (cold, times) in rows.items():
        print(f"{name:40} {statistics.median(times):8.1f} {percentile(times, 95):8.1f} {cold:8.1f}")


if __name__ == "__main__":
    main()
