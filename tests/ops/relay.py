"""A TCP relay the cluster test runs in the root namespace: ``LISTEN_HOST:PORT=TARGET_HOST:PORT ...``.

PostgreSQL and RabbitMQ listen on 127.0.0.1 only; the namespace hosts reach
them through this relay, which listens on the bridge address (the "db/broker"
host of the drill) and forwards each connection to the loopback service. It
prints "relay listening" once every listener is bound.
"""

from __future__ import annotations

import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def handler(target_host, target_port):
    async def handle(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
    return handle


async def main(specs):
    servers = []
    for spec in specs:
        listen, target = spec.split("=")
        lhost, lport = listen.rsplit(":", 1)
        thost, tport = target.rsplit(":", 1)
        servers.append(await asyncio.start_server(handler(thost, int(tport)), lhost, int(lport)))
    print("relay listening", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
