"""Fuzz run of the FastAGI daemon: random and mutated blocks next to valid traffic.

Starts ``python -m agi`` on a fresh database holding a target campaign whose
attempts are in flight (a forged report stored for one of them would be folded),
then sends hostile inputs (``agi.fuzz``: random bytes; Asterisk blocks for the
target's attempts, mutated, never with a valid call token) from several tasks
while signed requests of another campaign keep flowing. Prints:

    crashes        the daemon exited, or logged a traceback
    forged stored  rows of call_event that no valid request sent (must be 0)
    forged folded  target attempts the fold changed (must be 0)
    valid          confirmed / failed, p50 / p99 latency from connect to STORED

    .venv/bin/python bench/agi_fuzz.py                      # 10 s, at most 100,000 inputs
    .venv/bin/python bench/agi_fuzz.py --duration 30 --count 100000 --seed 7

Not a timed test (exit 1 when a must-be-0 figure is not 0).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agi_load import Server, loadavg, make_database  # noqa: E402 - bench/ is sys.path[0]

TARGET_CONTACTS = 200


def target_campaign(contacts=TARGET_CONTACTS):
    """A campaign whose contacts each have attempt 1 in flight: (campaign id, contact ids)."""
    from app.models import CallAttempt, Campaign, Contact, ContactList

    contact_list = ContactList.create(name="fuzz target", status="ready")
    Contact.insert_many([{"contact_list": contact_list.id, "phone": f"+1555020{i:04d}",
                          "fields": {}, "position": i + 2} for i in range(contacts)]).execute()
    campaign = Campaign.create(name="fuzz target", contact_list=contact_list.id,
                               message_sound="hello-world")
    ids = [c.id for c in Contact.select(Contact.id).where(Contact.contact_list == contact_list)]
    now = datetime.now(timezone.utc)
    CallAttempt.insert_many([{"campaign": campaign.id, "contact": k, "number": 1,
                              "originated_at": now,
                              "channel_id": CallAttempt.make_channel_id(campaign.id, k, 1)}
                             for k in ids]).execute()
    return campaign.id, ids


def outcome_of(url, target, valid_campaign, confirmed):
    """(forged stored, forged folded, valid missing, valid doubled, quarantined rows)."""
    from app.db import init_database
    from app.dialer import fold_events
    from app.models import CallAttempt, CallEvent, QuarantinedReport

    db = init_database(url)
    with db.connection_context():
        forged = CallEvent.select().where(CallEvent.campaign_id != valid_campaign).count()
        fold_events(target, datetime.now(timezone.utc))
        folded = CallAttempt.select().where((CallAttempt.campaign == target)
                                            & (CallAttempt.state != "originating")).count()
        valid = CallEvent.select(CallEvent.contact_id).where(CallEvent.campaign_id == valid_campaign)
        stored = [e.contact_id for e in valid]
        quarantined = QuarantinedReport.select().count()
    missing = len(confirmed - set(stored))
    doubled = len(stored) - len(set(stored))
    return forged, folded, missing, doubled, quarantined


def rejects_by_reason(port_file):
    """The daemon's agi_rejects_total by reason, from its /metrics."""
    import urllib.request

    metrics_port = int(port_file.read_text().split()[1])
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read()
    out = {}
    for line in text.decode().splitlines():
        if line.startswith("agi_rejects_total{"):
            reason = line.split('reason="', 1)[1].split('"', 1)[0]
            out[reason] = int(float(line.split()[-1]))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=10.0, help="seconds at most")
    p.add_argument("--count", type=int, default=100000, help="hostile inputs at most")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=20, help="hostile clients at once")
    p.add_argument("--valid-concurrency", type=int, default=5, help="valid clients at once")
    args = p.parse_args()

    import uvloop

    from agi import fuzz
    from app.db import init_database

    os.environ.setdefault("CALL_TOKEN_SECRET", secrets.token_hex(32))
    workdir = tempfile.mkdtemp(prefix="agi-fuzz-")
    url, drop = make_database("sqlite", workdir)
    with init_database(url).connection_context():
        target, contacts = target_campaign()
    valid_campaign = target + 1000
    env = dict(os.environ, DATABASE_URL=url, PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING")
    cmd = [sys.executable, "-m", "agi", "--port", "0", "--metrics-port", "0",
           "--journal", f"{workdir}/journal.jsonl"]
    print(f"# agi_fuzz: seed={args.seed} count<={args.count} duration<={args.duration}s "
          f"concurrency={args.concurrency}+{args.valid_concurrency} cpus={os.cpu_count()} "
          f"{loadavg()}", flush=True)
    with Server("agi", cmd, env, workdir) as server:
        inputs = fuzz.cases(args.seed, args.count, target, contacts)
        report = uvloop.run(fuzz.run(server.port, inputs, valid_campaign=valid_campaign,
                                     duration=args.duration, concurrency=args.concurrency,
                                     valid_concurrency=args.valid_concurrency))
        alive = server.proc.poll() is None
        rejects = rejects_by_reason(Path(workdir) / "agi.port")
    log = (Path(workdir) / "agi.log").read_text()
    crashes = (0 if alive and server.proc.returncode == 0 else 1) + log.count("Traceback")
    forged, folded, missing, doubled, quarantined = outcome_of(
        url, target, valid_campaign, report.valid_confirmed)
    drop()
    p50, p99 = report.percentile(50), report.percentile(99)
    print(f"hostile inputs   {report.sent} in {report.seconds:.1f} s "
          f"({report.sent / report.seconds:.0f}/s), valid traffic alongside: "
          + " ".join(f"{k}={v}" for k, v in sorted(report.outcomes.items())))
    print("daemon rejects   " + " ".join(f"{k}={v}" for k, v in
                                          sorted(rejects.items(), key=lambda kv: -kv[1])))
    print(f"crashes          {crashes} (daemon alive to the end: {alive}, exit "
          f"{server.proc.returncode}, tracebacks {log.count('Traceback')})")
    print(f"forged stored    {forged}")
    print(f"forged folded    {folded} (of {len(contacts)} target attempts in flight)")
    print(f"quarantined rows {quarantined} (rate-limited; every refusal is counted in metrics)")
    print(f"valid            {len(report.valid_confirmed)} confirmed, "
          f"{report.valid_failed} failed, "
          f"missing={missing} doubled={doubled}, latency connect->STORED "
          f"p50 {p50 * 1000:.2f} ms p99 {p99 * 1000:.2f} ms")
    bad = crashes or forged or folded or missing or doubled or report.valid_failed \
        or report.outcomes.get("confirmed") or report.outcomes.get("hung")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
