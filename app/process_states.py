"""What supervisord told us about our programs: each PROCESS_STATE_* transition, recorded by
the event listener (``python -m supervision``), read by /health and the Operations page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from peewee import fn

from app.models import ProcessTransition

# supervisord's process states (supervisor.states.ProcessStates), as its events name them
STATES = ("STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "UNKNOWN")
# A start that is not a retry of a failed one: after a crash (EXITED, autorestart) or a stop
# (an operator, memmon, a deploy, supervisord's own start).
RESTART_FROM = ("EXITED", "STOPPED")
RETENTION_DAYS = 30


@dataclass
class ProgramSummary:
    """One program's transitions within a window, and where it stands now."""

    host: str
    program: str
    restarts: int = 0
    unexpected_exits: int = 0
    failed_starts: int = 0  # BACKOFF: died within startsecs
    state: str = ""
    since: object = None

    def sentence(self, window: str) -> str:
        """'callcast-agi restarted 3 times in the last hour (3 unexpected exits)'."""
        times = "once" if self.restarts == 1 else f"{self.restarts} times"
        text = f"{self.program} restarted {times} in the last {window}"
        why = [f"{n} {label}" for n, label in ((self.unexpected_exits, "unexpected exits"),
                                              (self.failed_starts, "failed starts")) if n]
        return text + (f" ({', '.join(why)})" if why else "")


def record(host: str, program: str, from_state: str, to_state: str, now,
           pid: int | None = None, expected: bool | None = None) -> None:
    """Store one transition of ``program`` (``group`` or ``group:process``) on ``host``."""
    ProcessTransition.insert(
        at=now, host=host[:128], program=program[:128], from_state=from_state[:16],
        to_state=to_state[:16], pid=pid, expected=expected,
    ).execute()


def summaries(now, window: timedelta = timedelta(hours=1)) -> list[ProgramSummary]:
    """Per program (and host) with a transition since ``now - window``: restarts, exits, state."""
    found: dict[tuple[str, str], ProgramSummary] = {}
    rows = (ProcessTransition.select()
            .where(ProcessTransition.at >= now - window)
            .order_by(ProcessTransition.at, ProcessTransition.id))
    for row in rows:
        item = found.setdefault((row.host, row.program), ProgramSummary(row.host, row.program))
        if row.to_state == "STARTING" and row.from_state in RESTART_FROM:
            item.restarts += 1
        elif row.to_state == "EXITED" and row.expected is False:
            item.unexpected_exits += 1
        elif row.to_state == "BACKOFF":
            item.failed_starts += 1
        item.state, item.since = row.to_state, row.at
    return sorted(found.values(), key=lambda s: (-s.restarts, s.host, s.program))


def latest_states() -> dict[tuple[str, str], ProcessTransition]:
    """The last recorded transition of every (host, program) ever seen."""
    t = ProcessTransition
    last = t.select(fn.MAX(t.id)).group_by(t.host, t.program)
    return {(row.host, row.program): row for row in t.select().where(t.id.in_(last))}


def prune(now, days: int = RETENTION_DAYS) -> int:
    """Delete transitions older than ``days``; return how many."""
    cutoff = now - timedelta(days=days)
    return ProcessTransition.delete().where(ProcessTransition.at < cutoff).execute()
