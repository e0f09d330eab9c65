"""Who may hold a FastAGI connection, and for how long.

Asterisk connects, writes its whole environment block at once (``res_agi.c``:
``launch_netscript`` then ``setup_env``), and waits for the daemon. So:

* Only peers in ``AGI_ALLOWED_PEERS`` (where Asterisk runs) are served; any
  other connection is closed at once, before a byte is read.
* A connection that has sent nothing is closed after ``AGI_IDLE_TIMEOUT``;
  one with a partial block after ``AGI_READ_TIMEOUT`` (both from the accept).
* One peer holds at most ``AGI_MAX_PEER_CONNECTIONS``. At the cap its oldest
  connection still without a complete block (older than ``EVICT_AFTER``) is
  closed to make room, so idle sockets can never keep a real request of the
  same address waiting. A burst accepted faster than that may go a quarter
  over the cap (each later arrival evicts one again); beyond, it is refused.
* ``RejectLog``: a flood of refusals logs one line per peer and interval.

No sockets here: the server passes ``now`` and closes what it is told to.
"""

from __future__ import annotations

import collections
import ipaddress

# A connection accepted this recently may simply not have been read yet (the
# loop reads a new connection on its next turn, a millisecond or so later).
EVICT_AFTER = 0.01
BURST_ALLOWANCE = 0.25  # over the per-peer cap while nothing is old enough to evict
LOG_INTERVAL = 10.0
MAX_LOGGED_PEERS = 1000  # distinct peers tracked per interval; the rest are counted as "*"
_VERDICT_CACHE = 4096


def peer_address(host: str):
    """The IP address of a peer as the allow-list sees it (IPv4-mapped IPv6 unwrapped)."""
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class Admission:
    """The allow-list, the per-peer cap and the read deadlines of open connections.

    A connection object needs ``host``, ``opened_at`` and ``started`` (a
    byte arrived); the server calls ``opened``, ``done_reading`` and ``closed``.
    """

    def __init__(self, allowed, max_per_peer=1000, idle_timeout=1.0, read_timeout=5.0):
        self.allowed_networks = tuple(allowed)
        self.max_per_peer = max_per_peer
        self.burst_limit = max_per_peer + max(1, int(max_per_peer * BURST_ALLOWANCE))
        self.read_timeout = read_timeout
        self.idle_timeout = min(idle_timeout, read_timeout)
        self._verdicts = {}
        self._open = collections.Counter()  # host -> open connections
        self._reading = {}  # connections without a complete block, in accept order
        self._peer_reading = {}  # host -> {connection: None}, in accept order

    def allowed(self, host) -> bool:
        """True when ``host`` is in the allow-list (cached per address)."""
        verdict = self._verdicts.get(host)
        if verdict is None:
            try:
                ip = peer_address(host)
                verdict = any(ip in net for net in self.allowed_networks)
            except ValueError:
                verdict = False
            if len(self._verdicts) >= _VERDICT_CACHE:
                self._verdicts.clear()
            self._verdicts[host] = verdict
        return verdict

    def admit(self, host, now):
        """Room for one more connection of ``host``: (admitted, connection to close first)."""
        count = self._open[host]
        if count < self.max_per_peer:
            return True, None
        reading = self._peer_reading.get(host)
        if reading:
            oldest = next(iter(reading))
            if now - oldest.opened_at >= EVICT_AFTER:
                return True, oldest
        return count < self.burst_limit, None

    def opened(self, conn):
        self._open[conn.host] += 1
        self._reading[conn] = None
        self._peer_reading.setdefault(conn.host, {})[conn] = None

    def done_reading(self, conn):
        """The connection's block is complete (or it is being closed): no read deadline now."""
        if self._reading.pop(conn, 0) is None:
            reading = self._peer_reading[conn.host]
            del reading[conn]
            if not reading:
                del self._peer_reading[conn.host]

    def closed(self, conn):
        self.done_reading(conn)
        host = conn.host
        left = self._open[host] - 1
        if left > 0:
            self._open[host] = left
        else:
            del self._open[host]

    def expired(self, now):
        """Connections past their read deadline (idle or partial), oldest first."""
        out = []
        idle, full = self.idle_timeout, self.read_timeout
        for conn in self._reading:
            if conn.opened_at + idle > now:
                break  # accept order: every later one is younger still
            if conn.opened_at + (full if conn.started else idle) <= now:
                out.append(conn)
        return out

    def open_count(self, host) -> int:
        return self._open.get(host, 0)


class RejectLog:
    """Warns once per peer and interval: the first refusal at once, then one line of counts.

    5,000 idle sockets used to write 4,000 warnings; now they write two lines.
    """

    def __init__(self, logger, interval=LOG_INTERVAL):
        self.log = logger
        self.interval = interval
        self._until = {}  # host -> end of its counting interval
        self._counts = {}  # host -> Counter(reason) since its first line

    def note(self, host, reason, detail, now):
        if host not in self._until and len(self._until) >= MAX_LOGGED_PEERS:
            host = "*"
        until = self._until.get(host)
        if until is not None and now < until:
            self._counts[host][reason] += 1
            return
        if until is not None:
            self._report(host)
        self._until[host] = now + self.interval
        self._counts[host] = collections.Counter()
        self.log.warning("rejected peer=%s reason=%s %s (more from this peer are counted for "
                         "%.0f s)", host, reason, detail, self.interval)

    def flush(self, now):
        """Log the counts of every peer whose interval ended."""
        for host in [h for h, until in self._until.items() if until <= now]:
            self._report(host)
            del self._until[host]
            del self._counts[host]

    def _report(self, host):
        counts = self._counts.get(host)
        if counts:
            detail = " ".join(f"{reason}={n}" for reason, n in counts.most_common())
            self.log.warning("rejected peer=%s %d more in %.0f s: %s", host,
                             sum(counts.values()), self.interval, detail)
            counts.clear()
