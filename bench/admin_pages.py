"""p95 response time of the back office's list pages with 1,000,000 contacts loaded.

    .venv/bin/python bench/admin_pages.py [--rows 1000000] [--requests 200] [--database-url URL]

Loads one contact list of ``--rows`` contacts and one ACTIVE campaign whose
dial states cover all of them (half final), plus 40 small campaigns and lists,
into a fresh SQLite file (or ``--database-url``, an empty database). Then it signs in and times
each page through the Flask test client (the whole app: sign-in gate, CSRF,
Flask-Admin, templates; no network):

- the campaign list (progress bars: contacts final / total per campaign),
- the contact-list list,
- the contacts of the big list, first page and page 200 (keyed on an index),
- and, for information, the live campaign JSON the campaign page polls.

Figures next to two baselines measured in the same run: the same pages before
the million rows are loaded (ratio = what they cost), and the contacts page
with Flask-Admin's counting pager (one COUNT(*) per load, what the console
avoids). Target: p95 <= 150 ms for every page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MS = 150.0
UTC = timezone.utc


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--requests", type=int, default=200, help="timed requests per page")
    p.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    return p.parse_args(argv)


def percentile(values, q):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def load(rows: int) -> dict:
    """Fill the database; return the ids the pages need."""
    from app.db import database, is_postgres
    from app.models import (
        ACTIVE,
        DRAFT,
        FINAL,
        PENDING,
        Campaign,
        CampaignContact,
        Contact,
        ContactList,
    )

    now = datetime.now(UTC)
    big = ContactList.create(name="big list", status="ready", phone_column="phone",
                             columns=["name"], rows_total=rows, rows_imported=rows)
    contact_table = Contact._meta.table_name
    cc_table = CampaignContact._meta.table_name
    started = time.perf_counter()
    # generated in SQL: a million INSERTs through the ORM would time the loader, not the pages
    if is_postgres():
        rows_sql = (
            f"INSERT INTO {contact_table} (contact_list_id, phone, fields, position) "
            "SELECT %s, '+1202' || lpad(i::text, 7, '0'), '{\"name\":\"person ' || i || '\"}', i + 2 "
            "FROM generate_series(0, %s - 1) AS i"
        )
    else:
        rows_sql = (
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) "
            f"INSERT INTO {contact_table} (contact_list_id, phone, fields, position) "
            "SELECT ?, '+1202' || printf('%07d', i), json_object('name', 'person ' || i), i + 2 FROM n"
        )
    if rows:
        with database.atomic():
            params = (big.id, rows) if is_postgres() else (rows, big.id)
            database.execute_sql(rows_sql, params)
    campaign = Campaign.create(name="big campaign", state=ACTIVE, contact_list=big.id,
                               activated_at=now, dialer_status="channel cap reached")
    half = rows // 2
    with database.atomic():
        database.execute_sql(
            f"INSERT INTO {cc_table} (campaign_id, contact_id, state, attempts, next_attempt_at, "
            f"last_outcome, updated_at) SELECT {database.param}, id, "
            f"CASE WHEN position < {half + 2} THEN {database.param} ELSE {database.param} END, "
            f"1, {database.param}, '', {database.param} FROM {contact_table} WHERE contact_list_id = {database.param}",
            (campaign.id, FINAL, PENDING, (now - timedelta(minutes=1)).replace(tzinfo=None),
             now.replace(tzinfo=None), big.id),
        )
    if is_postgres() and rows:
        # what autovacuum does shortly after a bulk import: fresh planner statistics
        database.execute_sql(f"ANALYZE {contact_table}")
        database.execute_sql(f"ANALYZE {cc_table}")
    for i in range(40):
        small = ContactList.create(name=f"list {i}", status="ready", rows_total=100, rows_imported=100)
        Campaign.create(name=f"campaign {i}", state=DRAFT, contact_list=small.id)
    print(f"loaded {rows:,} contacts + {rows:,} dial states in {time.perf_counter() - started:.1f} s")
    return {"big_list": big.id, "campaign": campaign.id}


def signed_in_client(app):
    from app.users import create_user
    from app.models import User

    if not User.select().where(User.username == "bench").exists():
        create_user("bench", "viewer", "bench password")
    client = app.test_client()
    response = client.post("/login", data={"username": "bench", "password": "bench password"})
    assert response.status_code == 302, response.status_code
    return client


def time_page(client, url, requests):
    """(cold ms, [warm ms...]) for ``url``; every answer must be 200."""
    started = time.perf_counter()
    response = client.get(url)
    cold = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return cold, times


def build(url):
    from app import create_app
    from app.config import get_settings
    from app.db import database
    from app.migrations import upgrade

    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    app = create_app({"WTF_CSRF_ENABLED": False})
    with database.connection_context():
        upgrade(database.obj)
    return app


def measure(app, ids, requests):
    from app.web.admin.contacts import ContactView
    from app.db import database

    pages = {
        "campaign list": "/admin/campaign/",
        "contact-list list": "/admin/contactlist/",
        "contacts, page 1": f"/admin/contact/?flt0_0={ids['big_list']}",
        "contacts, page 200": f"/admin/contact/?flt0_0={ids['big_list']}&page=199",
        "campaign live JSON (2 s poll)": f"/admin/campaign/live/{ids['campaign']}.json",
    }
    results = {}
    client = signed_in_client(app)
    if not database.is_closed():
        database.close()  # each request opens and closes its own connection, as in production
    for name, url in pages.items():
        results[name] = time_page(client, url, requests)
    # the baseline the console avoids: Flask-Admin counting every row per load
    view = next(v for v in app.extensions["admin"][0]._views if isinstance(v, ContactView))
    view.simple_list_pager = False
    try:
        results["contacts with COUNT(*) pager"] = time_page(client, pages["contacts, page 1"],
                                                            max(20, requests // 10))
    finally:
        view.simple_list_pager = True
    return results


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import logging

    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="callcast-bench-admin-"))
    os.environ["MEDIA_DIR"] = str(tmp / "media")
    os.environ["EXPORT_DIR"] = str(tmp / "exports")

    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    app = build(url)
    from app.db import database

    # baseline: the same pages, same engine, before the million rows exist
    with database.connection_context():
        empty_ids = load(0)
    empty = measure(app, empty_ids, args.requests)

    with database.connection_context():
        ids = load(args.rows)
    full = measure(app, ids, args.requests)
    print(f"database: {url}")
    print()
    print(f"p95 over {args.requests} requests per page (test client, in process); target <= {TARGET_MS:.0f} ms")
    print(f"{'page':32} {'rows':>10} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cold ms':>8} {'empty p95':>10} {'ratio':>7}")
    ok = True
    for name, (cold, times) in full.items():
        p95 = percentile(times, 95)
        base = empty.get(name)
        base_p95 = percentile(base[1], 95) if base else float("nan")
        ratio = p95 / base_p95 if base else float("nan")
        baseline_row = name.endswith("COUNT(*) pager") or "JSON" in name
        if not baseline_row:
            ok &= p95 <= TARGET_MS
        print(f"{name:32} {args.rows:>10,} {statistics.median(times):8.1f} {p95:8.1f} {max(times):8.1f} "
              f"{cold:8.1f} {base_p95:10.1f} {ratio:7.2f}{'  (not a target)' if baseline_row else ''}")
    print()
    print("all pages within target" if ok else "SOME PAGE IS OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
