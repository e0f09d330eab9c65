"""The admission rules without sockets: allow-list, per-peer cap, deadlines, the reject log."""

from __future__ import annotations

import ipaddress
import logging

from agi.admission import EVICT_AFTER, Admission, RejectLog


class Conn:
    def __init__(self, host, opened_at, started=False):
        self.host, self.opened_at, self.started = host, opened_at, started


def open_conn(admission, host, now, started=False):
    conn = Conn(host, now, started)
    admission.opened(conn)
    return conn


def test_it_allows_only_the_listed_peers():
    admission = Admission([ipaddress.ip_network("127.0.0.1/32"),
                           ipaddress.ip_network("10.1.0.0/16")])
    assert admission.allowed("127.0.0.1") and admission.allowed("10.1.2.3")
    assert admission.allowed("::ffff:10.1.2.3")  # a dual-stack listener's view of IPv4
    assert not admission.allowed("127.0.0.2") and not admission.allowed("::1")
    assert not admission.allowed("not an address")


def test_it_evicts_the_oldest_unfinished_connection_of_a_peer_at_its_cap():
    admission = Admission([], max_per_peer=4)
    first, second = open_conn(admission, "a", 0.0), open_conn(admission, "a", 0.0)
    done = open_conn(admission, "a", 0.0)
    admission.done_reading(done)  # its block is complete: never evicted
    open_conn(admission, "b", 0.0)
    assert admission.admit("a", 0.0) == (True, None)
    open_conn(admission, "a", 0.0)
    assert admission.admit("a", EVICT_AFTER) == (True, first)
    admission.closed(first)
    open_conn(admission, "a", EVICT_AFTER)
    assert admission.admit("a", EVICT_AFTER) == (True, second)
    assert admission.open_count("b") == 1


def test_it_lets_a_burst_a_quarter_over_the_cap_then_refuses():
    admission = Admission([], max_per_peer=4)
    for _ in range(4):
        open_conn(admission, "a", 0.0)
    # nothing is old enough to be evicted: one more (a quarter of 4), then no
    assert admission.admit("a", 0.001) == (True, None)
    open_conn(admission, "a", 0.001)
    assert admission.admit("a", 0.001) == (False, None)


def test_it_names_the_connections_past_their_deadline_oldest_first():
    admission = Admission([], idle_timeout=1.0, read_timeout=5.0)
    idle = open_conn(admission, "a", 0.0)
    partial = open_conn(admission, "a", 0.5, started=True)
    young = open_conn(admission, "a", 2.0)
    assert admission.expired(1.5) == [idle]
    admission.closed(idle)
    assert admission.expired(5.6) == [partial, young]


def test_it_logs_a_flood_of_refusals_as_one_line_per_peer_and_interval(caplog):
    log = RejectLog(logging.getLogger("test.rejects"), interval=10)
    with caplog.at_level(logging.WARNING, logger="test.rejects"):
        for i in range(4000):
            log.note("10.0.0.9", "idle_timeout" if i % 4 else "evicted", "", now=i / 1000)
        log.flush(now=9.0)
        log.flush(now=10.0)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "more in 10 s" in lines[1] and "idle_timeout=3000" in lines[1]
    assert "evicted=999" in lines[1]
