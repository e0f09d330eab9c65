"""``python -m tasks.pbxagent NAME``: the dialplan agent of PBX NAME, on that PBX's host.

A Dramatiq worker with one thread on the PBX's own queue (``pbx-<NAME>``,
``app.pbx.agents``): each message carries a dialplan version, its text rendered
for this PBX and the manifest of the sound files it plays; the agent writes
those files under its local ``MEDIA_DIR`` from the database (``app.pbx.media``),
then the text to its local ``DIALPLAN_PATH`` (temp file + rename), runs
``dialplan reload`` on its local AMI (``AMI_*``) and records the version in the
database, which the activation waits for. At start it reports its MEDIA_DIR (the
dialplans sent to it name the files there) and writes the files and the dialplan
from the database before anything else, so the ``#include`` Asterisk needs at
load always finds it, and reloads when Asterisk answers (confirming nothing: see
``at_start``). A write or reload that fails is retried (3 times, with backoff);
the version is confirmed only once the files are in place and Asterisk has it.
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
from app.messages.template import SOUND_RE
from app.pbx import agents, media, pool
from app.pbx.ami import AmiClient
from app.pbx.dialplan import dialplan_specs, write_dialplan, write_file
from app.pbx.errors import MediaError, PbxError

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
    def apply(version: int, text: str, manifest=None) -> None:
        """Write the sound files and dialplan ``version`` of this PBX, reload it, confirm
        it (an older one: skip; one that names the files elsewhere: refuse).

        Raises:
            MediaError: a file cannot be written (Dramatiq retries, nothing confirmed).
        """
        settings = get_settings()
        manifest = manifest or {"media_dir": str(settings.media_dir), "files": []}
        if manifest["media_dir"] != str(settings.media_dir):
            # rendered before this agent reported its MEDIA_DIR: the next activation's is right
            log.error("dialplan version %s of %s refused: it names the sound files under %s, "
                      "this host keeps them under %s", version, name, manifest["media_dir"],
                      settings.media_dir)
            return
        with connection():
            if int(version) <= pool.get_pbx(name).dialplan_confirmed:
                log.info("dialplan version %s of %s skipped: a newer one is in place",
                         version, name)
                return  # a retry of an older message that arrived after a newer one
            written = media.materialize(settings.media_dir, manifest["files"])
        if written:
            log.info("%d sound file(s) of dialplan version %s written under %s", written,
                     version, settings.media_dir)
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
        agents.report_media_dir(pool.get_pbx(name).id, settings.media_dir)
        row = pool.get_pbx(name)
        specs = dialplan_specs()
        try:
            media.materialize(settings.media_dir, media.needed(specs))
        except MediaError as exc:  # the #include must still find its file
            log.error("sound files of %s not all written at start: %s", name, exc)
        write_dialplan(specs, ami=None, settings=agents.settings_for(row, settings))
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
    if not SOUND_RE.match(str(settings.media_dir)):
        log.error("MEDIA_DIR %s: a dialplan argument cannot carry it (at most 200 of letters, "
                  "digits, _ . / + -)", settings.media_dir)
        return 2
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
