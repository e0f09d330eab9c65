"""The enabled PBXs of the pool as one AMI, for what must ask all of them.

``PoolAmi`` has the two calls the rest of the core makes on a PBX besides the
tick's originates: ``core_show_channels`` (the drain, the status read model;
every enabled PBX must answer, so a drain never finalizes blind) and
``reload_dialplan`` (after the dialplan file is written: ``dialplan reload``
over AMI on a PBX that reads that file, its own rendering through the broker
to a PBX with an agent, confirmed within a bound; one that fails is recorded
down and left out, and ``left_out`` says which, as long as one PBX took it);
and ``send_files`` (the speech files a ``tts`` step made, files only, to the PBXs
with an agent, under the same rule). The tick takes the same
object and spreads its calls itself (``app.dialer.spread``).
"""

from __future__ import annotations

import logging

from app.clock import utcnow
from app.pbx import agents, media, pool
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
        self.left_out = []
        links = self.links()
        if not links:
            raise AmiConnectionError("no PBX is enabled in the pool")
        outputs, first = self._run_on(links, command, timeout)
        if len(self.left_out) == len(links):
            raise first
        self._say_left_out(command)
        return outputs

    def reload_dialplan(self, campaigns, settings, now=None) -> None:
        """The dialplan just written, on every enabled PBX (``app.pbx.dialplan.write_dialplan``).

        A PBX without an agent reads that file: ``dialplan reload`` over AMI. A PBX
        with one is sent its own rendering (its ``agi_host``, its ``media_dir``) and
        the sound files' manifest (``app.pbx.media``) through the broker, and this
        waits (``agents.CONFIRM_TIMEOUT_S``) for its agent to confirm. A PBX that
        does neither is marked down, named in ``left_out`` and a warning.

        Raises:
            PbxError: no PBX took it.
        """
        self.left_out = []
        links = self.links()
        if not links:
            raise AmiConnectionError("no PBX is enabled in the pool")
        plain = [(row, link) for row, link in links if not row.agent]
        with_agent = [(row, link) for row, link in links if row.agent]
        _, first = self._run_on(plain, "dialplan reload", None)
        if with_agent:
            self._send_to_agents(with_agent, campaigns, settings, now)
        if len(self.left_out) == len(links):
            raise first or AmiConnectionError("no PBX took the dialplan: " +
                                              "; ".join(self.left_out))
        self._say_left_out("the dialplan")

    def send_files(self, files, settings) -> None:
        """Files just recorded (``app.pbx.media``: (path, sha256) pairs) on every enabled
        PBX with an agent, files only, each confirmed within ``agents.CONFIRM_TIMEOUT_S``;
        one that does not confirm is marked down and named in ``left_out``."""
        self.left_out = []
        with_agent = [(row, link) for row, link in self.links() if row.agent]
        if with_agent and files:
            manifests = {row.id: agents.manifest_of(files, agents.settings_for(row, settings))
                         for row, _ in with_agent}
            self._deliver(with_agent, "files", lambda rows: agents.send_media(
                rows, manifests, settings.broker_url))
        self._say_left_out("the files")

    def _send_to_agents(self, with_agent, campaigns, settings, now) -> None:
        from app.pbx.dialplan import render_dialplan  # it names this module's class

        rows = [row for row, _ in with_agent]
        files = media.needed(campaigns)  # the sound files, written by each agent first
        own = {r.id: agents.settings_for(r, settings) for r in rows}
        texts = {r.id: render_dialplan(campaigns, own[r.id], now) for r in rows}
        manifests = {r.id: agents.manifest_of(files, own[r.id]) for r in rows}
        self._deliver(with_agent, "dialplan", lambda rows: agents.send(
            rows, texts, manifests, settings.broker_url))

    def _deliver(self, with_agent, what: str, publish) -> None:
        """``publish(rows)`` (it returns {pbx id: version}), then wait for each agent's
        confirmation; the agents it did not reach or that did not confirm are left out.

        An agent already behind (it has not confirmed what it was sent before) is sent
        this too but not waited for: it takes no call until it has applied its queue,
        this included (``app.dialer.spread``), and a dead one would cost every
        activation and every batch of speech files the whole timeout.
        """
        behind = {row.id for row, _ in with_agent if agents.lags(row)}
        try:
            sent = publish([row for row, _ in with_agent])
        except Exception as exc:  # RabbitMQ away: no agent gets it
            for row, link in with_agent:
                self._leave_out(row, link, f"{what} not sent: {type(exc).__name__}: {exc}")
            return
        waited = {pbx_id: v for pbx_id, v in sent.items() if pbx_id not in behind}
        late = {row.id for row in agents.wait_confirmed(waited)} if waited else set()
        label = "" if what == "dialplan" else f"{what} "
        for row, link in with_agent:
            if row.id in behind:
                self.left_out.append(f"{row.name}: its dialplan agent is behind (version "
                                     f"{row.dialplan_confirmed} of {row.dialplan_version}): "
                                     f"no calls until it has applied {label}version "
                                     f"{sent[row.id]}")
            elif row.id in late:
                self._leave_out(row, link, f"its dialplan agent did not confirm {label}version "
                                           f"{sent[row.id]} in {agents.CONFIRM_TIMEOUT_S:.0f}s")

    def _run_on(self, links, command, timeout):
        """``command`` over AMI on each link: (outputs, first error)."""
        outputs, first = [], None
        for row, link in links:
            try:
                outputs.extend(link.client.command(command, timeout))
                continue
            except PbxError as exc:
                first = first or exc
                self._leave_out(row, link, f"{command!r} failed: {type(exc).__name__}: {exc}")
        return outputs, first

    def _leave_out(self, row, link, text: str) -> None:
        self.left_out.append(f"{row.name}: {text}")
        if link.failed(text, monotonic()):
            pool.mark_down(row.id, text, utcnow())

    def _say_left_out(self, what: str) -> None:
        if self.left_out:
            log.warning("%s left out: %s", what, "; ".join(self.left_out))


_pool_ami = None


def get_pool_ami(settings) -> PoolAmi:
    """The process's PoolAmi (its connections live in ``app.pbx.registry``)."""
    global _pool_ami
    if _pool_ami is None or _pool_ami.settings is not settings:
        _pool_ami = PoolAmi(settings)
    return _pool_ami
