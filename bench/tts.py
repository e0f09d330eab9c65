"""Benchmark: speech synthesis of personalised messages, next to the raw engine.

    .venv/bin/python bench/tts.py [--texts 200] [--contacts 100000] [--distinct 0.10]
                                  [--channels 100] [--call-s 30]

Measured in the same run, taking turns (``--rounds``), on the same distinct texts ("Hello <name>, your appointment is on
<day> at <hour>"):

* raw engine: ``espeak-ng -v en -w <file>`` once per text (the engine alone, its WAV);
* Callcast: the ``tts`` actor's step (``app.messages.audio.synthesize_some``) over a
  fresh SQLite database: the engine, the 8 kHz conversion, the owner-only file, the
  ``message_audio`` and ``campaign_contact.audio_ready`` updates.

Then the arithmetic for a campaign of ``--contacts`` with ``--distinct`` distinct texts:
synthesis time at the measured rate, and the time the dialer needs for the same contacts
at ``--channels`` calls of ``--call-s`` seconds; synthesis is ahead of dialing when its
rate (texts/s) beats the rate at which dialing reaches new distinct texts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def texts(n: int) -> list[str]:
    return [f"Hello Person{i}, your appointment is on {DAYS[i % 5]} at {8 + i % 10} o'clock"
            for i in range(n)]


def raw_engine(items, folder: Path, first: int) -> float:
    """espeak-ng writing each text's WAV; seconds."""
    began = time.perf_counter()
    for i, text in enumerate(items, first):
        subprocess.run(["espeak-ng", "-v", "en", "-w", str(folder / f"{i}.wav"), text],
                       check=True, capture_output=True)
    return time.perf_counter() - began


def setup(folder: Path, items) -> int:
    """A fresh database with one ACTIVE campaign whose contacts need ``items``; its id."""
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.db'}"
    os.environ["MEDIA_DIR"] = str(folder / "media")
    from app.config import get_settings

    get_settings.cache_clear()
    from app.db import init_database
    from app.messages.prepare import prepare_messages
    from app.migrations import upgrade
    from app.models import ACTIVE, Campaign, CampaignContact, Contact, ContactList

    db = init_database(os.environ["DATABASE_URL"])
    db.connect()
    upgrade(db)
    now = datetime.now(timezone.utc)
    listed = ContactList.create(name="bench", columns=["text"])
    Contact.insert_many([{"contact_list": listed.id, "phone": f"+1202555{i:04d}",
                          "fields": {"text": t}, "position": i + 2}
                         for i, t in enumerate(items)]).execute()
    campaign = Campaign.create(name="bench", state=ACTIVE, contact_list=listed.id,
                               message_template={"segments": [{"kind": "tts",
                                                               "text": "{text}"}]})
    CampaignContact.insert_many([{"campaign": campaign.id, "contact": c.id,
                                  "next_attempt_at": now} for c in Contact.select()]).execute()
    prepare_messages(campaign.id, now, get_settings())
    return campaign.id


def callcast(campaign_id: int, count: int) -> float:
    """The tts actor's steps over the next ``count`` texts (in the list's order); seconds."""
    from app.config import get_settings
    from app.messages.audio import BATCH, synthesize_some

    settings = get_settings()
    began = time.perf_counter()
    for start in range(0, count, BATCH):
        synthesize_some(campaign_id, datetime.now(timezone.utc), settings,
                        limit=min(BATCH, count - start))
    return time.perf_counter() - began


def measure(items, folder: Path, rounds: int) -> tuple[float, float]:
    """Raw engine and Callcast taking turns on slices of the texts, so a machine shared
    with other work slows both alike; total seconds of each."""
    campaign_id = setup(folder, items)
    size = -(-len(items) // rounds)
    raw_s = ours_s = 0.0
    for start in range(0, len(items), size):
        part = items[start:start + size]
        raw_s += raw_engine(part, folder / "raw", start)
        ours_s += callcast(campaign_id, len(part))
    return raw_s, ours_s


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--texts", type=int, default=200)
    p.add_argument("--contacts", type=int, default=100_000)
    p.add_argument("--distinct", type=float, default=0.10)
    p.add_argument("--channels", type=int, default=100)
    p.add_argument("--call-s", type=float, default=30.0)
    p.add_argument("--rounds", type=int, default=10, help="turns the two measurements take")
    args = p.parse_args(argv)
    items = texts(args.texts)
    with tempfile.TemporaryDirectory(prefix="bench-tts-") as tmp:
        folder = Path(tmp)
        (folder / "raw").mkdir()
        raw_s, ours_s = measure(items, folder, args.rounds)
    raw_rate, ours_rate = args.texts / raw_s, args.texts / ours_s
    distinct = int(args.contacts * args.distinct)
    synth_s = distinct / ours_rate
    dial_rate = args.channels / args.call_s  # contacts started per second at the cap
    dial_s = args.contacts / dial_rate
    need_rate = dial_rate * args.distinct  # new distinct texts the dialer reaches per second
    print(f"texts: {args.texts} distinct, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"{args.rounds} turns")
    print(f"raw engine (espeak-ng -w):  {raw_s:7.2f} s  {raw_rate:7.1f} texts/s")
    print(f"callcast (tts actor steps): {ours_s:7.2f} s  {ours_rate:7.1f} texts/s  "
          f"({ours_s / raw_s:.2f}x the raw engine)")
    print(f"campaign: {args.contacts} contacts, {args.distinct:.0%} distinct = {distinct} texts:"
          f" synthesis {synth_s:.0f} s ({synth_s / 60:.1f} min) on one worker thread")
    print(f"dialing at {args.channels} channels x {args.call_s:.0f} s calls: {dial_rate:.2f} "
          f"contacts/s, {dial_s:.0f} s ({dial_s / 3600:.2f} h) for every contact once")
    print(f"ahead of dialing: needs {need_rate:.2f} new texts/s, makes {ours_rate:.1f} "
          f"({ours_rate / need_rate:.0f}x); worst case every contact distinct needs "
          f"{dial_rate:.2f} texts/s ({'ahead' if ours_rate > dial_rate else 'BEHIND'})")


if __name__ == "__main__":
    main()
