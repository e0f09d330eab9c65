"""Prometheus metrics of the AGI daemon, on a registry of its own.

A registry per daemon (not the global one) so tests can run several daemons
in one process and read each one's numbers.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class Metrics:
    """The daemon's counters, gauges and histograms."""

    def __init__(self):
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.events = Counter("agi_events", "Events made durable, by event name and where",
                              ["event", "stored"], registry=r)
        self.rejects = Counter("agi_rejects", "Requests refused, by reason", ["reason"],
                               registry=r)
        self.quarantined = Counter("agi_quarantined", "Reports without their call token handed "
                                   "to quarantined_report", registry=r)
        self.quarantine_dropped = Counter("agi_quarantine_dropped",
                                          "Reports without their call token counted but not "
                                          "kept (rate limit, queue full, database away)",
                                          registry=r)
        self.lost = Counter("agi_events_lost", "Events neither committed nor journaled (left unconfirmed)",
                            registry=r)
        self.connections = Gauge("agi_connections", "Open FastAGI connections", registry=r)
        self.batch_size = Histogram("agi_commit_batch_size", "Events per commit",
                                    buckets=BATCH_BUCKETS, registry=r)
        self.commit_seconds = Histogram("agi_commit_seconds", "Duration of one group commit",
                                        buckets=LATENCY_BUCKETS, registry=r)
        self.commit_failures = Counter("agi_commit_failures", "Group commits that failed",
                                       registry=r)
        self.journal_depth = Gauge("agi_journal_depth", "Events in the journal not yet replayed",
                                   registry=r)
        self.set_aside = Counter("agi_events_set_aside",
                                 "Journaled events the database refused for good (kept apart)",
                                 registry=r)
        self.replayed = Counter("agi_journal_replayed", "Events replayed from the journal",
                                registry=r)
        self._http = None
        self._event_children = {}
        self._reject_children = {}

    def event(self, name, stored):
        """Count one durable event (``stored`` is 'db' or 'journal')."""
        child = self._event_children.get((name, stored))
        if child is None:
            child = self._event_children[(name, stored)] = self.events.labels(name, stored)
        child.inc()

    def reject(self, reason):
        child = self._reject_children.get(reason)
        if child is None:
            child = self._reject_children[reason] = self.rejects.labels(reason)
        child.inc()

    def value(self, name, labels=None):
        """Current value of a sample (tests and the heartbeat info)."""
        return self.registry.get_sample_value(name, labels or {}) or 0

    def serve(self, port, addr="127.0.0.1"):
        """Expose /metrics on ``port`` (0: pick one); return the port, or None."""
        try:
            self._http, _thread = start_http_server(port, addr=addr, registry=self.registry)
        except OSError:
            # Metrics are a side hook: a busy port must not stop event intake.
            log.exception("metrics port %s unavailable; serving without metrics", port)
            return None
        return self._http.server_address[1]

    def close(self):
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
