"""Wiring of the AGI daemon: journal, writer thread, server, metrics, heartbeat."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from agi.journal import Journal
from agi.liveness import Liveness, liveness_path
from agi.metrics import Metrics
from agi.refill import Nudger
from agi.server import BACKLOG, AgiServer
from agi.writer import EventWriter
from app import heartbeats
from app.config import call_token_secret_problem, get_settings
from app.db import init_database

log = logging.getLogger(__name__)

HEARTBEAT_KIND = "agi"
SWITCH_INTERVAL = 0.0005
FD_RESERVE = 64  # journal, database, metrics, logs
SOURCES = ("agi", "fallback")
LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))


def _settings_secret():
    return get_settings().call_token_secret


@dataclass
class Options:
    database_url: str
    journal_path: Path
    bind: str = "127.0.0.1"
    port: int = 4573
    metrics_port: int | None = 9101  # None: no metrics endpoint
    batch_max: int = 500
    batch_wait_ms: int = 2
    read_timeout: float = 5.0
    idle_timeout: float = 1.0
    max_connections: int = 2000
    max_peer_connections: int = 1000
    allowed_peers: tuple = LOOPBACK
    backlog: int = BACKLOG
    call_token_secret: str = field(default_factory=_settings_secret, repr=False)
    source: str = "agi"
    refill_broker_url: str | None = None  # nudge the dialer at each call's end (agi.refill)
    heartbeat_interval: float = 10.0
    stop_timeout: float = 8.0

    @classmethod
    def from_settings(cls, settings, **overrides):
        values = dict(
            database_url=settings.database_url,
            journal_path=settings.agi_journal_path,
            bind=settings.agi_bind,
            port=settings.agi_port,
            metrics_port=settings.agi_metrics_port,
            batch_max=settings.agi_batch_max,
            batch_wait_ms=settings.agi_batch_wait_ms,
            read_timeout=settings.agi_read_timeout,
            idle_timeout=settings.agi_idle_timeout,
            max_connections=settings.agi_max_connections,
            max_peer_connections=settings.agi_max_peer_connections,
            allowed_peers=settings.agi_allowed_peers,
            backlog=settings.agi_backlog,
            call_token_secret=settings.call_token_secret,
            refill_broker_url=settings.broker_url,
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class Daemon:
    """One FastAGI daemon in the running event loop."""

    def __init__(self, options):
        self.options = options
        self.metrics = Metrics()
        self.journal = None
        self.writer = None
        self.server = None
        self.db = None
        self.metrics_port = None
        self.heartbeat_name = heartbeats.process_name(HEARTBEAT_KIND)
        self.liveness = Liveness(liveness_path(options.journal_path))
        self.nudger = Nudger(options.refill_broker_url) if options.refill_broker_url else None
        self._liveness_task = None

    async def start(self):
        """Open the journal, start the writer (replaying the journal first) and listen.

        Raises:
            JournalError: the journal is unusable or held by another daemon.
        """
        opts = self.options
        # The writer thread gets the GIL back after each commit only when the
        # loop yields it; the default 5 ms switch interval would add up to 5 ms
        # to every batch under load.
        sys.setswitchinterval(SWITCH_INTERVAL)
        _raise_fd_limit(opts.max_connections)
        self.journal = Journal(opts.journal_path).open()
        self.db = init_database(opts.database_url)
        self.server = AgiServer(
            None, self.metrics, bind=opts.bind, port=opts.port,
            read_timeout=opts.read_timeout, max_connections=opts.max_connections,
            backlog=opts.backlog, source=opts.source, call_token_secret=opts.call_token_secret,
            allowed_peers=opts.allowed_peers, max_peer_connections=opts.max_peer_connections,
            idle_timeout=opts.idle_timeout,
        )
        self.writer = EventWriter(
            self.db, self.journal, self.metrics, self.server.notify,
            batch_max=opts.batch_max, batch_wait=opts.batch_wait_ms / 1000.0,
            heartbeat_interval=opts.heartbeat_interval, heartbeat=self._beat,
            on_stored=self.nudger.stored if self.nudger else None,
        )
        self.server.writer = self.writer
        self.metrics.connections.set_function(lambda: self.server.active)
        self.metrics.journal_depth.set(self.journal.depth)
        # Listen first (requests queue for the writer meanwhile), so the
        # writer's first heartbeat already names the bound port.
        port = await self.server.start()
        self.writer.start()
        # The loop's own heartbeat, for the watchdog: the process may be alive
        # and its loop not (SIGSTOP, a deadlock), with callers queuing.
        self.liveness.publish(port, opts.source)
        self._liveness_task = asyncio.get_running_loop().create_task(self.liveness.run())
        if opts.metrics_port is not None:
            self.metrics_port = self.metrics.serve(opts.metrics_port, addr=opts.bind)
        log.info("agi daemon up port=%s metrics=%s journal=%s depth=%d source=%s",
                 port, self.metrics_port, opts.journal_path, self.journal.depth, opts.source)
        return port

    @property
    def port(self):
        return self.server.port

    def _beat(self, now):
        heartbeats.beat(HEARTBEAT_KIND, now, info={
            "port": self.server.port,
            "source": self.options.source,
            "journal_depth": self.journal.depth,
            "connections": self.server.active,
        }, name=self.heartbeat_name)

    async def stop(self):
        """Stop accepting, finish open connections, flush the writer; True if clean."""
        timeout = self.options.stop_timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self.server.stop_accepting()
        drained = await self.server.drain(max(deadline - loop.time(), 0.1))
        stopped = await asyncio.to_thread(self.writer.stop, max(deadline - loop.time(), 0.5))
        # Let the last notify callbacks close their connections.
        await asyncio.sleep(0)
        if stopped:
            self.journal.close()
        await asyncio.to_thread(self.metrics.close)
        if self.nudger is not None:
            await asyncio.to_thread(self.nudger.stop)
        if self._liveness_task is not None:
            self._liveness_task.cancel()
        self.liveness.remove()
        log.info("agi daemon stopped drained=%s writer_stopped=%s journal_depth=%d",
                 drained, stopped, self.journal.depth)
        return drained and stopped


def call_token_secret_allowed(settings, logger=log):
    """False (and a critical line) when a production process would run on a bad secret.

    Whoever knows CALL_TOKEN_SECRET can report the outcome of any call; a
    published one is acceptable for a demo only (DEMO=1), like SECRET_KEY.
    """
    problem = call_token_secret_problem(settings.call_token_secret)
    if problem is None:
        return True
    if settings.demo:
        logger.warning("%s: acceptable for a demo or a test only", problem)
        return True
    logger.critical("cannot start: %s; set the same long random CALL_TOKEN_SECRET for the "
                    "dialer and the AGI processes (python3 -c 'import secrets; "
                    "print(secrets.token_hex(32))'), or DEMO=1 for a demo", problem)
    return False


def _raise_fd_limit(max_connections):
    """Lift the soft open-files limit to the hard one; warn if the cap still does not fit.

    supervisord starts programs with 1024 descriptors unless ``minfds`` says
    otherwise; past that, accept() fails and callers wait in the backlog.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            log.warning("could not raise the open-files limit from %s", soft)
    needed = max_connections + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning("open-files limit %s is below AGI_MAX_CONNECTIONS + %s = %s; lower the cap "
                    "or raise the limit (supervisord minfds)", soft, FD_RESERVE, needed)


async def serve(options, started=None):
    """Run a daemon until SIGTERM or SIGINT; return the exit status."""
    daemon = Daemon(options)
    await daemon.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if started is not None:
        started(daemon)
    await stop.wait()
    log.info("signal received; stopping")
    clean = await daemon.stop()
    return 0 if clean else 1
