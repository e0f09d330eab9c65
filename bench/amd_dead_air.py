"""Dead air that AMD adds before a person hears the message, measured through pbxsim.

pbxsim runs at speed 1 (real time) with the generated dialplan of one campaign;
each call goes to a person who says "Hello?" (0.3 s silence, 0.4 s voice) and
waits. A FastAGI server on this machine confirms every report. For each
configuration the script prints the median time from the answer to the moment
the message starts (the ``Read()`` after the last report), next to the baseline
measured in the same run: the same campaign with AMD off.

    .venv/bin/python bench/amd_dead_air.py [--calls 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import load_settings  # noqa: E402
from app.events import CONFIRM_VALUE, CONFIRM_VARIABLE  # noqa: E402
from app.pbx.ami import AmiClient  # noqa: E402
from app.pbx.dialplan import CampaignSpec, OptionSpec, write_dialplan  # noqa: E402
from app.pbx.originate import originate_args  # noqa: E402
from pbxsim.server import PbxsimThread  # noqa: E402

RING_S = 1.0  # pbxsim lastdigit: a person answers after 1 s
CONFIGS = {
    "AMD off (baseline)": {},
    "AMD on, app_amd.c defaults": {"enabled": True},
    "AMD on, after_greeting_silence_ms=500": {"enabled": True, "after_greeting_silence_ms": 500},
}


def confirming_agi_server():
    """A FastAGI server that confirms each report at once: (port, stop)."""
    loop = asyncio.new_event_loop()
    ready, box = threading.Event(), {}

    async def handle(reader, writer):
        while (await reader.readline()) not in (b"\n", b""):
            pass
        writer.write(f"SET VARIABLE {CONFIRM_VARIABLE} {CONFIRM_VALUE}\n".encode())
        await writer.drain()
        await reader.readline()
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        box["port"] = server.sockets[0].getsockname()[1]
        ready.set()
        async with server:
            await server.serve_forever()

    def run():
        try:
            loop.run_until_complete(main())
        except RuntimeError:  # stopped by stop(): the benchmark is over
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(5)
    return box["port"], lambda: loop.call_soon_threadsafe(loop.stop)


def measure(tmp, agi_port, amd, calls):
    """Seconds from the answer to the message start, one per call."""
    settings = load_settings({"DIALPLAN_PATH": str(Path(tmp) / "callcast.conf"),
                              "AGI_PORT": str(agi_port)})
    spec = CampaignSpec(id=1, name="bench", message_sound="hello-world", digit_timeout_s=1,
                        message_repeats=1, options=[OptionSpec("1", "Yes")], amd=amd)
    write_dialplan([spec], settings=settings)
    sim = PbxsimThread(dialplan_path=settings.dialplan_path, speed=1.0, message_s=1.0)
    sim.start()
    found = []
    try:
        with AmiClient("127.0.0.1", sim.port, "callcast", "callcast") as ami:
            for i in range(calls):
                ami.originate(**originate_args(spec, 100 + i, 1, "5550004", settings))
                call = sim.wait_idle(timeout=60)["calls"][-1]
                last = [a for a in call["agi"] if a["event"] in ("answered", "amd-human")][-1]
                found.append(last["at"] - call["originated_at"] - RING_S)
    finally:
        sim.stop()
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args(argv)
    port, stop = confirming_agi_server()
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, amd in CONFIGS.items():
                results[name] = statistics.median(measure(tmp, port, amd, args.calls))
    finally:
        stop()
    base = results["AMD off (baseline)"]
    print(f"answer -> message start, median of {args.calls} calls (pbxsim, speed 1):")
    for name, value in results.items():
        print(f"  {name:<40} {value * 1000:7.0f} ms   (+{(value - base) * 1000:5.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
