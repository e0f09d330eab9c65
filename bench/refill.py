"""Refill: answered short calls at a fixed cap, the campaign next to a bare originate loop.

One pbxsim (``lastdigit``; ``--digit`` 4: the callee answers, hears the message
and presses nothing, so a call lasts the answer delay + ``--message-s`` + the 1
s digit timeout, about 3.5 s at ``--speed`` 1; 8: answers and hangs up), one
AGI daemon, one Dramatiq dialer worker (``dramatiq tasks -Q dialing``), a
SQLite file and a throwaway RabbitMQ vhost, all in this run. Three figures,
completed calls per second at ``--cap`` channels over ``--calls`` calls:

1. baseline: a bare loop on one AMI connection that keeps ``--cap`` calls up,
   originating the next call the moment the dialplan's ``UserEvent`` says one
   ended (no database, no broker): the most the PBX gives at that cap. Its
   dialplan names a closed AGI port, so every report goes out as that
   UserEvent (a refused local connection costs well under a millisecond);
2. campaign, refill on: the dialer as deployed (tick every ``--tick-ms``; the
   AGI daemon nudges the dialer at each stored end, ``app.dialer.refill``);
3. campaign, ticks only: the same with the AGI daemon's nudges going nowhere
   (its BROKER_URL points at a closed port), i.e. the dialer before the refill.

Calls/s of a campaign = calls / (last attempt's end - first attempt's start).

    .venv/bin/python bench/refill.py
    .venv/bin/python bench/refill.py --calls 200 --cap 10   # quick

Not a timed test: prints figures. Target: campaign with refill >= 95 % of the baseline.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import secrets
import socket
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dialer import make_campaign, make_list, spawn, utcnow, wait_file  # noqa: E402

MANAGEMENT = "http://127.0.0.1:15672"


def management(method, path, body=None):
    request = urllib.request.Request(MANAGEMENT + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    request.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    request.add_header("Content-Type", "application/json")
    urllib.request.urlopen(request, timeout=10).close()


def bare_loop(port, campaign_id, calls, cap, digit, timeout=600):
    """Keep ``cap`` calls up through one AMI connection; (calls ended, seconds)."""
    from app.pbx.ami import AmiClient
    from app.pbx.originate import originate_args

    ends = queue.Queue()

    def listen(message):
        if message.event == "UserEvent" and message.get("UserEvent") == "CallcastEvent":
            name = (message.get("event") or "").strip()
            if name == "hangup" or name.startswith("failed-"):
                ends.put(name)

    ami = AmiClient("127.0.0.1", port, "callcast", "callcast", timeout=10, events="user",
                    name="bare")
    ami.add_listener(listen)
    ami.connect()
    spec = {"id": campaign_id, "ring_timeout_s": 10}
    sent = ended = 0
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while ended < calls and time.monotonic() < deadline:
        while sent < calls and sent - ended < cap:
            args = originate_args(spec, 5_000_000 + sent, 1, f"+1999{sent:07d}{digit}")
            ami.originate(**args, wait=False)
            sent += 1
        try:
            ends.get(timeout=1.0)
            ended += 1
        except queue.Empty:
            pass
    took = time.perf_counter() - started
    ami.close()
    return ended, took


def run_campaign(db, ami, label, calls, cap, digit, timeout=600):
    """A campaign of ``calls`` answered short calls at ``cap``; (calls, seconds, peak)."""
    from peewee import fn

    from app.campaigns import activation
    from app.models import CallAttempt, Campaign
    from tasks.dialing import start_dialing

    list_id = make_list(db, label, calls, digit)
    cid = make_campaign(list_id, label, cap)
    activation.activate(cid, utcnow(), ami=ami)
    start_dialing(cid)
    deadline = time.monotonic() + timeout
    while Campaign.get_by_id(cid).state == "ACTIVE" and time.monotonic() < deadline:
        time.sleep(0.2)
    first, last, n = (CallAttempt.select(fn.MIN(CallAttempt.originated_at),
                                         fn.MAX(CallAttempt.finished_at), fn.COUNT(CallAttempt.id))
                      .where(CallAttempt.campaign == cid).tuples().get())
    peak = json.loads(ami.action("PbxsimStats").get("JSON"))["peak_calls"].get(
        f"campaign-{cid}", 0)
    return n, (last - first).total_seconds(), peak


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_agi(tmp, env, name):
    port_file = tmp / f"{name}.port"
    proc = spawn([sys.executable, "-m", "agi", "--port", "0", "--no-metrics", "--port-file",
                  str(port_file)], env, tmp / f"{name}.log")
    return proc, wait_file(port_file)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=600)
    p.add_argument("--cap", type=int, default=20)
    p.add_argument("--tick-ms", type=int, default=1000)
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--message-s", type=float, default=2.0)
    p.add_argument("--digit", default="4", choices=("4", "8"), help="the numbers' last digit")
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="callcast-bench-refill-"))
    vhost = f"callcast-bench-{int(time.time())}-{secrets.token_hex(3)}"
    management("PUT", f"/api/vhosts/{quote(vhost, safe='')}", {})
    management("PUT", f"/api/permissions/{quote(vhost, safe='')}/guest",
               {"configure": ".*", "write": ".*", "read": ".*"})
    broker_url = f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}"
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp}/bench.db",
               DIALPLAN_PATH=str(tmp / "callcast.conf"), AGI_JOURNAL_PATH=str(tmp / "j.jsonl"),
               LOG_LEVEL="WARNING", DIAL_TICK_MS=str(args.tick_ms), AMI_USER="callcast",
               AMI_SECRET="callcast", BROKER_URL=broker_url, METRICS_PORT="0",
               dramatiq_worker_timeout="100",
               CALL_TOKEN_SECRET=os.environ.get("CALL_TOKEN_SECRET", secrets.token_hex(32)))
    procs = []
    os.environ.update({k: env[k] for k in (
        "DATABASE_URL", "DIALPLAN_PATH", "DIAL_TICK_MS", "LOG_LEVEL", "AMI_USER", "AMI_SECRET",
        "BROKER_URL", "CALL_TOKEN_SECRET", "METRICS_PORT")})
    from app.db import init_database
    from app.migrations import upgrade

    db = init_database(env["DATABASE_URL"])
    db.connect()
    upgrade(db)  # before the daemons start: they write heartbeats
    try:
        agi, env["AGI_PORT"] = start_agi(tmp, env, "agi")
        procs.append(agi)
        procs.append(spawn([sys.executable, "-m", "pbxsim", "--port", "0", "--port-file",
                            str(tmp / "pbx.port"), "--speed", str(args.speed),
                            "--message-s", str(args.message_s), "--max-channels", "10000",
                            "--dialplan", env["DIALPLAN_PATH"]], env, tmp / "pbxsim.log"))
        env["AMI_PORT"] = wait_file(tmp / "pbx.port")
        os.environ.update(AMI_PORT=env["AMI_PORT"])
        run_all(db, tmp, env, procs, args)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(10)
        management("DELETE", f"/api/vhosts/{quote(vhost, safe='')}")


def use_agi_port(port: str) -> None:
    """The AGI port the next dialplan written by this process names."""
    from app.config import get_settings

    os.environ["AGI_PORT"] = port
    get_settings.cache_clear()


def run_all(db, tmp, env, procs, args):
    from app.campaigns import activation
    from app.pbx.ami import AmiClient

    procs.append(spawn([str(Path(sys.executable).parent / "dramatiq"), "tasks", "-Q", "dialing",
                        "-p", "1", "-t", "8"], env, tmp / "dialer.log"))
    ami = AmiClient("127.0.0.1", int(env["AMI_PORT"]), "callcast", "callcast", timeout=10)
    # the bare loop's calls run in a paused campaign's context (no refill acts on it),
    # with a dialplan whose AGI port is closed: every report then goes out as a UserEvent,
    # which is how the loop learns that a call ended (a refused connection costs < 1 ms)
    use_agi_port(str(closed_port()))
    base_id = make_campaign(make_list(db, "bare", 1, "8"), "bare", args.cap)
    activation.activate(base_id, utcnow(), ami=ami)
    activation.pause(base_id, utcnow())
    print(f"pbxsim speed {args.speed}, message {args.message_s}s, numbers ending {args.digit}; "
          f"cap {args.cap}; "
          f"tick {args.tick_ms} ms; {args.calls} answered short calls each; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    n, secs = bare_loop(int(env["AMI_PORT"]), base_id, args.calls, args.cap, args.digit)
    base = n / secs
    use_agi_port(env["AGI_PORT"])  # the campaigns' dialplan names the daemon again
    print(f"baseline  bare originate loop:   {n} calls in {secs:6.2f}s = {base:6.2f} calls/s")
    n, secs, peak = run_campaign(db, ami, "refill", args.calls, args.cap, args.digit)
    print(f"campaign  refill on:             {n} calls in {secs:6.2f}s = {n / secs:6.2f} calls/s "
          f"= {n / secs / base * 100:5.1f} % of baseline (peak {peak}/{args.cap})  target >= 95 %: "
          f"{'ok' if n / secs >= 0.95 * base else 'MISSED'}")
    procs[0].terminate()
    procs[0].wait(10)
    env_off = dict(env, BROKER_URL="amqp://guest:guest@127.0.0.1:1/%2F")  # nudges go nowhere
    agi, port = start_agi(tmp, env_off, "agi-ticks-only")
    procs[0] = agi
    use_agi_port(port)  # the next activation writes the dialplan naming this daemon
    n, secs, peak = run_campaign(db, ami, "ticks", args.calls, args.cap, args.digit)
    print(f"campaign  ticks only (before):   {n} calls in {secs:6.2f}s = {n / secs:6.2f} calls/s "
          f"= {n / secs / base * 100:5.1f} % of baseline (peak {peak}/{args.cap})")
    ami.close()


if __name__ == "__main__":
    main()
