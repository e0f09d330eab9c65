"""Benchmark: finalize a campaign of ~330,000 contacts and ~1,000,000 events.

    .venv/bin/python bench/finalize.py [--contacts 330000] [--db sqlite|postgres]
                                       [--keep-data FILE | --data FILE]

Prints, for the whole finalization (results, report, CSV, charts, archive,
purge, CLOSED) and for its aggregation step alone (the per-contact fold into
contact_result), the wall time and the peak RSS, next to the baseline measured
in the same run: a raw SQL per-contact fold of the same events (one GROUP BY
over call_event, every row fetched). Each measured part runs in a fresh
process so its peak RSS is its own. Targets (issue 6): aggregation <= 1.5x the
raw fold; whole finalization <= 15 s; peak RSS <= 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

T0 = datetime(2026, 11, 23, 8, 0)
RAW_FOLD = """
SELECT contact_id,
  MAX(attempt),
  MIN(CASE WHEN name = 'answered' THEN received_at END),
  MAX(CASE WHEN name = 'hangup' THEN received_at END),
  MAX(CASE WHEN name LIKE 'failed-%' THEN attempt END),
  MAX(CASE WHEN name LIKE 'dtmf-%' THEN name END),
  MAX(received_at)
FROM call_event WHERE campaign_id = ? GROUP BY contact_id
"""


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def ts(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="microseconds")


# --- data --------------------------------------------------------------------------


def generate(url: str, contacts: int, seed: int = 7) -> dict:
    """Fill a fresh database with one FINALIZING campaign; return its counts."""
    os.environ["DATABASE_URL"] = url
    from app.config import get_settings

    get_settings.cache_clear()
    from app.db import init_database, is_postgres
    from app.migrations import upgrade

    db = init_database(url)
    db.connect()
    upgrade(db)
    p = "%s" if is_postgres(db) else "?"
    rng = random.Random(seed)
    cur = db.cursor()

    def many(sql, rows):
        sql = sql.replace("?", p)
        if is_postgres(db):
            from psycopg2.extras import execute_batch

            execute_batch(cur, sql, rows, page_size=5000)
        else:
            cur.executemany(sql, rows)

    with db.atomic():
        cur.execute(
            f"INSERT INTO contact_list (name, source_filename, default_country, phone_column, columns, "
            f"status, rows_total, rows_imported, rows_rejected, rows_duplicate, rejects_path, error, created_at) "
            f"VALUES ({', '.join([p] * 13)})",
            ("bench", "bench.csv", "FR", "Phone", json.dumps(["name", "city", "ref"]), "ready",
             contacts, contacts, 0, 0, "", "", ts(T0)),
        )
        list_id = 1
        cur.execute(
            "INSERT INTO campaign (name, state, timezone, max_channels, max_attempts, weight, "
            "retry_busy_s, retry_noanswer_s, retry_failed_s, retry_on, ring_timeout_s, max_call_s, "
            "caller_id, message_file, message_sound, digit_timeout_s, message_repeats, contact_list_id, "
            "created_at, updated_at, dialer_status, tick_token) "
            f"VALUES ({', '.join([p] * 22)})",
            ("bench", "FINALIZING", "Europe/Paris", 100, 3, 1, 300, 600, 900,
             "busy,noanswer,congestion,failed", 30, 300, "", "", "hello-world", 5, 2, list_id,
             ts(T0), ts(T0), "", ""),
        )
        campaign_id = 1
        many("INSERT INTO campaign_option (campaign_id, digit, label, action, target) VALUES (?, ?, ?, ?, ?)",
             [(campaign_id, d, label, "record", "") for d, label in
              (("1", "Confirm"), ("2", "Cancel"), ("3", "Call me back"))])
    events_n = attempts_n = 0
    batch_c, batch_cc, batch_a, batch_e = [], [], [], []
    failures = ("failed-busy", "failed-noanswer", "failed-congestion", "failed-unavailable")

    def flush():
        with db.atomic():
            many("INSERT INTO contact (contact_list_id, phone, fields, position) VALUES (?, ?, ?, ?)", batch_c)
            many("INSERT INTO campaign_contact (campaign_id, contact_id, state, attempts, next_attempt_at, "
                 "last_outcome, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", batch_cc)
            many("INSERT INTO call_attempt (campaign_id, contact_id, number, state, channel_id, originated_at, "
                 "answered_at, finished_at, outcome, digit, hangup_cause) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 batch_a)
            many("INSERT INTO call_event (campaign_id, contact_id, attempt, name, received_at, uniqueid, "
                 "channel, source, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch_e)
        for b in (batch_c, batch_cc, batch_a, batch_e):
            b.clear()

    for i in range(contacts):
        contact_id = i + 1
        batch_c.append((list_id, f"+3361{i:07d}",
                        json.dumps({"name": f"Client {i}", "city": "Lyon", "ref": f"R{i:06d}"}), i + 2))
        at = T0 + timedelta(seconds=i * 0.1)
        outcome, n = "", 0
        for n in range(1, 4):
            uid = f"cc-{campaign_id}-{contact_id}-{n}"
            roll = rng.random()
            if roll < 0.55:
                evs = [("answered", 0)]
                if rng.random() < 0.85:
                    evs.append((f"dtmf-{rng.choice('123')}", 12))
                evs.append(("hangup", 20 + rng.randrange(40)))
                outcome = "answered"
            else:
                evs = [(rng.choice(failures), 25)]
                outcome = evs[0][0][len("failed-"):]
            for name, sec in evs:
                data = json.dumps({"hangupcause": "16"}) if name == "hangup" else "{}"
                batch_e.append((campaign_id, contact_id, n, name, ts(at + timedelta(seconds=sec)), uid,
                                f"Local/{i}@pstn-0001;2", "agi", data))
            events_n += len(evs)
            batch_a.append((campaign_id, contact_id, n, "done", uid, ts(at), None, ts(at + timedelta(seconds=60)),
                            outcome, "", ""))
            attempts_n += 1
            if outcome == "answered":
                break
            at += timedelta(hours=1)
        batch_cc.append((campaign_id, contact_id, "final", n, ts(at), outcome, ts(at)))
        if len(batch_c) >= 10_000:
            flush()
    flush()
    if is_postgres(db):
        # what autovacuum does after a bulk load: the planner needs statistics
        db.execute_sql("ANALYZE")
    db.close()
    return {"contacts": contacts, "attempts": attempts_n, "events": events_n}


# --- measured parts (each in its own process) ----------------------------------------


def part_raw(url: str) -> dict:
    os.environ["DATABASE_URL"] = url
    from app.db import init_database, is_postgres

    db = init_database(url)
    db.connect()
    if not is_postgres(db):
        db.execute_sql("PRAGMA temp_store = MEMORY")  # as finalization sets it
    sql = RAW_FOLD.replace("%", "%%").replace("?", "%s") if is_postgres(db) else RAW_FOLD
    start, cpu = time.perf_counter(), time.process_time()
    cursor = db.execute_sql(sql, (1,))
    n = 0
    while True:
        page = cursor.fetchmany(10_000)
        if not page:
            break
        n += len(page)
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "rows": n, "peak_rss_mb": peak_rss_mb()}


def part_fold(url: str) -> dict:
    """The aggregation step alone: the results fold (as the step runs it), rolled back."""
    os.environ["DATABASE_URL"] = url
    from app.config import get_settings

    get_settings.cache_clear()
    from app.db import init_database, is_postgres
    from app.finalization import fold_results

    db = init_database(url)
    db.connect()
    if not is_postgres(db):
        db.execute_sql("PRAGMA temp_store = MEMORY")  # as finalization sets it
    start, cpu = time.perf_counter(), time.process_time()
    with db.atomic() as txn:
        rows = fold_results(1, 1)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        txn.rollback()
    return {"seconds": seconds, "cpu": cpu, "rows": rows, "peak_rss_mb": peak_rss_mb()}


def part_finalize(url: str, export_dir: str) -> dict:
    os.environ["DATABASE_URL"] = url
    os.environ["EXPORT_DIR"] = export_dir
    from app.config import get_settings

    get_settings.cache_clear()
    from app.db import init_database
    from app.finalization import STEPS, finalize

    db = init_database(url)
    db.connect()
    now = datetime.now(timezone.utc)
    steps, cpus, rss = {}, {}, {}
    start, cpu = time.perf_counter(), time.process_time()
    for step in STEPS:
        t, c = time.perf_counter(), time.process_time()
        done = finalize(1, now, stop_after=step)
        assert done == step, (done, step)
        steps[step] = round(time.perf_counter() - t, 3)
        cpus[step] = round(time.process_time() - c, 3)
        rss[step] = round(peak_rss_mb(), 1)
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "steps": steps, "cpu_steps": cpus, "peak_rss_after_step_mb": rss,
            "peak_rss_mb": peak_rss_mb()}


def run_part(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"bench part {args} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=330_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--data", help="a SQLite file made by an earlier run's generator: "
                        "use a copy of it instead of generating (saves minutes)")
    parser.add_argument("--keep-data", help="keep a copy of the generated SQLite file here")
    parser.add_argument("--part", choices=("generate", "raw", "fold", "finalize"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--export-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.part == "generate":
        print(json.dumps(generate(args.url, args.contacts)))
        return
    if args.part == "raw":
        print(json.dumps(part_raw(args.url)))
        return
    if args.part == "fold":
        print(json.dumps(part_fold(args.url)))
        return
    if args.part == "finalize":
        print(json.dumps(part_finalize(args.url, args.export_dir)))
        return

    work = tempfile.mkdtemp(prefix="callcast-bench-")
    pg_name = None
    try:
        if args.db == "postgres":
            import psycopg2

            pg_name = f"callcast_bench_{os.getpid()}"
            admin = psycopg2.connect(dbname="postgres", host="127.0.0.1", user="postgres")
            admin.autocommit = True
            admin.cursor().execute(f'CREATE DATABASE "{pg_name}"')
            admin.close()
            url = f"postgresql://postgres@127.0.0.1:5432/{pg_name}"
        else:
            url = f"sqlite:///{work}/bench.db"
        t = time.perf_counter()
        if args.data and args.db == "sqlite":
            shutil.copy(args.data, f"{work}/bench.db")
            import sqlite3

            con = sqlite3.connect(f"{work}/bench.db")
            counts = {
                "contacts": con.execute("SELECT COUNT(*) FROM contact").fetchone()[0],
                "attempts": con.execute("SELECT COUNT(*) FROM call_attempt").fetchone()[0],
                "events": con.execute("SELECT COUNT(*) FROM call_event").fetchone()[0],
            }
            con.close()
            made = f"copied from {args.data}"
        else:
            counts = run_part(["--part", "generate", "--url", url, "--contacts", str(args.contacts)])
            made = f"generated in {time.perf_counter() - t:.1f} s"
            if args.keep_data and args.db == "sqlite":
                shutil.copy(f"{work}/bench.db", args.keep_data)
        print(f"data: {counts['contacts']:,} contacts, {counts['attempts']:,} attempts, "
              f"{counts['events']:,} events on {args.db} ({made})")
        print(f"load average before the run: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
              f"on {os.cpu_count()} CPUs")
        # interleaved, best of three each: the machine's load shifts during a run
        raws, folds = [], []
        for _ in range(3):
            raws.append(run_part(["--part", "raw", "--url", url]))
            folds.append(run_part(["--part", "fold", "--url", url]))
        raw = min(raws, key=lambda r: r["seconds"])
        fold = min(folds, key=lambda r: r["seconds"])
        raw_cpu = min(r["cpu"] for r in raws)
        fold_cpu = min(r["cpu"] for r in folds)
        fin = run_part(["--part", "finalize", "--url", url, "--export-dir", f"{work}/exports"])
        # CPU time is what the machine's other load cannot inflate much; wall time is
        # what an operator waits. Both are printed, each as best of three.
        print(f"baseline raw SQL per-contact fold: wall {raw['seconds']:.2f} s, CPU {raw_cpu:.2f} s, "
              f"{raw['rows']:,} rows, peak RSS {raw['peak_rss_mb']:.0f} MB")
        print(f"aggregation step (results fold):    wall {fold['seconds']:.2f} s = "
              f"{fold['seconds'] / raw['seconds']:.2f}x, CPU {fold_cpu:.2f} s = {fold_cpu / raw_cpu:.2f}x "
              f"the raw fold (target <= 1.5x), {fold['rows']:,} rows, peak RSS {fold['peak_rss_mb']:.0f} MB")
        print(f"whole finalization:                 wall {fin['seconds']:.2f} s, CPU {fin['cpu']:.2f} s "
              f"(target <= 15 s), peak RSS {fin['peak_rss_mb']:.0f} MB (target <= 300 MB)")
        print(f"load average after the run: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print("  steps wall: " + ", ".join(f"{k} {v:.2f} s" for k, v in fin["steps"].items()))
        print("  steps CPU:  " + ", ".join(f"{k} {v:.2f} s" for k, v in fin["cpu_steps"].items()))
        exports = Path(work) / "exports" / "campaign-1"
        sizes = {p.name: p.stat().st_size for p in sorted(exports.iterdir())}
        print("  files: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if pg_name:
            import psycopg2

            admin = psycopg2.connect(dbname="postgres", host="127.0.0.1", user="postgres")
            admin.autocommit = True
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            admin.close()


if __name__ == "__main__":
    main()
