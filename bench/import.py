"""Time and peak memory of a 1,000,000-row contact import, next to two floors.

    .venv/bin/python bench/import.py [--rows 1000000] [--country US] [--database-url URL]

One generated CSV (names, a phone column in mixed formats, zip codes and
account numbers with leading zeros, ~1% bad numbers, ~1% duplicates) is fed,
in this run, to:

  sqlite3 .import   the sqlite3 CLI loading it into a plain table (no validation)
  phonenumbers      one process reading the CSV and parsing every number
                    (parse + is_valid_number + E.164), no database
  callcast import   app.contacts.import_contact_list: sniffing, E.164,
                    rejects CSV, duplicates, batched inserts, both cores

Each runs as its own child process; wall time is measured around it and peak
RSS is the highest sum of RSS over the child and all its descendants (sampled
every 20 ms), so the import's worker processes count too.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_WALL_S = 20.0
TARGET_RSS_MB = 200.0

FIRST = ["Jean", "Zoé", "René", "Mary", "John", "Ana", "Luis", "Chloé", "Omar", "Li", "Kim", "Sam"]
LAST = ["Smith", "García", "Müller", "Dupont", "Nguyen", "Johnson", "O'Brien", "Rossi", "Brown"]


# --- data ----------------------------------------------------------------------------


def valid_area_codes(country):
    import phonenumbers

    codes = []
    for area in range(200, 1000):
        number = phonenumbers.parse(f"{area}2345678", country)
        if phonenumbers.is_valid_number(number):
            codes.append(area)
    return codes


def generate(path: Path, rows: int, seed: int = 7):
    """Write the US test file: mixed phone formats, ~1% bad, ~1% repeated."""
    rng = random.Random(seed)
    areas = valid_area_codes("US")
    formats = ("({a}) {e}-{l}", "{a}-{e}-{l}", "+1 {a} {e} {l}", "{a}{e}{l}", "1-{a}-{e}-{l}")
    recent = []
    with open(path, "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["first_name", "last_name", "phone", "zip", "account", "city"])
        for i in range(rows):
            roll = rng.random()
            if roll < 0.01 and recent:
                phone = rng.choice(recent)  # a duplicate, written the same way
            elif roll < 0.02:
                phone = rng.choice(("n/a", "12345", "(212) 055-0000", "", "call later"))
            else:
                phone = rng.choice(formats).format(
                    a=rng.choice(areas), e=rng.randint(200, 999), l=f"{rng.randint(0, 9999):04d}"
                )
                if len(recent) < 1000:
                    recent.append(phone)
                else:
                    recent[rng.randrange(1000)] = phone
            out.writerow(
                [
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    phone,
                    f"{rng.randint(0, 99999):05d}",
                    f"{rng.randint(0, 10**8):010d}",
                    "Springfield",
                ]
            )


# --- stages (each runs in its own child process) ----------------------------------------


def stage_sqlite_schema(work: Path):
    # the plain table the CLI fills: columns named after the header
    import sqlite3

    db = work / "plain.db"
    db.unlink(missing_ok=True)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE contact (first_name TEXT, last_name TEXT, phone TEXT, zip TEXT, "
            "account TEXT, city TEXT)"
        )


def stage_phonenumbers(csv_path: Path, country: str):
    import phonenumbers

    e164 = phonenumbers.PhoneNumberFormat.E164
    good = bad = 0
    with open(csv_path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            try:
                number = phonenumbers.parse(row[2], country)
            except phonenumbers.NumberParseException:
                bad += 1
                continue
            if phonenumbers.is_valid_number(number):
                phonenumbers.format_number(number, e164)
                good += 1
            else:
                bad += 1
    print(f"valid={good} invalid={bad}")


def stage_callcast(csv_path: Path, country: str, database_url: str, workers: int | None):
    from app.config import get_settings
    from app.db import init_database
    from app.migrations import upgrade

    get_settings.cache_clear()
    db = init_database(database_url)
    with db.connection_context():
        upgrade(db)
        from app import contacts
        from app.models import Contact, ContactList

        Contact.delete().execute()
        ContactList.delete().execute()
        contact_list, plan = contacts.create_contact_list("bench", csv_path, country)
        done = contacts.import_contact_list(contact_list.id, csv_path, workers=workers)
        stored = Contact.select().where(Contact.contact_list == done.id).count()
    print(
        f"total={done.rows_total} imported={done.rows_imported} rejected={done.rows_rejected} "
        f"duplicate={done.rows_duplicate} stored={stored} phone_column={done.phone_column}"
    )


# --- measuring --------------------------------------------------------------------------


def measure(label, argv, env=None):
    """Run ``argv``; return (label, wall s, CPU s, peak tree RSS MB, peak main RSS MB, output).

    CPU seconds (user + system of the child and every descendant it waited
    for) do not depend on what else the machine runs; wall time does.
    """
    import resource

    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    proc = psutil.Process(child.pid)
    peaks = {"tree": 0, "main": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                main = proc.memory_info().rss
                total = main
                for sub in proc.children(recursive=True):
                    try:
                        total += sub.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                break
            peaks["main"] = max(peaks["main"], main)
            peaks["tree"] = max(peaks["tree"], total)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = child.communicate()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    done.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"{label} failed with exit code {child.returncode}")
    return label, wall, cpu, peaks["tree"] / 2**20, peaks["main"] / 2**20, output.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--country", default="US")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.stage:
        work = Path(args.work)
        csv_path = work / "contacts.csv"
        if args.stage == "phonenumbers":
            stage_phonenumbers(csv_path, args.country)
        elif args.stage == "callcast":
            stage_callcast(csv_path, args.country, args.database_url, args.workers)
        return

    if shutil.which("sqlite3") is None:
        raise SystemExit("the sqlite3 CLI is missing: apt-get install -y sqlite3")
    work = Path(tempfile.mkdtemp(prefix="callcast-bench-import-"))
    try:
        csv_path = work / "contacts.csv"
        started = time.perf_counter()
        generate(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 2**20
        print(
            f"file: {args.rows:,} rows, {size_mb:.1f} MB, generated in "
            f"{time.perf_counter() - started:.1f} s; {os.cpu_count()} cores"
        )
        database_url = args.database_url or f"sqlite:///{work}/callcast.db"
        env = dict(os.environ)
        env.update(
            DATABASE_URL=database_url,
            EXPORT_DIR=str(work / "exports"),
            MEDIA_DIR=str(work / "media"),
            PYTHONPATH=str(ROOT),
        )
        me = [sys.executable, str(Path(__file__).resolve()), "--work", str(work)]
        me += ["--country", args.country]
        stage_sqlite_schema(work)
        results = [
            measure(
                "sqlite3 .import (floor)",
                [
                    "sqlite3",
                    str(work / "plain.db"),
                    ".mode csv",
                    f".import --skip 1 {csv_path} contact",
                ],
            ),
            measure("phonenumbers, 1 process (floor)", me + ["--stage", "phonenumbers"], env),
        ]
        callcast = me + ["--stage", "callcast", "--database-url", database_url]
        if args.workers is not None:
            callcast += ["--workers", str(args.workers)]
        results.append(measure("callcast import", callcast, env))
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    floor_sqlite, floor_phone = results[0][1], results[1][1]
    print()
    print(
        f"{'':34} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12} {'(main)':>8} "
        f"{'wall x sqlite3':>15} {'wall x phonenumbers':>20}"
    )
    for label, wall, cpu, tree, main_rss, _ in results:
        print(
            f"{label:34} {wall:8.2f} {cpu:8.2f} {tree:12.1f} {main_rss:8.1f} "
            f"{wall / floor_sqlite:15.2f} {wall / floor_phone:20.2f}"
        )
    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.2f} on {os.cpu_count()} cores")
    for label, *_, output in results:
        if output:
            print(f"{label}: {output}")
    wall, tree = results[2][1], results[2][3]
    print(
        f"\ntargets (1,000,000 rows): wall <= {TARGET_WALL_S:.0f} s: "
        f"{'met' if wall <= TARGET_WALL_S else 'NOT met'} ({wall:.1f} s); "
        f"peak RSS <= {TARGET_RSS_MB:.0f} MB: {'met' if tree <= TARGET_RSS_MB else 'NOT met'} "
        f"({tree:.0f} MB, processes together)"
    )


if __name__ == "__main__":
    main()
