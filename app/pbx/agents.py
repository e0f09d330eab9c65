"""Dialplans through the broker: a PBX with an agent gets its own file, confirmed in the database.

A PBX whose row says ``agent`` runs ``python -m tasks.pbxagent <name>`` on its
host: a Dramatiq worker on the PBX's own queue (``pbx-<name>``) that writes the
dialplan it is sent to its local ``DIALPLAN_PATH``, runs ``dialplan reload`` on
its local AMI and records the version it applied (``confirm``). It also writes
the file at start, from the database, so the ``#include`` Asterisk needs at load
always finds it. ``send`` publishes each PBX's file (rendered with its own
``agi_host`` and ``media_dir``: ``settings_for``) with the manifest of the sound
files it plays (``app.pbx.media``: the agent writes them first, from the
database) and bumps its version; ``wait_confirmed`` waits, bounded, for the
agents' confirmations. The message is Dramatiq's own encoding published with pika (as
the broker publishes it), so the web and CLI processes need not build the
workers' broker.

``send_media`` publishes files only (the speech files the ``tts`` step makes while
a campaign runs): a second actor on the same queue, ``pbx_media`` (args: version,
manifest), that writes the files and confirms, never touching the dialplan. Its
version comes from the same sequence (``Pbx.dialplan_version``), so one
``wait_confirmed`` serves both and the agent, one thread, confirms in order.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import dramatiq
import pika

from app.pbx.tables import Pbx

log = logging.getLogger(__name__)

ACTOR = "pbx_dialplan"
MEDIA_ACTOR = "pbx_media"  # files only: (version, manifest)
CONFIRM_TIMEOUT_S = 10.0  # how long an activation waits for the agents


def queue_of(name: str) -> str:
    return f"pbx-{name}"


def settings_for(row, settings):
    """``settings`` as the dialplan of PBX ``row`` needs them: its AGI host, and the
    MEDIA_DIR its agent reported (none yet: the settings' own)."""
    media_dir = Path(row.media_dir) if row.media_dir else settings.media_dir
    return dataclasses.replace(settings, agi_host=row.agi_host, media_dir=media_dir)


def manifest_of(files, settings) -> dict:
    """What an agent's message says of the sound files: the MEDIA_DIR the text names
    them under (``settings_for``) and their (relative path, sha256) pairs."""
    return {"media_dir": str(settings.media_dir), "files": [list(pair) for pair in files]}


def report_media_dir(pbx_id: int, media_dir) -> None:
    """The agent of ``pbx_id`` keeps the sound files under ``media_dir``."""
    Pbx.update(media_dir=str(media_dir)).where(Pbx.id == pbx_id).execute()


def send(rows, texts: dict, manifests: dict, broker_url: str) -> dict:
    """Publish each row's dialplan text and manifest (``manifest_of``) to its agent;
    {pbx id: version sent}."""
    return _publish(rows, ACTOR, lambda row: (texts[row.id], manifests[row.id]), broker_url)


def send_media(rows, manifests: dict, broker_url: str) -> dict:
    """Publish each row's manifest alone (files to write, no dialplan) to its agent;
    {pbx id: version sent}."""
    return _publish(rows, MEDIA_ACTOR, lambda row: (manifests[row.id],), broker_url)


def _publish(rows, actor: str, args_of, broker_url: str) -> dict:
    """One message of ``actor`` to each row's queue, (next version, *args_of(row))."""
    sent = {}
    connection = pika.BlockingConnection(_params(broker_url))
    try:
        channel = connection.channel()
        for row in rows:
            Pbx.update(dialplan_version=Pbx.dialplan_version + 1).where(Pbx.id == row.id).execute()
            version = Pbx.get_by_id(row.id).dialplan_version
            queue = queue_of(row.name)
            channel.queue_declare(queue, durable=True, arguments={
                "x-dead-letter-exchange": "", "x-dead-letter-routing-key": f"{queue}.XQ"})
            body = dramatiq.Message(queue_name=queue, actor_name=actor,
                                    args=(version, *args_of(row)), kwargs={},
                                    options={}).encode()
            channel.basic_publish(exchange="", routing_key=queue, body=body,
                                  properties=pika.BasicProperties(delivery_mode=2))
            sent[row.id] = version
    finally:
        connection.close()
    return sent


def wait_confirmed(sent: dict, timeout: float = CONFIRM_TIMEOUT_S) -> list:
    """Wait until every agent confirmed its version; the rows that did not in time."""
    deadline = time.monotonic() + timeout
    while True:
        late = [row for row in Pbx.select().where(Pbx.id.in_(list(sent)))
                if row.dialplan_confirmed < sent[row.id]]
        if not late or time.monotonic() > deadline:
            return late
        time.sleep(0.05)


def lags(row) -> bool:
    """PBX ``row`` has an agent that has not confirmed every version sent to it (a
    dialplan or a batch of speech files): it takes no new call (``app.dialer.spread``)."""
    return bool(row.agent) and row.dialplan_confirmed < row.dialplan_version


def confirm(pbx_id: int, version: int) -> None:
    """The agent of ``pbx_id`` applied ``version`` (a dialplan: written and reloaded;
    files only: written)."""
    Pbx.update(dialplan_confirmed=version).where(
        (Pbx.id == pbx_id) & (Pbx.dialplan_confirmed < version)).execute()


def _params(broker_url: str):
    params = pika.URLParameters(broker_url)
    params.socket_timeout = 3
    params.blocked_connection_timeout = 3
    params.connection_attempts = 1
    return params
