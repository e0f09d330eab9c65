"""Baseline FastAGI servers the AGI benchmark compares the daemon with.

``--mode nodb``: parse the block with ``agi.protocol`` and close, no database:
the ceiling of a Python asyncio server on this machine.

``--mode commit``: the same, plus one INSERT and one COMMIT per request on a
single database thread before closing: what the daemon would be without group
commit (the shape of the server it replaces).

    python bench/agi_baseline.py --mode nodb --port 0 --port-file /tmp/port
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agi.errors import AgiProtocolError  # noqa: E402
from agi.protocol import RequestParser, event_from_request  # noqa: E402


class Baseline(asyncio.Protocol):
    def __init__(self, store):
        self.store = store
        self.parser = RequestParser()
        self.transport = None
        self.done = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        if self.done:
            return
        try:
            request = self.parser.feed(data)
            if request is None:
                return
            event = event_from_request(request, received_at=datetime.now(timezone.utc))
        except AgiProtocolError:
            self.transport.abort()
            return
        self.done = True
        if self.store is None:
            self.transport.close()
        else:
            fut = self.store(event)
            fut.add_done_callback(lambda _f: self.transport.close())


def make_store(url):
    from app.db import init_database
    from app.models import CallEvent

    db = init_database(url)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    loop = asyncio.get_running_loop()

    def insert(event):
        db.connect(reuse_if_open=True)
        CallEvent.insert(
            campaign_id=event.campaign_id, contact_id=event.contact_id, attempt=event.attempt,
            name=event.name, received_at=event.received_at, uniqueid=event.uniqueid,
            channel=event.channel, source=event.source, data=event.data,
        ).on_conflict_ignore().execute()  # autocommit: one COMMIT per request

    return lambda event: loop.run_in_executor(pool, insert, event)


async def main(args):
    loop = asyncio.get_running_loop()
    store = make_store(args.database_url) if args.mode == "commit" else None
    server = await loop.create_server(lambda: Baseline(store), "127.0.0.1", args.port,
                                      backlog=4096)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        args.port_file.write_text(f"{port}\n")
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=("nodb", "commit"), required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", type=Path)
    p.add_argument("--database-url")
    import uvloop

    uvloop.run(main(p.parse_args()))
