"""Per-campaign Asterisk dialplan: a pure renderer and an atomic writer.

The file written to ``DIALPLAN_PATH`` holds one shared subroutine context,
``[callcast-report]``, and one context per campaign, ``[callcast-campaign-<id>]``.
``extensions.conf`` pulls it in with one line (see docs/asterisk-dialplan.md)::

    #include "callcast.conf"

Call flow of a campaign context (what pbxsim acts out, see pbxsim/interpreter.py):

* ``s``: report ``answered``; play the message with ``Read()`` so a digit
  pressed while it plays counts (``Playback()`` would drop it); ``Read`` plays
  it up to ``message_repeats`` times while nothing is pressed, waiting
  ``digit_timeout_s`` after each play; no digit at all: report ``timeout`` and
  hang up; a digit: ``Goto(<digit>,1)``.
* ``<digit>``: one extension per option: report ``dtmf-<digit>``, then the
  action: ``record`` and ``callback`` hang up (the digit is the answer; the
  dialer schedules a call-back's attempt, ``app.callbacks``), ``repeat`` plays the
  menu again (at most ``REPEAT_LIMIT`` menu plays), ``transfer`` ``Dial()``s the
  option's target.
* ``i``: a digit that is no option lands here (Asterisk jumps to ``i`` with
  ``INVALID_EXTEN`` when ``Goto`` names a missing extension): report
  ``invalid`` with the digit, play the menu again while fewer than
  ``message_repeats`` menu plays happened, else hang up.
* ``h``: report ``hangup`` with ``${HANGUPCAUSE}`` as the AGI argument. Asterisk
  runs ``h`` in the context the channel is in when the hangup is noticed, which
  is ``callcast-report`` when the callee hangs up during a report (e.g. right
  after pressing a digit): that context has the same ``h`` —
  except on the ``failed`` dummy channel, where Asterisk also runs ``h``
  (``__ast_pbx_run``) after ``failed`` ends.
* ``failed``: Asterisk runs it on the ``OutgoingSpoolFailed`` dummy channel when
  the originate never connects, with ``${REASON}`` set; report
  ``failed-<name>`` (names in ``app.events.REASON_CODES``: 0 unavailable,
  1 and 3 noanswer, 5 busy, 8 congestion, anything else failed) and the raw
  code as argument.

Every report is ``Gosub(callcast-report,s,1(<event>[,<arg>]))``, which runs
``AGI(agi://AGI_HOST:AGI_PORT/${CC_CAMPAIGN}/${CC_CONTACT}/${CC_ATTEMPT}/<event>,<arg>,${CC_TOKEN})``;
when ``AGISTATUS`` is not ``SUCCESS`` it tries ``AGI_FALLBACK_HOST`` (if set)
and always sends ``UserEvent(CallcastEvent,...)`` with the same facts on AMI.
The ``CC_*`` variables come from the Originate (``app.pbx.originate.originate_args``).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import replace
from pathlib import Path

from app.amd import settings_of as amd_settings_of
from app.calltokens import TOKEN_VARIABLE
from app.clock import utcnow
from app.config import get_settings
from app.errors import ValidationError
from app.events import CONFIRM_VALUE, CONFIRM_VARIABLE, REASON_CODES, USER_EVENT
from app.menu import key_problems, transfer_of
from app.models import DIALPLAN_STATES, OPTION_DIGITS, Campaign, CampaignOption
from app.pbx import dialplan_amd
from app.pbx.dialplan_message import menu_steps, voicemail_steps
from app.pbx.dialplan_spec import CampaignSpec, OptionSpec, campaign_spec  # noqa: F401
from app.pbx.errors import DialplanError
from app.pbx.originate import context_name, dial_string, field_of

log = logging.getLogger(__name__)

REPORT_CONTEXT = "callcast-report"
REPEAT_LIMIT = 5  # menu plays a caller can ask for with a "repeat" option

# what may appear inside an application argument without quoting trouble:
# no ',', '(', ')', '$', '[', ']', ';', quotes, spaces or line breaks
_SOUND_RE = re.compile(r"[A-Za-z0-9_./+-]{1,200}\Z")
_TARGET_RE = re.compile(r"[A-Za-z0-9_./@:+#*-]{1,100}\Z")
_AUDIO_EXTS = (".wav", ".gsm", ".ulaw", ".alaw", ".sln", ".g722", ".mp3", ".WAV")


def _comment(text) -> str:
    """Text safe inside a ';' comment: one line, no control characters."""
    return "".join(c if c.isprintable() else " " for c in str(text))[:200]


def message_path(message_file: str, settings) -> Path:
    """Where an uploaded message is: absolute as stored, or under MEDIA_DIR."""
    path = Path(message_file)
    if not path.is_absolute():
        path = Path(settings.media_dir) / path
    return path


def prompt_of(spec: CampaignSpec, settings) -> str:
    """The Read() prompt: the uploaded file (path without extension) or the stock sound.

    Raises:
        DialplanError: the name has characters that would break the dialplan line.
    """
    if spec.message_file:
        text = str(message_path(spec.message_file, settings))
        for ext in _AUDIO_EXTS:
            if text.endswith(ext):
                text = text[: -len(ext)]
                break
    elif spec.message_sound:
        text = spec.message_sound
    else:
        log.warning("campaign=%s has no message; the dialplan plays 1 s of silence", spec.id)
        text = "silence/1"
    if not _SOUND_RE.match(text):
        raise DialplanError(f"campaign {spec.id}: message {text!r} has characters Asterisk "
                            "arguments cannot carry (allowed: letters, digits, _ . / + -)")
    return text


def dial_target(target: str, settings) -> str:
    """An option's transfer target as a Dial() string: a number through DIAL_TEMPLATE,
    EXTEN@CONTEXT (a context in TRANSFER_CONTEXTS) as ``Local/EXTEN@CONTEXT``.

    Raises:
        DialplanError: a target the option rule (``app.menu.transfer_of``) refuses.
    """
    try:
        transfer = transfer_of(target, settings.transfer_contexts)
    except ValidationError as exc:
        raise DialplanError(str(exc)) from None
    if transfer.number:
        dial = dial_string(settings.dial_template, transfer.number)
    else:
        dial = f"Local/{transfer.exten}@{transfer.context}"
    if not _TARGET_RE.match(dial):
        # DIAL_TEMPLATE itself holds what an application argument cannot carry
        raise DialplanError(f"transfer target {dial!r} has characters a Dial() argument "
                            "cannot carry")
    return dial


def render_report_context(settings) -> str:
    """The shared ``[callcast-report]`` subroutine: primary AGI, fallback AGI, UserEvent."""
    path = "${CC_CAMPAIGN}/${CC_CONTACT}/${CC_ATTEMPT}/${ARG1}"
    primary = f"agi://{settings.agi_host}:{settings.agi_port}/{path}"
    args = f"${{ARG2}},${{{TOKEN_VARIABLE}}}"  # the call token, checked by every daemon
    lines = [
        f"[{REPORT_CONTEXT}]",
        "; Gosub(callcast-report,s,1(<event>[,<arg>])) reports one step of a call.",
        f"; The daemon sets {CONFIRM_VARIABLE}={CONFIRM_VALUE} once the event is durable.",
        "; AGISTATUS alone proves nothing: a daemon killed mid-request also reads as",
        "; SUCCESS. Unconfirmed: try the fallback daemon and tell AMI.",
        f"exten => s,1,Set({CONFIRM_VARIABLE}=)",
        f" same => n,AGI({primary},{args})",
        f' same => n,GotoIf($["${{{CONFIRM_VARIABLE}}}" = "{CONFIRM_VALUE}"]?done)',
        " same => n,Set(CC_AGISTATUS=${AGISTATUS})",
    ]
    if settings.agi_fallback_host:
        fallback = f"agi://{settings.agi_fallback_host}:{settings.agi_fallback_port}/{path}"
        lines.append(f" same => n,AGI({fallback},{args})")
    else:
        lines.append(" same => n,Set(AGISTATUS=NONE)  ; no AGI_FALLBACK_HOST configured")
    lines += [
        f" same => n,UserEvent({USER_EVENT},campaign: ${{CC_CAMPAIGN}},contact: ${{CC_CONTACT}},"
        "attempt: ${CC_ATTEMPT},event: ${ARG1},arg: ${ARG2},agistatus: ${CC_AGISTATUS},"
        f"fallback: ${{AGISTATUS}},stored: ${{{CONFIRM_VARIABLE}}},token: ${{{TOKEN_VARIABLE}}})",
        " same => n(done),Return()",
        "",
        "; A hangup noticed while a report runs ends the dialplan here, and Asterisk",
        "; runs h in the channel's current context (main/pbx.c __ast_pbx_run): this one.",
        *_hangup_extension(),
    ]
    return "\n".join(lines) + "\n"


def _hangup_extension(before=()):
    # main/pbx.c runs h after the failed extension too: that dummy channel's
    # end is no call's hangup, so h stays quiet once failed reported
    return [
        'exten => h,1,GotoIf($["${CC_FAILED}" != ""]?end)',
        *before,  # the AMD verdict of a callee who hung up during AMD()
        f" same => n{'(report)' if before else ''},{_report('hangup', '${HANGUPCAUSE}')}",
        " same => n(end),NoOp()",
    ]


def _report(event, arg=None) -> str:
    return f"Gosub({REPORT_CONTEXT},s,1({event}{',' + arg if arg else ''}))"


def render_campaign(campaign, options=None, settings=None) -> str:
    """The dialplan context of one campaign (pure: same input, same text).

    Raises:
        DialplanError: an option has a bad digit, action or target, or the message name is unsafe.
    """
    if settings is None:
        settings = get_settings()
    spec = campaign_spec(campaign, options)
    prompt = "" if not spec.template.empty else prompt_of(spec, settings)
    repeats = max(1, int(spec.message_repeats))
    timeout = max(1, int(spec.digit_timeout_s))
    found = key_problems(spec.options)
    if found:
        raise DialplanError(f"campaign {spec.id}: " + "; ".join(found))
    options_sorted = sorted(spec.options, key=lambda o: OPTION_DIGITS.index(o.digit))
    amd = amd_settings_of(spec.amd)
    amd = amd if amd.enabled else None
    out = _campaign_header(spec, prompt, repeats, timeout, options_sorted)
    out += _start_extension(spec, prompt, repeats, timeout, amd)
    for opt in options_sorted:
        out += _option_extension(spec, opt, settings)
    if amd is not None:
        voicemail = replace(spec, message_file=amd.message_file, message_sound=amd.message_sound)
        voicemail = prompt_of(voicemail, settings) if amd.leaves_message() else ""
        personal = [] if spec.template.empty else voicemail_steps(spec.template, spec.timezone)
        out += dialplan_amd.machine_lines(amd, spec.max_attempts, voicemail, _report, personal)
    out += _closing_extensions(repeats, amd)
    return "\n".join(out) + "\n"


def _campaign_header(spec, prompt, repeats, timeout, options) -> list[str]:
    out = [
        f"[{context_name(spec.id)}]",
        f"; campaign {spec.id}: {_comment(spec.name)}",
        f"; message {prompt or f'a template of {len(spec.template.segments)} segment(s)'}, "
        f"{repeats} play(s) while no digit, {timeout} s wait after each",
    ]
    for opt in options:
        what = opt.action + (f" to {_comment(opt.target)}" if opt.action == "transfer" else "")
        what += f" in {_comment(opt.target)}" if opt.action == "callback" else ""
        out.append(f";   {opt.digit} = {_comment(opt.label)!r} ({what})")
    if not options:
        out.append(";   no options: every digit is reported as invalid")
    return out


def _start_extension(spec, prompt, repeats, timeout, amd=None) -> list[str]:
    """``s``: report the answer, (AMD on) tell a machine, play the menu (the file with Read(),
    or a personalised message), jump to the digit's extension."""
    start = [
        f"exten => s,1,NoOp(callcast campaign {spec.id} contact ${{CC_CONTACT}} "
        "attempt ${CC_ATTEMPT})",
        " same => n,Set(CC_PLAYS=0)",
        f" same => n,{_report('answered')}",
        *(dialplan_amd.start_lines(amd, _report) if amd else ()),
    ]
    if not spec.template.empty:  # a personalised message (app.pbx.dialplan_message)
        return start + menu_steps(spec.template, spec.timezone, repeats, timeout, _report)
    return start + [
        " same => n(menu),Set(CC_PLAYS=$[${CC_PLAYS} + 1])",
        # 't' with no argument: no terminator, so '#' is read as a digit
        f" same => n,Read(CC_DIGIT,{prompt},1,t,{repeats},{timeout})",
        ' same => n,GotoIf($["${CC_DIGIT}" = ""]?noinput)',
        " same => n,Goto(${CC_DIGIT},1)",
        f" same => n(noinput),{_report('timeout')}",
        " same => n,Hangup()",
        "",
    ]


def _option_extension(spec, opt, settings) -> list[str]:
    """One option's extension: report the digit, then record, repeat or transfer."""
    out = [f"exten => {opt.digit},1,{_report('dtmf-' + opt.digit)}"]
    if opt.action == "repeat":
        out.append(f" same => n,GotoIf($[${{CC_PLAYS}} < {REPEAT_LIMIT}]?s,menu)")
    elif opt.action == "transfer":
        target = dial_target(opt.target, settings)
        out.append(f" same => n,Dial({target},{max(1, int(spec.ring_timeout_s))})")
    return out + [" same => n,Hangup()", ""]


def _closing_extensions(repeats, amd=None) -> list[str]:
    """``i`` (no such option), ``h`` (hangup) and ``failed`` (the originate never connected)."""
    out = [
        f"exten => i,1,{_report('invalid', '${INVALID_EXTEN}')}",
        f" same => n,GotoIf($[${{CC_PLAYS}} < {repeats}]?s,menu)",
        " same => n,Hangup()",
        "",
        *_hangup_extension(dialplan_amd.hangup_lines(amd, _report) if amd else ()),
        "",
        "exten => failed,1,Set(CC_FAILED=failed)",
    ]
    for code, name in sorted(REASON_CODES.items(), key=lambda kv: int(kv[0])):
        out.append(f' same => n,ExecIf($["${{REASON}}" = "{code}"]?Set(CC_FAILED={name}))')
    out.append(f" same => n,{_report('failed-${CC_FAILED}', '${REASON}')}")
    return out


def render_dialplan(campaigns, settings=None, now=None) -> str:
    """The whole file: header, the report subroutine and every campaign's context."""
    if settings is None:
        settings = get_settings()
    stamp = (now or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = [
        "; Callcast campaign dialplan, generated by app/pbx/dialplan.py at " + stamp + ".\n"
        "; Do not edit: rewritten whenever a campaign enters or leaves ACTIVE, PAUSED,\n"
        "; FINISHED or DRAINING. extensions.conf includes it with one line:\n"
        f';   #include "{Path(settings.dialplan_path).name}"\n',
        render_report_context(settings),
    ]
    for campaign in sorted(campaigns, key=lambda c: int(field_of(c, "id"))):
        parts.append(render_campaign(campaign, None, settings))
    return "\n".join(parts)


def write_dialplan(campaigns, path=None, ami=None, settings=None, now=None) -> Path:
    """Write every campaign's dialplan atomically (temp file + rename), then ``dialplan reload``.

    ``ami=None`` skips the reload (e.g. a first write before Asterisk starts).

    Raises:
        DialplanError: a campaign cannot be rendered (nothing is written).
        AmiError subclasses: the reload failed (the file is written).
    """
    if settings is None:
        settings = get_settings()
    path = Path(path or settings.dialplan_path)
    text = render_dialplan(campaigns, settings, now)
    write_file(path, text)
    log.info("dialplan written path=%s campaigns=%d", path, len(list(campaigns)))
    if ami is not None:
        reload = getattr(ami, "reload_dialplan", None)  # the pool (app.pbx.poolami)
        if reload is not None:
            reload(campaigns, settings, now)
        else:
            ami.command("dialplan reload")
    return path


def write_file(path: Path, text: str) -> None:
    """``text`` to ``path`` atomically (temp file, fsync, rename), 0644: Asterisk runs as
    another user and must read it. A failed write leaves the old file and no temp file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_campaign_dialplans(ami=None, settings=None, now=None, activating=None) -> Path:
    """Write the dialplan of every campaign whose calls may still be up, then reload it.

    ``activating`` names a campaign to include before it is live (the one being
    activated: the dialplan must be loaded before its first call).

    Raises:
        DialplanError: a campaign cannot be rendered (nothing is written).
        AmiError subclasses: the reload failed (the file is written).
    """
    return write_dialplan(dialplan_specs(activating), ami=ami, settings=settings, now=now)


def dialplan_specs(activating=None) -> list[CampaignSpec]:
    """The campaigns whose calls may still be up (and ``activating``), as the renderer
    takes them."""
    live = Campaign.state.in_(DIALPLAN_STATES)
    if activating is not None:
        live |= Campaign.id == activating
    campaigns = list(Campaign.select().where(live))
    by_campaign = {}
    if campaigns:
        for opt in CampaignOption.select().where(
            CampaignOption.campaign.in_([c.id for c in campaigns])
        ):
            by_campaign.setdefault(opt.campaign_id, []).append(opt)
    return [campaign_spec(c, by_campaign.get(c.id, [])) for c in campaigns]
