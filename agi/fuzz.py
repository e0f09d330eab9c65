"""Fuzzing the FastAGI port: random and mutated blocks next to valid traffic.

``cases`` makes the hostile side: random bytes, and Asterisk blocks for the
attempts of a target campaign mutated (lines dropped, doubled, swapped, cut,
bytes flipped, CRLF, huge lines, extra arguments, other event names) and
carrying no valid call token (none, random hex, an HMAC under another secret,
cut, non-ASCII) — so any of them stored would be a forgery. ``run`` sends them
from ``concurrency`` tasks while signed requests of another campaign keep
flowing, and reports what the daemon did. Used by ``bench/agi_fuzz.py`` (which
prints the figures) and a bounded test.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from agi.client import agi_call
from agi.protocol import CONFIRM_COMMAND, asterisk_block
from app.calltokens import CallTokens
from app.events import EVENT_NAMES

EVENTS = sorted(EVENT_NAMES)


def _token(rng, script):
    """A token that is never the attempt's own."""
    kind = rng.randrange(6)
    if kind == 0:
        return ""
    if kind == 1:
        return "%064x" % rng.getrandbits(256)
    if kind == 2:
        ids = script.split("/")[:3]
        return CallTokens("fuzz-" + str(rng.random())).token(*(i if i.isdigit() else 0
                                                               for i in ids))
    if kind == 3:
        return "%064x" % rng.getrandbits(256) + "0"  # one digit too many
    if kind == 4:
        return "é" * rng.randint(1, 70)
    return ("%064x" % rng.getrandbits(256))[: rng.randint(1, 63)]


def _mutate(rng, lines):
    kind = rng.randrange(11)
    i = rng.randrange(len(lines))
    if kind == 0:
        del lines[i]
    elif kind == 1:
        lines.insert(i, lines[i])
    elif kind == 2:
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == 3 and len(lines[i]) > 1:
        b = bytearray(lines[i])
        b[rng.randrange(len(b))] = rng.randrange(256)
        lines[i] = bytes(b)
    elif kind == 4:
        lines[i] = lines[i].replace(b"\n", b"\r\n")
    elif kind == 5:
        lines.insert(i, b"agi_x: " + b"y" * rng.choice((100, 5000, 70000)) + b"\n")
    elif kind == 6:
        lines.insert(i, b"agi_arg_%d: %s\n" % (rng.randint(1, 12), b"z" * rng.randint(0, 200)))
    elif kind == 7:
        text = b"".join(lines)
        return [text[: rng.randint(0, max(len(text) - 1, 0))]]  # cut anywhere (no blank line)
    elif kind == 8:
        lines.insert(i, bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 60))) + b"\n")
    elif kind == 9:
        lines[i] = b"HANGUP\n"
    else:
        lines.insert(i, b"agi_%d: %d\n" % (rng.randint(0, 99), rng.getrandbits(32)))
    return lines


def block(rng, campaign, contacts):
    """One mutated Asterisk block for an attempt of ``campaign`` (never with a valid token)."""
    contact = rng.choice(contacts) if rng.random() < 0.8 else rng.randint(1, 2**31)
    script = f"{campaign}/{contact}/{rng.choice((1, 1, 2, 0))}/{rng.choice(EVENTS)}"
    arg = rng.choice(("", "16", "9", "5", "x" * rng.randint(0, 40)))
    lines = asterisk_block(script, (arg, _token(rng, script)),
                           uniqueid=f"{rng.getrandbits(31)}.{rng.randint(0, 999)}")
    for _ in range(rng.choice((0, 1, 1, 2, 4))):
        lines = _mutate(rng, lines)
        if not lines:
            break
    return b"".join(lines)


def cases(seed, count, campaign, contacts):
    """``count`` hostile inputs: a quarter random bytes, the rest mutated blocks."""
    rng = random.Random(seed)
    for _ in range(count):
        if rng.random() < 0.25:
            yield bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000)))
        else:
            yield block(rng, campaign, contacts)


@dataclass
class Report:
    """What the daemon did with the hostile inputs and the valid traffic."""

    sent: int = 0
    outcomes: dict = field(default_factory=dict)  # closed / reset / refused / confirmed / hung
    valid_latencies: list = field(default_factory=list)
    valid_confirmed: set = field(default_factory=set)
    valid_failed: int = 0
    seconds: float = 0.0

    def count(self, outcome):
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def percentile(self, p):
        values = sorted(self.valid_latencies)
        return values[min(int(len(values) * p / 100), len(values) - 1)] if values else None


async def _hostile(port, data, report, close_within):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        report.count("refused")
        return
    try:
        writer.write(data)
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        reply = await asyncio.wait_for(reader.read(), close_within)
        report.count("confirmed" if CONFIRM_COMMAND in reply else "closed")
    except asyncio.TimeoutError:
        report.count("hung")  # the daemon must always close promptly
    except OSError:
        report.count("reset")
    finally:
        writer.transport.abort()


async def run(port, inputs, *, valid_campaign, duration, concurrency=20, valid_concurrency=5,
              close_within=10.0):
    """Send ``inputs`` (until exhausted or ``duration`` s) with valid traffic alongside."""
    report = Report()
    inputs = iter(inputs)
    deadline = time.monotonic() + duration
    started = time.monotonic()
    hostile_left = concurrency

    async def hostile_worker():
        nonlocal hostile_left
        for data in inputs:
            if time.monotonic() > deadline:
                break
            report.sent += 1
            await _hostile(port, data, report, close_within)
        hostile_left -= 1

    async def valid_worker(offset):
        contact = offset
        while hostile_left and time.monotonic() < deadline:  # only next to hostile traffic
            contact += valid_concurrency
            begin = time.perf_counter()
            try:
                ok = await agi_call("127.0.0.1", port, f"{valid_campaign}/{contact}/1/answered",
                                    timeout=close_within)
            except (OSError, asyncio.TimeoutError):
                ok = False
            if ok:
                report.valid_latencies.append(time.perf_counter() - begin)
                report.valid_confirmed.add(contact)
            else:
                report.valid_failed += 1

    await asyncio.gather(*(hostile_worker() for _ in range(concurrency)),
                         *(valid_worker(i) for i in range(1, valid_concurrency + 1)))
    report.seconds = time.monotonic() - started
    return report
