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

A second actor on the same queue, ``pbx_media`` (``agents.send_media``), carries
files only (the speech files of a running campaign): it writes them and confirms
its version, and leaves the dialplan as it is (``make_actors``). After each dialplan
(and at start) it deletes its copies of the speech files of closed campaigns.
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


def make_actors(name: str, in_place: int):
    """The handlers of this agent's queue: (``apply``: a dialplan, ``apply_media``: files
    only). ``in_place``: the dialplan version confirmed when the agent started.

    A dialplan message is skipped when a newer dialplan was applied (a retry that
    came back after it); a files-only message is never skipped (its files are its
    own) and its confirmation does not count as a dialplan applied, so a dialplan
    retried past it still applies.
    """
    newest = {"text": int(in_place)}  # the newest dialplan version in place

    def apply(version: int, text: str, manifest=None) -> None:
        """Write the sound files and dialplan ``version`` of this PBX, reload it, confirm
        it (an older one: skip; one that names the files elsewhere: refuse).

        Raises:
            MediaError: a file cannot be written (Dramatiq retries, nothing confirmed).
        """
        settings = get_settings()
        manifest = manifest or {"media_dir": str(settings.media_dir), "files": []}
        if not _here(manifest, settings, version, name):
            return
        if int(version) <= newest["text"]:
            log.info("dialplan version %s of %s skipped: a newer one is in place", version, name)
            return  # a retry of an older message that arrived after a newer one
        with connection():
            written = media.materialize(settings.media_dir, manifest["files"])
        if written:
            log.info("%d sound file(s) of dialplan version %s written under %s", written,
                     version, settings.media_dir)
        write_file(Path(settings.dialplan_path), str(text))
        reload_local(settings)  # raises: Dramatiq retries, nothing confirmed
        newest["text"] = max(newest["text"], int(version))
        with connection():
            agents.confirm(pool.get_pbx(name).id, int(version))
            log.info("dialplan version %s of %s written and reloaded", version, name)
            # after the confirmation: a close's message (its context unloaded) is the one
            # that lets the closed campaign's speech files go, and it waits for nothing
            media.prune_speech(settings.media_dir)

    def apply_media(version: int, manifest) -> None:
        """Write the files of ``manifest`` (files only: the dialplan stays), confirm ``version``.

        Raises:
            MediaError: a file cannot be written (Dramatiq retries, nothing confirmed).
        """
        settings = get_settings()
        if not _here(manifest, settings, version, name):
            return
        with connection():
            written = media.materialize(settings.media_dir, manifest["files"])
            agents.confirm(pool.get_pbx(name).id, int(version))
        log.info("files version %s of %s: %d written under %s", version, name, written,
                 settings.media_dir)

    return apply, apply_media


def _here(manifest, settings, version, name) -> bool:
    """Whether ``manifest`` names the files under this host's MEDIA_DIR (logged when not)."""
    if manifest["media_dir"] == str(settings.media_dir):
        return True
    # rendered before this agent reported its MEDIA_DIR: the next message's is right
    log.error("version %s of %s refused: it names the sound files under %s, this host keeps "
              "them under %s", version, name, manifest["media_dir"], settings.media_dir)
    return False


def at_start(name: str, settings) -> int:
    """The files and the dialplan from the database, before Asterisk may need them; reloaded
    if Asterisk answers. Returns the dialplan version confirmed before (``make_actors``).

    The files: those the dialplan plays, and every file recorded for a campaign in a
    dialplan state (the speech files its ``tts`` steps made), read by campaign id.

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
        files = set(media.needed(specs)) | set(media.recorded([spec.id for spec in specs]))
        try:
            media.materialize(settings.media_dir, sorted(files))
        except MediaError as exc:  # the #include must still find its file
            log.error("sound files of %s not all written at start: %s", name, exc)
        write_dialplan(specs, ami=None, settings=agents.settings_for(row, settings))
        media.prune_speech(settings.media_dir)  # those of campaigns closed while it was down
    try:
        reload_local(settings)
    except PbxError as exc:
        log.warning("dialplan written, reload skipped (Asterisk not answering): %s", exc)
    return row.dialplan_confirmed


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
    apply, apply_media = make_actors(args.name, at_start(args.name, settings))
    queue = agents.queue_of(args.name)
    for fn, actor_name in ((apply, agents.ACTOR), (apply_media, agents.MEDIA_ACTOR)):
        dramatiq.actor(fn, actor_name=actor_name, queue_name=queue, max_retries=3,
                       min_backoff=500, max_backoff=5000)
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
