"""Dialer throughput and tick cost, against pbxsim and the AGI daemon (separate processes).

Part 1, sustained originates/s: one campaign of ``--contacts`` (10,000) short
calls (lastdigit numbers ending 8 and 1: answered, over in a simulated second
or three; pbxsim runs at ``--speed``), ``--max-channels`` 500, ticks every
``--tick-ms`` through ``app.dialer.run_tick`` (fold, reconcile, count, claim,
originate, status) until every contact was originated. Baseline in the same
run: the same number of originates sent straight through ``AmiClient``
(pipelined, no database): the ceiling the dialer can reach.

Part 3, the callee's own hours: one list of ``--zones`` (1,000,000) contacts spread over 6
US zones (New York, Chicago, Denver, Phoenix, Los Angeles, Anchorage area codes; each
contact's zone set stored as an import stores it), two campaigns on it: the same ticks
with ``callee_window`` off (the baseline, the plain due query) and on ("00:00-24:00":
all 6 zone sets open, the union's worst case), in the same run. Target: on/off <= 1.2
and <= 50 ms.

Part 2, one tick with ``--big`` (1,000,000) contacts in the list: the wall time
of ticks of a campaign at max_channels ``--tick-channels`` (each tick: PBX
snapshot, fold, reconcile, live count, due query on the (campaign, state,
next_attempt_at) index, claim, originate, status). Baseline in the same run:
the same ticks on a 10,000-contact campaign; ratio big / small shows the tick
does not grow with the list. Prints the due query's plan.

    .venv/bin/python bench/dialer.py
    .venv/bin/python bench/dialer.py --contacts 2000 --big 100000   # quick
    .venv/bin/python bench/dialer.py --pbx 1,2,4   # over a pool of 1, 2, 4 pbxsim (dialer_pool.py)

Not a timed test: prints figures. Targets: >= 200 originates/s; tick <= 50 ms at 1M.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def utcnow():
    return datetime.now(timezone.utc)


def spawn(argv, env, log_path):
    log = open(log_path, "ab")
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def wait_file(path, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {path}")
        time.sleep(0.05)
    return path.read_text().split()[0]


def make_list(db, name, n, last_digits):
    """A ready contact list of ``n`` numbers whose last digits cycle through ``last_digits``."""
    from app.models import ContactList

    contact_list = ContactList.create(name=name, status="ready", rows_total=n, rows_imported=n)
    base = 2_000_000_000 + contact_list.id * 20_000_000
    p = db.param
    sql = (f"INSERT INTO contact (contact_list_id, phone, fields, position) "
           f"VALUES ({p}, {p}, {p}, {p})")
    rows = []
    for i in range(n):
        number = (base + i) * 10 + int(last_digits[i % len(last_digits)])
        rows.append((contact_list.id, f"+1{number}", "{}", i + 2))
    with db.atomic():
        cursor = db.cursor()
        for start in range(0, n, 50_000):
            cursor.executemany(sql, rows[start : start + 50_000])
    return contact_list.id


def make_campaign(list_id, name, max_channels, **fields):
    from datetime import time as tod

    from app.models import CallWindow, Campaign, CampaignOption

    values = dict(name=name, contact_list=list_id, max_channels=max_channels,
                  message_sound="hello-world", ring_timeout_s=10, max_call_s=60,
                  digit_timeout_s=1, message_repeats=1, max_attempts=1)
    values.update(fields)
    campaign = Campaign.create(**values)
    for d in range(7):
        CallWindow.create(campaign=campaign.id, weekday=d, starts=tod(0), ends=tod(0))
    for digit in "1234":
        CampaignOption.create(campaign=campaign.id, digit=digit, label=digit)
    return campaign.id


def baseline_originates(ami, campaign_id, count, in_flight):
    """Pipelined originates straight through the AMI client: (count, seconds).

    The calls use the campaign's context with contact ids no list has, so their
    events never match an attempt.
    """
    from app.pbx.originate import originate_args

    spec = {"id": campaign_id, "ring_timeout_s": 10}
    start = time.perf_counter()
    window = []
    done = 0
    for i in range(count):
        args = originate_args(spec, 1_000_000 + i, 1, f"+1999{i:07d}8")
        window.append(ami.originate(**args, wait=False))
        if len(window) >= in_flight:
            window.pop(0).result()
            done += 1
    for p in window:
        p.result()
        done += 1
    return done, time.perf_counter() - start


def wait_idle(ami, timeout=120.0):
    deadline = time.monotonic() + timeout
    while True:
        channels = ami.core_show_channels()
        if not channels:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"pbxsim still has {len(channels)} channels")
        time.sleep(0.1)


def peak_calls(port, account):
    """pbxsim's recorded peak for ``account`` (raw socket: the stats carry every call)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"Action: Login\r\nUsername: callcast\r\nSecret: callcast\r\n"
                     b"Events: off\r\n\r\nAction: PbxsimStats\r\nActionID: s\r\n\r\n")
        data = b""
        while b"JSON: " not in data or not data.rstrip(b"\r\n").endswith(b"}"):
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    line = data.split(b"JSON: ", 1)[1].split(b"\r\n", 1)[0]
    return json.loads(line)["peak_calls"].get(account)


def throughput(campaign_id, ami, settings, tick_s, total):
    """Tick until ``total`` originates happened: (originates, seconds, ticks, tick times)."""
    from app.dialer import run_tick

    originated = 0
    ticks = []
    phases = {}
    first = None
    last = None
    deadline = time.monotonic() + 600
    cpu0 = time.process_time()
    while originated < total and time.monotonic() < deadline:
        t0 = time.perf_counter()
        result = run_tick(campaign_id, utcnow(), ami, settings)
        t1 = time.perf_counter()
        ticks.append(t1 - t0)
        for name, secs in result.timings.items():
            phases[name] = phases.get(name, 0.0) + secs
        if result.originated:
            first = first if first is not None else t0
            last = t1
            originated += result.originated
        if result.delay_s is None:
            break
        time.sleep(max(0.0, tick_s - (t1 - t0)))
    total_s = sum(ticks) or 1.0
    cpu = time.process_time() - cpu0
    print("          tick time by phase: " + ", ".join(
        f"{k} {v / len(ticks) * 1000:.1f} ms" for k, v in phases.items())
        + f" (of {total_s / len(ticks) * 1000:.1f} ms); dialer CPU {cpu:.1f}s = "
        f"{originated / cpu if cpu else 0:.0f} originates per CPU-second")
    return originated, (last - first) if first else 0.0, len(ticks), ticks


def tick_times(campaign_id, ami, settings, tick_s, n):
    from app.dialer import run_tick

    times = []
    cpu = []
    phases = {}
    for _ in range(n):
        t0 = time.perf_counter()
        c0 = time.process_time()
        result = run_tick(campaign_id, utcnow(), ami, settings)
        dt = time.perf_counter() - t0
        cpu.append(time.process_time() - c0)
        times.append(dt)
        for name, secs in result.timings.items():
            phases[name] = phases.get(name, 0.0) + secs
        time.sleep(max(0.0, tick_s - dt))
    print("          tick time by phase: " + ", ".join(
        f"{k} {v / n * 1000:.1f} ms" for k, v in phases.items())
        + f"; CPU of this process per tick: median {statistics.median(cpu) * 1000:.1f} ms")
    return times


def due_plan(db, campaign_id):
    from app.dialer import due_contacts  # noqa: F401  (the query under test)
    from app.models import CampaignContact, Contact, DoNotCall, PENDING
    from peewee import JOIN

    query = (
        CampaignContact.select(CampaignContact.id, CampaignContact.contact,
                               CampaignContact.attempts, Contact.phone,
                               DoNotCall.id.alias("dnc_id"))
        .join(Contact, on=(CampaignContact.contact == Contact.id))
        .join(DoNotCall, JOIN.LEFT_OUTER, on=(DoNotCall.phone == Contact.phone))
        .where((CampaignContact.campaign == campaign_id) & (CampaignContact.state == PENDING)
               & (CampaignContact.next_attempt_at <= utcnow()))
        .order_by(CampaignContact.next_attempt_at).limit(50)
    )
    sql, params = query.sql()
    prefix = "EXPLAIN QUERY PLAN " if "sqlite" in type(db).__name__.lower() else "EXPLAIN "
    return [" ".join(str(c) for c in row) for row in db.execute_sql(prefix + sql, params)]


ZONE_AREAS = ("212", "312", "303", "602", "310", "907")  # NY, Chicago, Denver, Phoenix, LA, AK


def make_zone_list(db, n):
    """A ready list of ``n`` numbers over ZONE_AREAS, each with its zone set (as imported)."""
    from app.callee_hours import zone_sets_for
    from app.models import ContactList

    contact_list = ContactList.create(name="zones", status="ready", rows_total=n, rows_imported=n)
    samples = [f"+1{area}5550100" for area in ZONE_AREAS]
    zone_of = dict(zip(ZONE_AREAS, zone_sets_for(db, contact_list.id, samples)))
    p = db.param
    sql = (f"INSERT INTO contact (contact_list_id, phone, fields, position, zone_set) "
           f"VALUES ({p}, {p}, {p}, {p}, {p})")
    rows = []
    for i in range(n):
        area = ZONE_AREAS[i % len(ZONE_AREAS)]
        rows.append((contact_list.id, f"+1{area}{2000000 + i // len(ZONE_AREAS):07d}", "{}",
                     i + 2, zone_of[area]))
    with db.atomic():
        cursor = db.cursor()
        for start in range(0, n, 50_000):
            cursor.executemany(sql, rows[start : start + 50_000])
    return contact_list.id, len(set(zone_of.values()))


def part_zones(db, ami, settings, args, tick_s, blocks=4):
    """Part 3: ticks with callee hours on and off, one list over 6 zones, same run.

    One campaign ticks at a time (the other paused, its calls over), in ``blocks``
    alternating blocks (off, on, on, off, ...), so drift in the machine's load falls on both.
    """
    from app.campaigns.activation import activate, pause, resume

    t0 = time.perf_counter()
    list_id, sets = make_zone_list(db, args.zones)
    cids = {}
    for label, window in (("off", ""), ("on", "00:00-24:00")):
        cids[label] = make_campaign(list_id, f"zones {label}", args.tick_channels,
                                    max_attempts=3, retry_busy_s=1, retry_noanswer_s=1,
                                    retry_failed_s=1, callee_window=window)
        activate(cids[label], utcnow(), ami=ami)
        pause(cids[label], utcnow())
    db.execute_sql("ANALYZE")
    prep = time.perf_counter() - t0
    times = {"off": [], "on": []}
    for block in range(blocks):
        for label in (("off", "on") if block % 2 == 0 else ("on", "off")):
            resume(cids[label], utcnow())
            times[label] += tick_times(cids[label], ami, settings, tick_s,
                                       max(1, args.ticks // blocks))
            pause(cids[label], utcnow())
            wait_idle(ami)
    medians = {label: statistics.median(values) for label, values in times.items()}
    for label, values in times.items():
        print(f"tick, callee hours {label:>3}, {args.zones:,} contacts over {sets} zone sets: "
              f"median {medians[label] * 1000:.1f} ms, p95 {pct(values, 0.95) * 1000:.1f} ms "
              f"over {len(values)} ticks")
    ratio = medians["on"] / medians["off"]
    ok = ratio <= 1.2 and medians["on"] <= 0.050
    print(f"ratio callee hours on/off median tick {ratio:.2f} (list + 2 activations "
          f"{prep:.0f}s)  target <= 1.2 and <= 50 ms: {'ok' if ok else 'MISSED'}")


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def part_throughput(db, ami, settings, args, env, tick_s):
    from app.campaigns import activation
    from app.models import Campaign

    list_id = make_list(db, "throughput", args.contacts, "81")
    cid = make_campaign(list_id, "throughput", args.max_channels)
    activation.activate(cid, utcnow(), ami=ami)
    # the baseline's calls run in this campaign's context (pbxsim must have it)
    n_base, s_base = baseline_originates(ami, cid, args.contacts, args.max_channels)
    base_rate = n_base / s_base
    wait_idle(ami)
    ami.action("PbxsimReset")
    n, secs, ticks, times = throughput(cid, ami, settings, tick_s, args.contacts)
    rate = n / secs if secs else 0.0
    print(f"baseline: {n_base} originates straight through AmiClient in {s_base:.2f}s "
          f"= {base_rate:.0f}/s")
    print(f"dialer:   {n} originates in {secs:.2f}s = {rate:.0f}/s sustained "
          f"(max_channels {args.max_channels}, {ticks} ticks, tick median "
          f"{statistics.median(times) * 1000:.1f} ms, p95 {pct(times, 0.95) * 1000:.1f} ms) "
          f"ratio dialer/baseline {rate / base_rate:.2f}  target >= 200/s: "
          f"{'ok' if rate >= 200 else 'MISSED'}")
    wait_idle(ami)
    account = Campaign.get_by_id(cid).account_code
    print(f"          pbxsim peak calls for {account}: "
          f"{peak_calls(int(env['AMI_PORT']), account)} (max_channels {args.max_channels})")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contacts", type=int, default=10_000)
    p.add_argument("--max-channels", type=int, default=500)
    p.add_argument("--tick-ms", type=int, default=100)
    p.add_argument("--speed", type=float, default=50.0)
    p.add_argument("--big", type=int, default=1_000_000, help="0: skip part 2")
    p.add_argument("--small", type=int, default=10_000)
    p.add_argument("--tick-channels", type=int, default=50)
    p.add_argument("--ticks", type=int, default=40)
    p.add_argument("--database-url", default="", help="default: a SQLite file in a temp dir")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    p.add_argument("--skip-throughput", action="store_true", help="only parts 2 and 3")
    p.add_argument("--zones", type=int, default=1_000_000,
                   help="part 3's contacts over 6 zones (0: skip part 3)")
    p.add_argument("--pbx", default="", help="pool sizes, e.g. 1,2,4: only the pool part "
                   "(bench/dialer_pool.py)")
    return p.parse_args()


def main():
    args = parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="callcast-bench-dialer-"))
    # the dialer signs each call and the AGI daemon checks it: one secret for both
    os.environ.setdefault("CALL_TOKEN_SECRET", secrets.token_hex(32))
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    env = dict(os.environ, DATABASE_URL=url, DIALPLAN_PATH=str(tmp / "callcast.conf"),
               AGI_JOURNAL_PATH=str(tmp / "journal.jsonl"), LOG_LEVEL="WARNING",
               DIAL_TICK_MS=str(args.tick_ms), AMI_USER="callcast", AMI_SECRET="callcast")
    procs = []
    try:
        procs.append(spawn([sys.executable, "-m", "agi", "--port", "0", "--no-metrics",
                            "--port-file", str(tmp / "agi.port")], env, tmp / "agi.log"))
        env["AGI_PORT"] = wait_file(tmp / "agi.port")
        procs.append(spawn([sys.executable, "-m", "pbxsim", "--port", "0", "--port-file",
                            str(tmp / "pbx.port"), "--speed", str(args.speed),
                            "--max-channels", "100000", "--message-s", "2",
                            "--dialplan", env["DIALPLAN_PATH"]], env, tmp / "pbxsim.log"))
        env["AMI_PORT"] = wait_file(tmp / "pbx.port")
        # this process reads the same settings as its children
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "DIALPLAN_PATH", "AGI_PORT",
                                               "AMI_PORT", "DIAL_TICK_MS", "LOG_LEVEL",
                                               "AMI_USER", "AMI_SECRET")})
        from app.config import get_settings

        get_settings.cache_clear()
        settings = get_settings()
        from app.campaigns import activation
        from app.db import init_database
        from app.migrations import upgrade
        from app.pbx.ami import AmiClient

        db = init_database(url)
        db.connect()
        upgrade(db)
        ami = AmiClient("127.0.0.1", int(env["AMI_PORT"]), "callcast", "callcast", timeout=10)
        tick_s = args.tick_ms / 1000.0
        print(f"database {url}; pbxsim speed {args.speed}; tick {args.tick_ms} ms; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")

        if args.pbx:  # the pool part only (bench/dialer_pool.py)
            from bench.dialer_pool import part_pool

            part_pool(db, settings, args, env, tick_s, tmp, spawn, wait_file)
            return
        # --- part 1: sustained originates/s -----------------------------------------
        if not args.skip_throughput:
            part_throughput(db, ami, settings, args, env, tick_s)

        # --- part 3: the callee's own hours, on and off --------------------------------------
        if args.zones:
            part_zones(db, ami, settings, args, tick_s)

        # --- part 2: one tick with a huge list ----------------------------------------------
        results = {}
        if not args.big:
            ami.close()
            return
        for label, size in (("small", args.small), ("big", args.big)):
            t0 = time.perf_counter()
            list_id = make_list(db, label, size, "0123456789")
            cid = make_campaign(list_id, label, args.tick_channels, max_attempts=3,
                                retry_busy_s=1, retry_noanswer_s=1, retry_failed_s=1)
            activation.activate(cid, utcnow(), ami=ami)
            db.execute_sql("ANALYZE")
            prep = time.perf_counter() - t0
            times = tick_times(cid, ami, settings, tick_s, args.ticks)
            results[label] = times
            print(f"tick with {size:>9,} contacts: median {statistics.median(times) * 1000:.1f} ms, "
                  f"p95 {pct(times, 0.95) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms "
                  f"over {len(times)} ticks (list + activation {prep:.1f}s)")
            if label == "big":
                print("due query plan: " + " | ".join(due_plan(db, cid)))
            from app.campaigns.activation import pause

            pause(cid, utcnow())
            wait_idle(ami)
        big, small = statistics.median(results["big"]), statistics.median(results["small"])
        print(f"ratio big/small median tick {big / small:.2f}  target <= 50 ms at "
              f"{args.big:,}: {'ok' if big <= 0.050 else 'MISSED'}")
        ami.close()
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, 15)
                proc.wait(10)
            except Exception:
                pass
        if not args.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")


if __name__ == "__main__":
    main()
