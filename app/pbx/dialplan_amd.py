"""The AMD part of a campaign's dialplan (``app.pbx.dialplan`` calls it when AMD is on).

Right after the ``answered`` report, ``s`` runs ``AMD()`` with the campaign's nine
parameters (apps/app_amd.c's argument order) and branches on ``AMDSTATUS``:

* ``HUMAN``: report ``amd-human`` and go on to the menu;
* ``MACHINE``: report ``amd-machine`` and go to the ``machine`` extension;
* ``NOTSURE`` (or empty: app_amd.c sets ``AMDSTATUS`` to "" when it cannot
  analyse the channel) and ``HANGUP``: report ``amd-notsure-<human|machine>``
  / ``amd-hangup-<human|machine>`` (the campaign's treatment in the name) and go
  to the menu or to ``machine``.

Every report carries ``${AMDCAUSE}`` and goes through ``callcast-report`` (primary
AGI, fallback, UserEvent). A callee who hangs up during the analysis ends the
dialplan right after ``AMD()`` (``main/pbx.c`` checks for hangup after every
application), so ``h`` reports the ``HANGUP`` verdict before ``hangup``.

``machine``: hang up; or wait for the greeting to end with
``WaitForSilence(<silence>,1,<cap>)`` (apps/app_waitforsilence.c: ``WAITSTATUS``
``SILENCE`` or, after ``<cap>`` seconds, ``TIMEOUT``), play the voicemail message
(followed, when the campaign has a personalised message, by that message's segments:
the contact's own name, amount or date) and report ``vm-left``; a greeting still going at the cap reports ``vm-timeout``
and hangs up, so a never-ending greeting holds the channel ``<cap>`` seconds at most.
With "message on the last attempt", the message is left only when
``${CC_ATTEMPT}`` reached the last attempt a machine gets.
"""

from __future__ import annotations

from app.amd import AS_MACHINE, HANGUP, MESSAGE_LEFT, MESSAGE_TIMEOUT, NOTSURE, verdict_event

MACHINE_EXTEN = "machine"


def start_lines(amd, report) -> list[str]:
    """The lines of ``s`` between the ``answered`` report and the ``menu`` label.

    ``amd``: the campaign's ``app.amd.AmdSettings``; ``report(event, arg)``: a
    ``Gosub`` line to ``callcast-report``. The last line carries the ``menu`` label.
    """
    args = ",".join(str(int(v)) for v in amd.amd_arguments())
    cause = "${AMDCAUSE}"
    out = [
        f" same => n,AMD({args})",
        ' same => n,GotoIf($["${AMDSTATUS}" = "HUMAN"]?amdhuman)',
        ' same => n,GotoIf($["${AMDSTATUS}" = "MACHINE"]?amdmachine)',
        ' same => n,GotoIf($["${AMDSTATUS}" = "HANGUP"]?amdhangup)',
        "; NOTSURE, or \"\" when app_amd.c could not analyse the channel",
        f" same => n,{report(verdict_event(NOTSURE, amd.notsure), cause)}",
        f" same => n,{_treat(amd.notsure)}",
        f" same => n(amdhangup),{report(verdict_event(HANGUP, amd.hangup), cause)}",
        f" same => n,{_treat(amd.hangup)}",
        f" same => n(amdmachine),{report(verdict_event('MACHINE', AS_MACHINE), cause)}",
        f" same => n,Goto({MACHINE_EXTEN},1)",
        f" same => n(amdhuman),{report(verdict_event('HUMAN', 'human'), cause)}",
    ]
    return out


def _treat(treatment) -> str:
    return f"Goto({MACHINE_EXTEN},1)" if treatment == AS_MACHINE else "Goto(s,menu)"


def hangup_lines(amd, report) -> list[str]:
    """Lines ``h`` runs before its ``hangup`` report: the ``HANGUP`` verdict, if it was one.

    The dialplan ended right after ``AMD()`` (the callee hung up during the
    analysis), so nothing reported the verdict yet.
    """
    # a second report of the verdict (it ran in s too) is stored once: events are
    # unique per attempt and name
    return [
        ' same => n,GotoIf($["${AMDSTATUS}" != "HANGUP"]?report)',
        f" same => n,{report(verdict_event(HANGUP, amd.hangup), '${AMDCAUSE}')}",
    ]


def machine_lines(amd, max_attempts: int, voicemail: str, report, personal=()) -> list[str]:
    """The ``machine`` extension: hang up, or wait for the beep and leave the message.

    ``voicemail``: the checked prompt name of the voicemail message; ``personal``: the
    steps of the campaign's personalised message, played after it (``app.messages``).
    """
    last = amd.last_machine_attempt(max_attempts)
    out = [f"exten => {MACHINE_EXTEN},1,NoOp(answering machine: {_policy(amd, last)})"]
    if amd.machine == "hangup":
        if not amd.message_on_last_attempt:
            return out + [" same => n,Hangup()", ""]
        out += [
            f" same => n,GotoIf($[${{CC_ATTEMPT}} >= {last}]?message)",
            " same => n,Hangup()",
        ]
    out += [
        f" same => n(message),WaitForSilence({amd.message_silence_ms},1,{amd.message_cap_s})",
        ' same => n,GotoIf($["${WAITSTATUS}" = "TIMEOUT"]?nobeep)',
        f" same => n,Playback({voicemail})",
        *personal,
        f" same => n,{report(MESSAGE_LEFT, None)}",
        " same => n,Hangup()",
        f" same => n(nobeep),{report(MESSAGE_TIMEOUT, None)}",
        " same => n,Hangup()",
        "",
    ]
    return out


def _policy(amd, last) -> str:
    if amd.machine == "message":
        return "leave the message"
    if amd.message_on_last_attempt:
        return f"leave the message from attempt {last}, else hang up"
    return "hang up"
