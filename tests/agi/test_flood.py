"""Idle connections never keep a real request waiting (issue 13, finding 9).

5,000 idle connections opened in 0.7 s kept a valid request waiting more than
10 s (Asterisk gives up after 2 s) and logged 4,000 warnings. Now a peer holds
at most AGI_MAX_PEER_CONNECTIONS, the oldest of them without a complete block
makes room for a newer one, and refusals log one line per peer and interval.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import uvloop

from agi.admission import EVICT_AFTER
from agi.client import agi_call
from tests.agi.conftest import assert_exactly_once, call, percentile, wait_until

pytestmark = pytest.mark.e2e

IDLE = 5000


async def open_idle(port, count, parallel=500):
    """``count`` connections that never send a byte, opened as fast as the kernel takes them."""
    gate = asyncio.Semaphore(parallel)
    held = []

    async def one():
        async with gate:
            try:
                held.append(await asyncio.open_connection("127.0.0.1", port))
            except OSError:
                pass  # reset by the daemon before we got it: it still cost an accept

    await asyncio.gather(*(one() for _ in range(count)))
    return held


async def valid_requests(port, campaign, count, concurrency=10):
    """``count`` signed requests, ``concurrency`` at a time; their latencies (connect to STORED)."""
    latencies, confirmed = [], set()
    contacts = iter(range(1, count + 1))

    async def worker():
        for contact in contacts:
            start = time.perf_counter()
            if await agi_call("127.0.0.1", port, f"{campaign}/{contact}/1/answered", timeout=20):
                latencies.append(time.perf_counter() - start)
                confirmed.add(contact)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, confirmed


def test_it_serves_valid_requests_at_once_while_5000_idle_connections_are_held(agi_process,
                                                                               sqlite_url):
    # Deadlines far away: whatever serves the valid requests, it is not a timeout.
    daemon = agi_process(sqlite_url, extra_env={"AGI_IDLE_TIMEOUT": "30",
                                                "AGI_READ_TIMEOUT": "30"}).start()

    async def scenario():
        started = time.perf_counter()
        held = await open_idle(daemon.port, IDLE)
        flood_s = time.perf_counter() - started
        open_at_daemon = daemon.metric("agi_connections")
        latencies, confirmed = await valid_requests(daemon.port, 801, 300)
        timeouts = (daemon.metric("agi_rejects_total", reason="idle_timeout")
                    + daemon.metric("agi_rejects_total", reason="read_timeout"))
        for _reader, writer in held:
            writer.transport.abort()
        return flood_s, len(held), open_at_daemon, latencies, confirmed, timeouts

    flood_s, held, open_at_daemon, latencies, confirmed, timeouts = uvloop.run(scenario())
    p99 = percentile(latencies, 99)
    print(f"\n{IDLE} idle connections tried ({held} opened) in {flood_s:.2f} s; daemon held "
          f"{open_at_daemon:.0f}; valid requests: {len(confirmed)}/300 confirmed, "
          f"p50 {percentile(latencies, 50) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    assert open_at_daemon >= 900, "the flood should fill the peer's cap"
    assert len(confirmed) == 300
    assert timeouts == 0, "a valid request waited for an idle connection's deadline"
    assert p99 < 1.0, f"p99 {p99:.3f} s (Asterisk gives up after 2 s)"
    assert daemon.metric("agi_rejects_total", reason="peer_cap") == 0  # a burst is let in
    assert daemon.metric("agi_rejects_total", reason="evicted") >= IDLE - 1250
    assert_exactly_once(sqlite_url, 801, confirmed)
    # one warning, then one line of counts per interval: not one line per refusal
    daemon.terminate()
    lines = [line for line in daemon.log.read_text().splitlines() if "rejected peer=" in line]
    assert 1 <= len(lines) <= 4, lines[:10]


def test_it_closes_a_connection_that_sends_nothing_after_the_idle_timeout(agi_daemon):
    daemon = agi_daemon(idle_timeout=0.2, read_timeout=30)
    with socket.create_connection(("127.0.0.1", daemon.port)) as idle, \
            socket.create_connection(("127.0.0.1", daemon.port)) as partial:
        partial.sendall(b"agi_network: yes\n")  # started: the read deadline applies
        assert closed_by_daemon(idle, timeout=10)
        assert daemon.metrics.value("agi_rejects_total", {"reason": "idle_timeout"}) == 1
        assert daemon.daemon.server.active == 1  # the partial one is still being read
    assert call(daemon.port, "802/1/1/answered") is True


def closed_by_daemon(sock, timeout=5):
    """True when the daemon closed ``sock`` (EOF or reset) within ``timeout``."""
    sock.settimeout(timeout)
    try:
        return sock.recv(10) == b""
    except ConnectionResetError:
        return True


def test_it_evicts_the_oldest_idle_connection_of_a_peer_at_its_cap(agi_daemon, agi_db):
    _db, url = agi_db
    daemon = agi_daemon(max_peer_connections=3, idle_timeout=30, read_timeout=30)
    socks = [socket.create_connection(("127.0.0.1", daemon.port)) for _ in range(3)]
    server = daemon.daemon.server
    try:
        # all three in, and past the age at which one may simply not have been read yet
        wait_until(lambda: server.active == 3 and min(
            server.loop.time() - c.opened_at for c in list(server._active)) >= EVICT_AFTER)
        # the oldest idle one makes room for a real request of the same address
        assert call(daemon.port, "803/1/1/answered") is True
        assert closed_by_daemon(socks[0])
        assert daemon.metrics.value("agi_rejects_total", {"reason": "evicted"}) == 1
        assert daemon.daemon.server.active == 2
    finally:
        for sock in socks:
            sock.close()
