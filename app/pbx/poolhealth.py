"""The PBX pool's health: every enabled PBX pinged at once, each one that fails named.

``/health`` (``app.web.health``) and the Operations page call ``check_pool``;
it never raises. A PBX fails the check when it does not answer a Login and
Ping now (named, with the error); one a dialer had marked down that answers
is marked up again. With one PBX that answers the detail is ``ok``, as before
the pool.
"""

from __future__ import annotations

import threading

from app.pbx import pool
from app.pbx.ami.client import AmiClient
from app.pbx.amd_check import amd_problem, needing_amd

# most seconds the whole check spends: a hung PBX must not hang /health
PBX_TIMEOUT = 3.0


def ping(host, port, user, secret, timeout: float, needing=()) -> str:
    """"" when the PBX logs us in and answers a Ping (and, while the campaigns ``needing``
    AMD run, has app_amd: ``app.pbx.amd_check``), else what went wrong."""
    client = AmiClient(host, port, user, secret, timeout=timeout, events="off",
                       backoff_min=timeout, name="health")
    try:
        client.connect(timeout)
        client.ping(timeout)
        return amd_problem(client, needing, timeout) or ""
    except Exception as exc:
        return f"AMI {host}:{port} as {user}: {type(exc).__name__}: {exc}"
    finally:
        client.close()


def ping_all(rows, timeout: float, needing=()) -> dict:
    """{name: error or ""} of every row, pinged in parallel."""
    found = {}

    def run(row):
        found[row.name] = ping(row.ami_host, row.ami_port, row.ami_user, row.ami_secret,
                               timeout, needing)

    threads = [threading.Thread(target=run, args=(r,), daemon=True) for r in rows]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout * 2 + 1)
    return {r.name: found.get(r.name, "no answer in time") for r in rows}


def check_pool(settings, now):
    """(ok, detail) over the enabled PBXs of the pool (the pool seeded when empty)."""
    timeout = min(settings.ami_timeout, PBX_TIMEOUT)
    try:
        pool.ensure_seeded(settings)
        rows = pool.enabled_pbxs()
    except Exception as exc:  # the database is away: ask the PBX of the settings
        error = ping(settings.ami_host, settings.ami_port, settings.ami_user,
                     settings.ami_secret, timeout)
        return not error, error or f"ok (pool unreadable: {type(exc).__name__})"
    if not rows:
        return False, "no PBX is enabled in the pool"
    errors = ping_all(rows, timeout, needing_amd())  # read once, asked of every PBX
    problems = []
    for row in rows:
        if errors[row.name]:
            problems.append(f"{row.name}: {errors[row.name]}")
        elif row.down_since is not None:
            pool.mark_up(row.id)  # it answers: up again (a dialer marks it again if not)
    if problems:
        return False, "; ".join(problems)
    if len(rows) == 1:
        return True, "ok"
    return True, f"{len(rows)} PBXs answer: " + ", ".join(r.name for r in rows)
