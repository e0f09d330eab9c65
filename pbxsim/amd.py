"""pbxsim's ``AMD()`` and ``WaitForSilence()``: Asterisk's algorithms over a callee's audio.

A callee's audio is a list of voice and silence spans after the answer (``Audio``);
both applications read it in 20 ms signed-linear frames, as Asterisk reads a
channel they set to ``slin`` (``ast_codec_samples_count(f) / DEFAULT_SAMPLES_PER_MS``
= 160 / 8), and take the simulated time the frames they read last.

``amd()`` is ``isAnsweringMachine`` of apps/app_amd.c (Asterisk master): the same
arguments (nine, ``atoi``, an empty one keeps the default), the same per-frame
tests in the same order, the same ``AMDSTATUS`` / ``AMDCAUSE``. The silence a frame
reports is ``ast_dsp_silence``'s running total (reset by a voice frame).
``wait_for_silence()`` is ``do_waiting`` of apps/app_waitforsilence.c: a fresh
silence detector, ``WAITSTATUS`` ``SILENCE`` once ``silencerequired`` ms of
silence ran, ``TIMEOUT`` once ``timeout`` seconds passed, ``HANGUP`` if the
callee hung up. Source lines: docs/asterisk-dialplan.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pbxsim import dialplan as dpmod
from pbxsim.channels import CAUSE_NORMAL_CLEARING

log = logging.getLogger(__name__)

FRAME_MS = 20
# app_amd.c's dflt* values (amd.conf.sample says the same), in AMD()'s argument order
DEFAULTS = (2500, 1500, 800, 5000, 100, 50, 2, 256, 5000)
WAIT_DEFAULT_MS = 1000  # app_waitforsilence.c: timereqd = 1000
# the modules whose applications pbxsim runs: what AMI ModuleCheck answers Success for
# (pbxsim --without-module NAME takes one away, as a PBX without it)
MODULES = frozenset({"app_amd", "app_waitforsilence", "app_read", "app_playback", "app_dial",
                     "app_exec", "app_stack", "app_userevent", "res_agi", "pbx_config"})
APP_MODULES = {"AMD": "app_amd", "WaitForSilence": "app_waitforsilence"}


def module_loaded(interpreter, name: str) -> bool:
    """``ast_module_check``: the module (``app_amd`` or ``app_amd.so``) is loaded."""
    name = name.strip()
    name = name[:-3] if name.endswith(".so") else name
    return name in MODULES and name not in getattr(interpreter, "missing_modules", ())


@dataclass(frozen=True)
class Audio:
    """What the callee sends after the answer: (voice?, ms) spans, then silence
    (or the spans again, ``loop``); ``hangup_ms``: the callee hangs up then."""

    spans: tuple = ()
    loop: bool = False
    hangup_ms: int | None = None

    def voice_at(self, ms: int) -> bool:
        total = sum(d for _, d in self.spans)
        if total and self.loop:
            ms %= total
        for voice, d in self.spans:
            if ms < d:
                return voice
            ms -= d
        return False


# the callee kinds (pbxsim/callee.py picks one per call)
KINDS = {
    # "Hello?" then waits for an answer
    "human": Audio(((False, 300), (True, 400))),
    # a four-word greeting, a pause, a beep, then silence (the recording)
    "machine": Audio(((False, 200), (True, 400), (False, 150), (True, 500), (False, 150),
                      (True, 400), (False, 150), (True, 600), (False, 300), (True, 500))),
    # a greeting that never ends: words with short gaps, forever
    "endless": Audio(((True, 400), (False, 150)), loop=True),
    # nobody says anything
    "silent": Audio(()),
}


def audio_of(kind: str, hangup_ms=None) -> Audio:
    audio = KINDS[kind]
    return audio if hangup_ms is None else Audio(audio.spans, audio.loop, hangup_ms)


def _int(text, default):
    """C's atoi for a non-empty argument (leading digits, else 0); empty: the default."""
    text = text.strip()
    if not text:
        return default
    sign, digits = (-1, text[1:]) if text[:1] == "-" else (1, text.lstrip("+"))
    n = ""
    for c in digits:
        if not c.isdigit():
            break
        n += c
    return sign * int(n) if n else 0


def parse_amd_args(data: str) -> list[int]:
    """AMD()'s nine parameters from its argument text (app_amd.c AST_STANDARD_APP_ARGS)."""
    args = (dpmod.split_args(data) if data.strip() else []) + [""] * 9
    return [_int(a, d) for a, d in zip(args[:9], DEFAULTS)]


def amd(params, audio: Audio, start_ms: int = 0):
    """(AMDSTATUS, AMDCAUSE, ms of audio read) for ``audio`` from ``start_ms`` on."""
    (initial_silence, greeting, after_greeting, total_analysis, min_word, between_words,
     max_words, _threshold, max_word_length) = params
    in_initial, in_greeting = True, False
    voice_ms = silence_ms = total = words = consecutive = dsp_silence = 0
    in_word = True  # currentState starts at STATE_IN_WORD
    at = start_ms
    while True:
        if audio.hangup_ms is not None and at >= audio.hangup_ms:
            return "HANGUP", "", at - start_ms  # ast_read() returned NULL
        voice = audio.voice_at(at)
        at += FRAME_MS
        total += FRAME_MS
        if total >= total_analysis:
            return "NOTSURE", f"TOOLONG-{total}", at - start_ms
        dsp_silence = 0 if voice else dsp_silence + FRAME_MS
        if dsp_silence > 0:
            silence_ms = dsp_silence
            if silence_ms >= between_words:
                in_word, consecutive = False, 0
            if in_initial and silence_ms >= initial_silence:
                return ("MACHINE", f"INITIALSILENCE-{silence_ms}-{initial_silence}",
                        at - start_ms)
            if silence_ms >= after_greeting and in_greeting:
                return "HUMAN", f"HUMAN-{silence_ms}-{after_greeting}", at - start_ms
            continue
        consecutive += FRAME_MS
        voice_ms += FRAME_MS
        if consecutive >= min_word and not in_word:
            words += 1
            in_word = True
        if consecutive >= max_word_length:
            return "MACHINE", f"MAXWORDLENGTH-{consecutive}", at - start_ms
        if words > max_words:
            return "MACHINE", f"MAXWORDS-{words}-{max_words}", at - start_ms
        if in_greeting and voice_ms >= greeting:
            return "MACHINE", f"LONGGREETING-{voice_ms}-{greeting}", at - start_ms
        if voice_ms >= min_word:
            silence_ms = 0
        if consecutive >= min_word and not in_greeting:
            in_initial, in_greeting = False, True


def wait_for_silence(audio: Audio, start_ms: int, required_ms: int, timeout_s: int):
    """(WAITSTATUS, ms waited) of one ``do_waiting`` from ``start_ms`` (timeout 0: none)."""
    at, silence = start_ms, 0
    while True:
        if audio.hangup_ms is not None and at >= audio.hangup_ms:
            return "HANGUP", at - start_ms
        voice = audio.voice_at(at)
        at += FRAME_MS
        silence = 0 if voice else silence + FRAME_MS
        if silence >= required_ms:
            return "SILENCE", at - start_ms
        if timeout_s and at - start_ms >= timeout_s * 1000:
            return "TIMEOUT", at - start_ms


def _audio_of_channel(chan) -> Audio:
    b = chan.callee
    audio = getattr(b, "audio", None) or "human"
    hangup = 600 if getattr(b, "hangup_at_once", False) else None
    return audio_of(audio, hangup)


def applications(interpreter) -> dict:
    """The applications this module adds to pbxsim's interpreter (they take time)."""

    async def run_amd(chan, data):
        audio = _audio_of_channel(chan)
        start = getattr(chan, "audio_ms", 0)
        status, cause, took = amd(parse_amd_args(data), audio, start)
        await interpreter.clock.sleep(took / 1000.0)
        chan.audio_ms = start + took
        chan.vars["AMDSTATUS"], chan.vars["AMDCAUSE"] = status, cause
        if chan.call is not None:
            chan.call.amd = (status, cause, took)
        if status == "HANGUP":
            chan.hungup, chan.hangupcause = True, CAUSE_NORMAL_CLEARING

    async def run_wait(chan, data):
        args = (dpmod.split_args(data) + ["", "", ""])[:3]
        required = _int(args[0], WAIT_DEFAULT_MS)
        iterations = max(1, _int(args[1], 1))
        timeout = max(0, _int(args[2], 0))
        audio, start = _audio_of_channel(chan), getattr(chan, "audio_ms", 0)
        status, waited = "SILENCE", 0
        for _ in range(iterations):  # waitstart is shared by the iterations
            left = timeout - waited // 1000 if timeout else 0
            status, took = wait_for_silence(audio, start + waited, required, left)
            waited += took
            if status != "SILENCE":
                break
        await interpreter.clock.sleep(waited / 1000.0)
        chan.audio_ms = start + waited
        chan.vars["WAITSTATUS"] = status
        if status == "HANGUP":  # do_waiting returned -1: the channel hangs up
            chan.hungup, chan.hangupcause = True, CAUSE_NORMAL_CLEARING
            return "stop"
        return None

    def loaded(app, run):
        async def check(chan, data):
            if not module_loaded(interpreter, APP_MODULES[app]):
                # main/pbx.c pbx_extension_helper: "No application '%s' for extension"
                # returns -1: the channel's dialplan ends (then h runs)
                log.warning("No application '%s' for extension (%s, %s, %s)", app,
                            chan.context, chan.exten, chan.priority)
                return "stop"
            return await run(chan, data)
        return check

    return {"AMD": loaded("AMD", run_amd), "WaitForSilence": loaded("WaitForSilence", run_wait)}
