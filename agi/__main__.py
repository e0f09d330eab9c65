"""``python -m agi``: the FastAGI daemon (options default to the environment)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from agi.daemon import SOURCES, Options, call_token_secret_allowed, serve
from agi.errors import AgiError
from agi.journal import fallback_journal_path
from app.config import settings_or_exit
from app.logs import configure_logging

log = logging.getLogger("agi")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m agi", description=__doc__)
    p.add_argument("--bind", help="address to listen on (AGI_BIND)")
    p.add_argument("--port", type=int, help="FastAGI port (AGI_PORT), 0 picks one")
    p.add_argument("--metrics-port", type=int, help="Prometheus port (AGI_METRICS_PORT)")
    p.add_argument("--no-metrics", action="store_true", help="serve no metrics endpoint")
    p.add_argument("--journal", type=Path, help="journal file (AGI_JOURNAL_PATH)")
    p.add_argument("--database-url", help="database (DATABASE_URL)")
    p.add_argument("--batch-max", type=int, help="events per commit at most (AGI_BATCH_MAX)")
    p.add_argument("--batch-wait-ms", type=int, help="wait for a batch to fill (AGI_BATCH_WAIT_MS)")
    p.add_argument("--read-timeout", type=float, help="seconds to read a block (AGI_READ_TIMEOUT)")
    p.add_argument("--max-connections", type=int, help="concurrent connections (AGI_MAX_CONNECTIONS)")
    p.add_argument("--source", choices=SOURCES, default="agi",
                   help="source stored with events; 'fallback' also defaults the port to "
                   "AGI_FALLBACK_PORT, metrics to AGI_METRICS_PORT+1, and the journal "
                   "to <journal>-fallback")
    p.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    return p.parse_args(argv)


def options_from(args, settings):
    """The daemon's Options: the environment's settings, overridden by the command line."""
    options = Options.from_settings(
        settings,
        bind=args.bind, port=args.port, metrics_port=args.metrics_port,
        journal_path=args.journal, database_url=args.database_url, batch_max=args.batch_max,
        batch_wait_ms=args.batch_wait_ms, read_timeout=args.read_timeout,
        max_connections=args.max_connections, source=args.source,
    )
    if args.no_metrics:
        options.metrics_port = None
    if args.source == "fallback":
        # The second instance the dialplan tries when the first one fails. On
        # one host it must not share the journal (the lock would stop it) nor
        # the ports, so it has defaults of its own.
        if args.port is None:
            options.port = settings.agi_fallback_port
        if args.metrics_port is None and options.metrics_port:
            options.metrics_port = settings.agi_metrics_port + 1
        if args.journal is None:
            options.journal_path = fallback_journal_path(options.journal_path)
    return options


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = settings_or_exit()
    configure_logging(settings, "agi" if args.source == "agi" else f"agi-{args.source}")
    if not call_token_secret_allowed(settings):
        return 2
    options = options_from(args, settings)

    def started(daemon):
        if args.port_file:
            tmp = args.port_file.with_suffix(".tmp")
            tmp.write_text(f"{daemon.port} {daemon.metrics_port or 0}\n")
            tmp.replace(args.port_file)

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is pinned, but stay runnable
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        return runner(serve(options, started))
    except AgiError as exc:
        log.critical("cannot start: %s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
