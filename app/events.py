"""The fixed vocabulary of call events, shared by the dialplan, the AGI daemon,
the dialer's fold and the reports.

Failure reasons come from Asterisk's ``${REASON}`` / OriginateResponse ``Reason``
(the AST_CONTROL_* code the originate ended with): 0 no such number or other
failure, 1 hung up before answer, 3 rang until the originate timeout, 5 busy,
8 congestion. 4 is "answered" and never a failure.
"""

from __future__ import annotations

import re

from app.amd import EVENTS as AMD_EVENTS
from app.amd import OUTCOMES as AMD_OUTCOMES

ANSWERED = "answered"
HANGUP = "hangup"
TIMEOUT = "timeout"  # the message played to the end and no digit came
INVALID = "invalid"  # a digit that is not one of the campaign's options
DTMF_PREFIX = "dtmf-"
FAILED_PREFIX = "failed-"

DIGITS = tuple("0123456789*#")
FAILURE_REASONS = ("busy", "noanswer", "congestion", "unavailable", "failed")

REASON_CODES = {
    "0": "unavailable",
    "1": "noanswer",
    "3": "noanswer",
    "5": "busy",
    "8": "congestion",
}

EVENT_NAMES = frozenset(
    [ANSWERED, HANGUP, TIMEOUT, INVALID]
    + [DTMF_PREFIX + d for d in DIGITS]
    + [FAILED_PREFIX + r for r in FAILURE_REASONS]
    + list(AMD_EVENTS)  # the AMD verdict, the voicemail message left or not (app.amd)
)
EVENT_RE = re.compile(
    r"^(answered|hangup|timeout|invalid|dtmf-[0-9*#]|failed-[a-z]+|amd-[a-z-]+|vm-[a-z]+)$"
)

# A FastAGI daemon confirms a durable event by setting this channel variable
# before it closes; the dialplan trusts nothing else (AGISTATUS is SUCCESS
# whenever the connection closed, even when the daemon died mid-request).
CONFIRM_VARIABLE = "CALLCAST_AGI_STATUS"
CONFIRM_VALUE = "STORED"
# the AMI UserEvent the dialplan sends when no daemon confirmed a report
USER_EVENT = "CallcastEvent"

# outcomes an attempt or contact can end with
ANSWERED_OUTCOME = "answered"
LOST = "lost"  # no terminal event and the PBX no longer has the channel
DNC = "dnc"  # on the do-not-call list at dial time
BAD_MESSAGE = "bad_message"  # its personalised message could not be made (app.messages)
STOPPED = "stopped"  # stopped by an operator (app.contacts.stopping)
OUTCOMES = (ANSWERED_OUTCOME, *FAILURE_REASONS, LOST, DNC, *AMD_OUTCOMES, BAD_MESSAGE, STOPPED)


def failure_reason(name: str) -> str | None:
    """'busy' for 'failed-busy'; None for an event that is not a failure."""
    if name.startswith(FAILED_PREFIX):
        return name[len(FAILED_PREFIX):]
    return None


def digit_of(name: str) -> str | None:
    """'3' for 'dtmf-3'; None otherwise."""
    if name.startswith(DTMF_PREFIX):
        return name[len(DTMF_PREFIX):]
    return None
