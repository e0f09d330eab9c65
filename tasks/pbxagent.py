"""``python -m tasks.pbxagent NAME``: the dialplan agent of PBX NAME, on that PBX's host.

A Dramatiq worker with one thread on the PBX's own queue (``pbx-<NAME>``,
``app.pbx.agents``): each message carries a dialplan version and its text,
rendered for this PBX; the agent writes it to its local ``DIALPLAN_PATH``
(temp file + rename), runs ``dialplan reload`` on its local AMI (``AMI_*``)
and records the version in the database, which the activation waits for. At
start it writes the file from the database before anything else, so the
``#include`` Asterisk needs at load always finds it, and reloads when Asterisk
answers (confirming nothing: see ``at_start``). A reload that fails is retried
(3 times, with backoff); the version is confirmed only once Asterisk has it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

import dramatiq

from tasks.broker import broker

from app.config import get_settings
from app.db import connection
from app.logs import configure_logging
from app.pbx import agents, pool
from app.pbx.ami import AmiClient
from app.pbx.dialplan import write_campaign_dialplans, write_file
from app.pbx.errors import PbxError

log = logging.getLogger(__name__)


def reload_local(settings) -> None:
    """``dialplan reload`` on this host's Asterisk.

    Raises:
        PbxError
    """
    client = AmiClient(settings.ami_host, settings.ami_port, settings.ami_user,
                       settings.ami_secret, timeout=settings.ami_timeout, name="pbxagent")
    try:
        client.command("dialplan reload")
    finally:
        client.close()


def make_apply(name: str):
    def apply(version: int, text: str) -> None:
        """Write dialplan ``version`` of this PBX, reload it, confirm it (an older one: skip)."""
        settings = get_settings()
        with connection():
            if int(version) <= pool.get_pbx(name).dialplan_confirmed:
                log.info("dialplan version %s of %s skipped: a newer one is in place",
                         version, name)
                return  # a retry of an older message that arrived after a newer one
        write_file(Path(settings.dialplan_path), str(text))
        reload_local(settings)  # raises: Dramatiq retries, nothing confirmed
        with connection():
            agents.confirm(pool.get_pbx(name).id, int(version))
        log.info("dialplan version %s of %s written and reloaded", version, name)

    return apply


def at_start(name: str, settings) -> None:
    """The file from the database, before Asterisk may need it; reloaded if Asterisk answers.

    No version is confirmed here: only a message's text confirms its version. A start
    during an activation renders the database before the campaign is in a dialplan
    state (it is included only in the activation's own rendering, ``activating``), so
    confirming the version the row holds then would skip the very message that carries
    the campaign. The messages queued before this start are applied in order (each is
    a whole file), so the last one sent is what stays in place.
    """
    with connection():
        row = pool.get_pbx(name)
        write_campaign_dialplans(ami=None, settings=agents.settings_for(row, settings))
    try:
        reload_local(settings)
    except PbxError as exc:
        log.warning("dialplan written, reload skipped (Asterisk not answering): %s", exc)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="The dialplan agent of one PBX of the pool.")
    parser.add_argument("name", help="the PBX's name in the pool (flask pbx list)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    settings = get_settings()
    configure_logging(settings, "pbxagent")
    at_start(args.name, settings)
    queue = agents.queue_of(args.name)
    dramatiq.actor(make_apply(args.name), actor_name=agents.ACTOR, queue_name=queue,
                   max_retries=3, min_backoff=500, max_backoff=5000)
    worker = dramatiq.Worker(broker, queues={queue}, worker_threads=1, worker_timeout=100)
    worker.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("dialplan agent of %s on queue %s, file %s", args.name, queue,
             settings.dialplan_path)
    stop.wait()
    worker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
