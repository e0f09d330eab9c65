"""What the lifecycle worker's actors share (drain, finalize, the schedules).

Not an actor module: ``tasks.draining``, ``tasks.finalizing`` and
``tasks.schedules`` import it, and none of them imports another for it.
"""

from __future__ import annotations

import logging

import dramatiq
from peewee import InterfaceError, OperationalError

from app.dialer.readout import set_status
from app.heartbeats import beat
from app.pbx.errors import PbxError

log = logging.getLogger(__name__)

# failures that are not "wait" or "PBX/database down" (bugs, bad data) stop after this
OTHER_ERRORS_MAX = 10
TRANSIENT = (dramatiq.Retry, PbxError, OperationalError, InterfaceError)


def keep_draining(retries: int, exc: BaseException) -> bool:
    """Retry forever while waiting for calls or for the PBX/database; a bug gives up."""
    return isinstance(exc, TRANSIENT) or retries < OTHER_ERRORS_MAX


def lifecycle_beat(now, info) -> None:
    """The lifecycle worker's heartbeat (for /health); never fails the caller."""
    try:
        beat("lifecycle", now, info)
    except Exception:  # a heartbeat never fails the main path
        log.exception("lifecycle heartbeat failed")


def record_failure(campaign_id: int, what: str, exc: BaseException, now) -> None:
    """Put a drain poll or finalization that raised in the campaign's status, where operators
    look (a wait or the PBX away is not a failure); never fails the caller."""
    if isinstance(exc, (dramatiq.Retry, PbxError)):
        return
    try:
        set_status(campaign_id, f"{what} failed: {type(exc).__name__}: {exc} (retried up to "
                                f"{OTHER_ERRORS_MAX} times; see the lifecycle log)", now)
    except Exception:  # the database itself may be what failed
        log.exception("could not record the failed %s campaign=%s", what, campaign_id)
