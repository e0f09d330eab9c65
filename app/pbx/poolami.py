"""The enabled PBXs of the pool as one AMI, for what must ask all of them.

``PoolAmi`` has the two calls the rest of the core makes on a PBX besides the
tick's originates: ``core_show_channels`` (the drain, the status read model;
every enabled PBX must answer, so a drain never finalizes blind) and
``command`` (``dialplan reload`` after the dialplan file is written: sent to
every enabled PBX; one that fails is recorded down and left out, and
``left_out`` says which, as long as one PBX took it). The tick takes the same
object and spreads its calls itself (``app.dialer.spread``).
"""

from __future__ import annotations

import logging

from app.clock import utcnow
from app.pbx import pool
from app.pbx.errors import AmiConnectionError, PbxError
from app.pbx.registry import get_registry, monotonic

log = logging.getLogger(__name__)


class PoolAmi:
    def __init__(self, settings):
        self.settings = settings
        self.timeout = settings.ami_timeout
        self.left_out: list[str] = []  # PBXs the last command did not reach, with the error

    def links(self):
        """(row, link) of every enabled PBX, the pool seeded from the settings when empty."""
        pool.ensure_seeded(self.settings)
        rows = pool.enabled_pbxs()
        return list(zip(rows, get_registry(self.timeout).links(rows)))

    def core_show_channels(self, timeout=None) -> list:
        """Every live channel of every enabled PBX.

        Raises:
            PbxError: a PBX did not answer (its name in the message), or none is enabled.
        """
        links = self.links()
        if not links:
            raise AmiConnectionError("no PBX is enabled in the pool")
        sent = []
        for row, link in links:
            try:
                sent.append((row, link.client.send("CoreShowChannels", timeout=timeout)))
            except PbxError as exc:
                raise type(exc)(f"PBX {row.name}: {exc}") from exc
        events = []
        for row, pending in sent:
            try:
                events.extend(pending.result(timeout).events or [])
            except PbxError as exc:
                raise AmiConnectionError(f"PBX {row.name}: {type(exc).__name__}: {exc}") from exc
        return events

    def command(self, command, timeout=None) -> list[str]:
        """Run a CLI command on every enabled PBX; the output of those that ran it.

        Raises:
            PbxError: no PBX ran it (the first error).
        """
        outputs, ran, first = [], 0, None
        self.left_out = []
        links = self.links()
        if not links:
            raise AmiConnectionError("no PBX is enabled in the pool")
        for row, link in links:
            try:
                outputs.extend(link.client.command(command, timeout))
                ran += 1
                continue
            except PbxError as exc:
                first = first or exc
                text = f"{command!r} failed: {type(exc).__name__}: {exc}"
            self.left_out.append(f"{row.name}: {text}")
            if link.failed(text, monotonic()):
                pool.mark_down(row.id, text, utcnow())
        if ran == 0:
            raise first
        if self.left_out:
            log.warning("%s not run on: %s", command, "; ".join(self.left_out))
        return outputs


_pool_ami = None


def get_pool_ami(settings) -> PoolAmi:
    """The process's PoolAmi (its connections live in ``app.pbx.registry``)."""
    global _pool_ami
    if _pool_ami is None or _pool_ami.settings is not settings:
        _pool_ami = PoolAmi(settings)
    return _pool_ami
