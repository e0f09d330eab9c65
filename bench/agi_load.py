"""Load benchmark of the FastAGI daemon against two baselines, with a loss check.

For each server (the daemon ``python -m agi``, then ``bench/agi_baseline.py``
in ``nodb`` and ``commit`` modes) and each concurrency, an Asterisk-like
generator (``agi.client``) keeps N requests in flight for a few seconds and
records each request's latency from connect to the server's close. Afterwards
the database must hold exactly the requests that completed: none missing, none
doubled. Figures, then ratios to the baselines measured in the same run.

    .venv/bin/python bench/agi_load.py                       # SQLite, synchronous=FULL
    .venv/bin/python bench/agi_load.py --database postgres   # throwaway PostgreSQL db
    .venv/bin/python bench/agi_load.py --concurrency 50 --duration 5

Not a timed test: it prints figures (and exits 1 only if events were lost).
``cpu us/req`` is the server process's CPU time per completed request: unlike
req/s it does not move much when other jobs share the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agi.client import agi_call  # noqa: E402

PG_ADMIN = dict(host="127.0.0.1", port=5432, user="postgres", connect_timeout=3)


@dataclass
class Run:
    server: str
    concurrency: int
    seconds: float = 0.0
    latencies: list = field(default_factory=list)
    completed: set = field(default_factory=set)
    errors: int = 0
    stored: int | None = None
    missing: int | None = None
    doubled: int | None = None
    extra: int | None = None
    server_cpu: float = 0.0  # CPU seconds the server process used during the step

    @property
    def rps(self):
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, p):
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(int(len(ordered) * p / 100), len(ordered) - 1)] * 1000


async def load(port, concurrency, duration, campaign, confirm=True):
    """Keep ``concurrency`` requests in flight for ``duration`` seconds.

    A request counts as completed when the server confirmed it (STORED) before
    closing; the baselines do not confirm, so for them (``confirm=False``) a
    normal close counts.
    """
    run = Run("", concurrency)
    counter = iter(range(1, 10**9))
    stop_at = time.perf_counter() + duration

    async def worker():
        while time.perf_counter() < stop_at:
            contact = next(counter)
            start = time.perf_counter()
            try:
                confirmed = await agi_call("127.0.0.1", port, f"{campaign}/{contact}/1/answered",
                                           uniqueid=f"{campaign}.{contact}", timeout=30)
            except (OSError, asyncio.TimeoutError):
                run.errors += 1
                continue
            if confirm and not confirmed:
                run.errors += 1
                continue
            run.latencies.append(time.perf_counter() - start)
            run.completed.add(contact)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    return run


def verify(run, url, campaign):
    """Compare the stored rows of ``campaign`` with the completed requests."""
    from app.db import connect_database

    db = connect_database(url)
    with db.connection_context():
        rows = db.execute_sql(
            "SELECT contact_id, COUNT(*) FROM call_event WHERE campaign_id = "
            f"{db.param} GROUP BY contact_id", (campaign,)
        ).fetchall()
    db.close()
    stored = {c: n for c, n in rows}
    run.stored = sum(stored.values())
    run.missing = len(run.completed - set(stored))
    run.doubled = sum(1 for n in stored.values() if n > 1)
    # Stored but not completed: a request the client gave up on after the server
    # had it (only possible with errors); not a loss, reported apart.
    run.extra = len(set(stored) - run.completed)


class Server:
    def __init__(self, name, cmd, env, workdir):
        self.name, self.cmd, self.env, self.workdir = name, cmd, env, workdir
        self.proc = None
        self.port = None

    def __enter__(self):
        port_file = Path(self.workdir) / f"{self.name}.port"
        port_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [*self.cmd, "--port-file", str(port_file)], env=self.env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=open(Path(self.workdir) / f"{self.name}.log", "w"),
        )
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{self.name} did not start; see {self.workdir}/{self.name}.log")
            time.sleep(0.05)  # polling a subprocess's start-up file, not a test
        self.port = int(port_file.read_text().split()[0])
        return self

    def cpu(self):
        """CPU seconds (user+system, all threads) the server process has used."""
        import psutil

        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def make_database(kind, workdir):
    """A fresh, upgraded database; returns (url, drop callable)."""
    from app.db import connect_database
    from app.migrations import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{workdir}/bench.db"
        drop = lambda: None  # noqa: E731 - the workdir goes with it
    else:
        import psycopg2

        name = f"callcast_bench_{int(time.time())}_{secrets.token_hex(3)}"
        admin = psycopg2.connect(dbname="postgres", **PG_ADMIN)
        admin.autocommit = True
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"

        def drop():
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()
    db = connect_database(url, sqlite_synchronous="full")
    with db.connection_context():
        upgrade(db)
    db.close()
    return url, drop


def print_table(runs):
    print(f"{'server':<8} {'conc':>5} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
          f"{'done':>7} {'errors':>6} {'stored':>7} {'missing':>7} {'doubled':>7} "
          f"{'cpu us/req':>10}")
    for r in runs:
        def show(v):
            return "-" if v is None else str(v)
        print(f"{r.server:<8} {r.concurrency:>5} {r.rps:>8.0f} {r.pct(50):>7.2f} {r.pct(95):>7.2f} "
              f"{r.pct(99):>7.2f} {len(r.latencies):>7} {r.errors:>6} {show(r.stored):>7} "
              f"{show(r.missing):>7} {show(r.doubled):>7} "
              f"{r.server_cpu / max(len(r.latencies), 1) * 1e6:>10.0f}")


def loadavg():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50, 200])
    p.add_argument("--duration", type=float, default=5.0, help="seconds per step")
    p.add_argument("--servers", nargs="+", default=["agi", "nodb", "commit"],
                   choices=("agi", "nodb", "commit"))
    args = p.parse_args()

    import uvloop

    workdir = tempfile.mkdtemp(prefix="agi-bench-")
    url, drop = make_database(args.database, workdir)
    # The generator signs each request's call token as the dialer would; the
    # daemon (which refuses a published secret) checks it with the same one.
    os.environ.setdefault("CALL_TOKEN_SECRET", secrets.token_hex(32))
    env = dict(os.environ, DATABASE_URL=url, SQLITE_SYNCHRONOUS="full",
               PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING")
    py = sys.executable
    commands = {
        "agi": [py, "-m", "agi", "--port", "0", "--no-metrics",
                "--journal", f"{workdir}/journal.jsonl"],
        "nodb": [py, "bench/agi_baseline.py", "--mode", "nodb"],
        "commit": [py, "bench/agi_baseline.py", "--mode", "commit", "--database-url", url],
    }
    print(f"# agi_load: database={args.database}"
          f"{' (synchronous=FULL, WAL)' if args.database == 'sqlite' else ''} "
          f"duration={args.duration}s cpus={os.cpu_count()} {loadavg()}")
    runs = []
    campaign = 1000
    try:
        for name in args.servers:
            with Server(name, commands[name], env, workdir) as server:
                for conc in args.concurrency:
                    campaign += 1
                    cpu_before = server.cpu()
                    run = uvloop.run(load(server.port, conc, args.duration, campaign,
                                          confirm=(name == "agi")))
                    run.server_cpu = server.cpu() - cpu_before
                    run.server = name
                    if name != "nodb":
                        verify(run, url, campaign)
                    runs.append(run)
                    print(f"  {name} c={conc}: {run.rps:.0f} req/s p99 {run.pct(99):.2f} ms "
                          f"missing={run.missing} errors={run.errors}", flush=True)
        print()
        print(f"# results ({loadavg()})")
        print_table(runs)
        by = {(r.server, r.concurrency): r for r in runs}
        print()
        for conc in args.concurrency:
            agi = by.get(("agi", conc))
            if agi is None:
                continue
            parts = [f"c={conc}:"]
            for base in ("nodb", "commit"):
                b = by.get((base, conc))
                if b is not None and b.rps:
                    parts.append(f"agi/{base} = {agi.rps / b.rps:.2f}x")
            print("  ".join(parts))
        agi50, nodb50, commit50 = (by.get((n, 50)) for n in ("agi", "nodb", "commit"))
        if agi50 and nodb50 and commit50 and nodb50.rps and commit50.rps:
            print("\ntargets at c=50:")
            if args.database == "sqlite":
                checks = [("agi/nodb >= 0.60", agi50.rps / nodb50.rps >= 0.60),
                          ("agi/commit >= 1.5", agi50.rps / commit50.rps >= 1.5),
                          ("agi p99 <= 25 ms", agi50.pct(99) <= 25.0)]
            else:
                checks = [("agi/commit >= 5", agi50.rps / commit50.rps >= 5.0)]
            for label, ok in checks:
                print(f"  {label:<20} {'met' if ok else 'NOT met'}")
        lost = sum(r.missing or 0 for r in runs) + sum(r.doubled or 0 for r in runs)
        print(f"\nloss check: missing={sum(r.missing or 0 for r in runs)} "
              f"doubled={sum(r.doubled or 0 for r in runs)} "
              f"(over {sum(len(r.completed) for r in runs if r.server != 'nodb')} stored requests)")
        return 1 if lost else 0
    finally:
        drop()


if __name__ == "__main__":
    sys.exit(main())
