"""Originates per second the AMI client sustains against pbxsim, next to a raw-socket baseline.

pbxsim runs as its own process (``python -m pbxsim``, so it does not share our
GIL) with a generated dialplan for one campaign; calls go to numbers ending
0-9 (every lastdigit outcome), pbxsim runs at a high --speed so calls end
quickly, and the dialplan's AGI port is a closed port (every report fails at
once and takes the UserEvent path: pbxsim does real work per call).

Both runs keep ``--in-flight`` Originate actions (``Async: true``) outstanding
on one AMI connection and count the ``Response: Success`` answers:

* baseline: one thread, raw socket, pre-encoded actions, bytes counted, no parsing;
* client:   ``AmiClient.originate(wait=False)`` from ``--threads`` threads sharing
  one client (as Dramatiq worker threads do), ActionID matching, typed errors.

Both are capped by what pbxsim (one Python process) can simulate per second:
when the ratio is near 1 the simulator, not the client, is the limit.
``--mix congestion`` makes every call a cheap kind for pbxsim; ``--mix null``
sends answered calls into a one-line context, which measures the AMI path
(and pbxsim's Originate handling) with almost no call simulation.

    .venv/bin/python bench/ami_originate.py
    .venv/bin/python bench/ami_originate.py --count 5000 --in-flight 200 --threads 4

Not a timed test: it prints figures and the ratio client / baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import load_settings  # noqa: E402
from app.pbx.ami import AmiClient, encode_action  # noqa: E402
from app.pbx.dialplan import CampaignSpec, OptionSpec, write_dialplan  # noqa: E402
from app.pbx.originate import originate_args  # noqa: E402

USER, SECRET = "bench", "bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_pbxsim(tmp, dialplan, speed, max_channels):
    port_file = Path(tmp) / "pbxsim.port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pbxsim", "--port", "0", "--port-file", str(port_file),
         "--dialplan", str(dialplan), "--speed", str(speed), "--max-channels",
         str(max_channels), "--user", USER, "--secret", SECRET, "--pin-limit", "2"],
        cwd=ROOT, env={**os.environ, "LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("pbxsim did not start")
        time.sleep(0.02)
    return proc, int(port_file.read_text())


NULL_CONTEXT = "bench-null"


def actions(count, settings, campaign, offset, mix="all"):
    for i in range(count):
        number = f"555{(offset + i):07d}"
        if mix == "congestion":
            number = number[:-1] + "7"
        elif mix == "null":
            number = number[:-1] + "4"
        args = originate_args(campaign, offset + i, 1, number, settings)
        if mix == "null":
            args["context"] = NULL_CONTEXT
        yield args


def to_fields(args):
    fields = [("Channel", args["channel"]), ("Context", args["context"]),
              ("Exten", args["exten"]), ("Priority", str(args["priority"])), ("Async", "true"),
              ("Timeout", str(args["ring_timeout_s"] * 1000)), ("Account", args["account"]),
              ("ChannelId", args["channel_id"])]
    fields += [("Variable", f"{k}={v}") for k, v in args["variables"].items()]
    return fields


def run_baseline(port, batch, in_flight):
    """Raw socket: write pre-encoded actions, keep in_flight outstanding, count responses."""
    payloads = [encode_action("Originate", to_fields(a), f"b-{i}") for i, a in enumerate(batch)]
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while b"\r\n" not in buf:
        buf += sock.recv(4096)
    sock.sendall(encode_action("Login", [("Username", USER), ("Secret", SECRET),
                                         ("Events", "off")], "login"))
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(4096)
    assert b"Success" in buf, buf
    sent = done = 0
    tail = b""
    start = time.perf_counter()
    while done < len(payloads):
        if sent < len(payloads) and sent - done < in_flight:
            n = min(in_flight - (sent - done), len(payloads) - sent)
            sock.sendall(b"".join(payloads[sent:sent + n]))
            sent += n
        chunk = sock.recv(262144)
        data = tail + chunk
        done += data.count(b"Response: Success")
        assert b"Response: Error" not in data, data[:300]
        tail = data[-20:]
        tail = tail[tail.rfind(b"\r\n"):] if b"\r\n" in tail else tail
    elapsed = time.perf_counter() - start
    sock.close()
    return elapsed


def run_client(port, batch, in_flight, threads):
    """AmiClient from several threads sharing one connection, in_flight outstanding in total."""
    ami = AmiClient("127.0.0.1", port, USER, SECRET, events="off", timeout=30)
    ami.connect()
    slots = threading.BoundedSemaphore(in_flight)
    errors = []
    finished = threading.Event()
    remaining = [len(batch)]
    lock = threading.Lock()

    def done(p):
        slots.release()
        if p.error is not None:
            errors.append(p.error)
        with lock:
            remaining[0] -= 1
            if remaining[0] == 0:
                finished.set()

    def work(part):
        for args in part:
            slots.acquire()
            p = ami.originate(**args, wait=False)
            p.add_done_callback(done)

    parts = [batch[i::threads] for i in range(threads)]
    workers = [threading.Thread(target=work, args=(part,)) for part in parts]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    finished.wait(120)
    elapsed = time.perf_counter() - start
    ami.close()
    if errors:
        raise SystemExit(f"{len(errors)} originates failed, first: {errors[0]}")
    return elapsed


def pbx_stats(port):
    with AmiClient("127.0.0.1", port, USER, SECRET, timeout=30) as ami:
        return json.loads(ami.action("PbxsimStats", {"Calls": "no"})["JSON"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=5000, help="originates per run")
    ap.add_argument("--in-flight", type=int, default=200)
    ap.add_argument("--threads", type=int, default=4, help="client threads sharing one client")
    ap.add_argument("--speed", type=float, default=2000.0, help="pbxsim --speed")
    ap.add_argument("--rounds", type=int, default=2, help="alternate baseline/client this often")
    ap.add_argument("--mix", choices=("all", "congestion", "null"), default="all",
                    help="all: numbers ending 0-9 into the campaign's context (every outcome, "
                         "~4 AGI reports a call); congestion: only 7s (one failed report); "
                         "null: answered calls into a one-line context (exten s: Hangup), "
                         "so pbxsim's per-call work is minimal and the AMI path is measured")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="ami-bench-") as tmp:
        settings = load_settings({"AGI_PORT": str(free_port()),
                                  "DIALPLAN_PATH": str(Path(tmp) / "callcast.conf")})
        campaign = CampaignSpec(id=1, name="bench", message_sound="bench",
                                options=[OptionSpec("1", "a"), OptionSpec("2", "b"),
                                         OptionSpec("3", "c", "repeat")])
        path = write_dialplan([campaign], settings=settings)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"\n[{NULL_CONTEXT}]\nexten => s,1,Hangup()\n")
        proc, port = start_pbxsim(tmp, settings.dialplan_path, args.speed,
                                  max_channels=100000)
        try:
            results = {"baseline": [], "client": []}
            cpu = {"baseline": [], "client": []}
            me = psutil.Process()
            offset = 0
            for _ in range(args.rounds):
                for mode in ("baseline", "client"):
                    batch = list(actions(args.count, settings, campaign, offset, args.mix))
                    offset += args.count
                    cpu0 = me.cpu_times()
                    if mode == "baseline":
                        elapsed = run_baseline(port, batch, args.in_flight)
                    else:
                        elapsed = run_client(port, batch, args.in_flight, args.threads)
                    cpu1 = me.cpu_times()
                    cpu_ms = ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) * 1000
                    results[mode].append(args.count / elapsed)
                    cpu[mode].append(cpu_ms / args.count)
                    print(f"{mode:8s} {args.count} originates, {args.in_flight} in flight: "
                          f"{elapsed:6.2f}s  {args.count / elapsed:8.0f}/s  "
                          f"sender CPU {cpu_ms / args.count:.3f} ms/originate", flush=True)
            stats = pbx_stats(port)
        finally:
            proc.terminate()
            proc.wait(10)

    best_base, best_client = max(results["baseline"]), max(results["client"])
    print()
    print(f"call mix: {args.mix}; machine load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    print(f"pbxsim handled {stats['originates']} originates, peak calls "
          f"{stats['peak_calls'].get('campaign-1', 0)}, still live {stats['live_calls']}")
    print(f"baseline (raw socket, 1 thread)        best {best_base:8.0f} originates/s")
    print(f"AmiClient ({args.threads} threads, 1 connection)   best {best_client:8.0f} originates/s")
    print(f"ratio client / baseline: {best_client / best_base:.2f}")
    print(f"sender CPU per originate: client {min(cpu['client']):.3f} ms, "
          f"baseline {min(cpu['baseline']):.3f} ms "
          f"(CPU alone would cap one core at ~{1000 / min(cpu['client']):.0f}/s through the client)")
    print(f"target >= 500/s with {args.in_flight} in flight: "
          f"{'met' if best_client >= 500 else 'NOT met'}")


if __name__ == "__main__":
    main()
