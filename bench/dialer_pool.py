"""``bench/dialer.py --pbx 1,2,4``: the dialer's tick over a pool of 1, 2 and 4 pbxsim PBXs.

For each pool size N, in one run: N pbxsim processes (same dialplan file, the
run's AGI daemon), N rows in the pool, each with capacity ``--max-channels``/N
(rounded up), then one campaign of ``--contacts`` short calls at
``--max-channels`` ticked through ``app.dialer.run_tick`` with the pool
(``app.pbx.poolami.PoolAmi``: every tick asks every PBX, spreads its claims,
originates on each) until every contact was originated. Printed per N:
originates/s, tick median and p95, the CPU of this (dialer) process per
originate, and the ratios to N = 1. The PBXs and the AGI daemon share the same
cores as the dialer, so the rate falls as N grows; the CPU per originate is
the figure that says whether the dialer's own cost grows with the pool.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path


def start_pool(n, tmp, env, speed, spawn, wait_file):
    procs, ports = [], []
    for i in range(n):
        port_file = tmp / f"pool-{n}-{i}.port"
        procs.append(spawn([sys.executable, "-m", "pbxsim", "--port", "0", "--port-file",
                            str(port_file), "--speed", str(speed), "--max-channels", "100000",
                            "--message-s", "2", "--dialplan", env["DIALPLAN_PATH"]], env,
                           tmp / f"pool-{n}-{i}.log"))
        ports.append(int(wait_file(port_file)))
    return procs, ports


def set_pool(ports, capacity, settings):
    """The pool: exactly these PBXs enabled (earlier ones disabled)."""
    from app.pbx import pool
    from app.pbx.tables import Pbx

    Pbx.update(enabled=False).execute()
    for port in ports:
        pool.add_pbx(dict(name=f"sim-{port}", ami_host="127.0.0.1", ami_port=port,
                          ami_user=settings.ami_user, ami_secret=settings.ami_secret,
                          agi_host="127.0.0.1", dial_template=settings.dial_template,
                          capacity=capacity))


def tick_until_done(cid, ami, settings, tick_s, total):
    from app.dialer import run_tick
    from bench.dialer import utcnow

    originated, ticks, first, last = 0, [], None, None
    cpu0 = time.process_time()
    deadline = time.monotonic() + 600
    while originated < total and time.monotonic() < deadline:
        t0 = time.perf_counter()
        result = run_tick(cid, utcnow(), ami, settings)
        t1 = time.perf_counter()
        ticks.append(t1 - t0)
        if result.originated:
            first = first if first is not None else t0
            last = t1
            originated += result.originated
        if result.delay_s is None:
            break
        time.sleep(max(0.0, tick_s - (t1 - t0)))
    return originated, (last - first) if first else 0.0, ticks, time.process_time() - cpu0


def part_pool(db, settings, args, env, tick_s, tmp, spawn, wait_file):
    from app.campaigns import activation
    from app.pbx.poolami import PoolAmi
    from bench.dialer import make_campaign, make_list, pct, utcnow

    sizes = [int(x) for x in args.pbx.split(",")]
    rows = {}
    for n in sizes:
        procs, ports = start_pool(n, Path(tmp), env, args.speed, spawn, wait_file)
        try:
            set_pool(ports, math.ceil(args.max_channels / n), settings)
            ami = PoolAmi(settings)
            cid = make_campaign(make_list(db, f"pool{n}", args.contacts, "81"), f"pool{n}",
                                args.max_channels)
            activation.activate(cid, utcnow(), ami=ami)
            done, secs, ticks, cpu = tick_until_done(cid, ami, settings, tick_s, args.contacts)
            activation.pause(cid, utcnow())
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)
        rows[n] = (done / secs if secs else 0.0, statistics.median(ticks), pct(ticks, 0.95),
                   cpu / done * 1000 if done else 0.0, done)
    one = rows[sizes[0]]
    for n in sizes:
        rate, med, p95, cpu_ms, done = rows[n]
        print(f"pool of {n} pbxsim: {done} originates at {rate:6.0f}/s (x{rate / one[0]:.2f}), "
              f"tick median {med * 1000:6.1f} ms (x{med / one[1]:.2f}), p95 {p95 * 1000:6.1f} ms, "
              f"dialer CPU {cpu_ms:.2f} ms per originate (x{cpu_ms / one[3]:.2f})")
