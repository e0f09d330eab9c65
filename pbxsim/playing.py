"""The applications that play sound: ``Read``, ``Playback`` and the Say applications.

Every file played is recorded on the call (``played``, and ``missing`` for those
Asterisk could not open) so tests see what each channel heard; its length counts in
the call's time (``pbxsim.say.Sounds``). A file that cannot be opened logs
Asterisk's warning (main/file.c ``ast_streamfile``: "Unable to open %s (format %s):
%s") and lasts nothing; the call goes on, as in Asterisk (app_read.c and app_playback.c
go on after a failed prompt). One exception keeps the older simulation: a relative
name with no ``--sounds-dir`` lasts ``message_s`` (the campaign's recording, which
pbxsim does not have).

The callee (``pbxsim.callee.Behaviour``) hears the prompts and digit waits one after
the other (``chan.heard``): it presses its digit ``digit_at_s`` into them, while the
first play of the message lasts (a ``Read`` that waits a second or more for a digit
ends that play), and hangs up ``listen_s`` into them. A digit during an interruptible
file ends it: ``Read`` stores it; a Say application with ``SAY_DTMF_INTERRUPT`` true
returns it and the PBX jumps to the digit's extension, or to ``i`` with
``INVALID_EXTEN`` (main/pbx.c ``__ast_pbx_run``); without it the digit is lost.
"""

from __future__ import annotations

import logging

from pbxsim import dialplan as dpmod
from pbxsim import say
from pbxsim.callee import Behaviour
from pbxsim.channels import CAUSE_NORMAL_CLEARING

log = logging.getLogger(__name__)

FIRST_PLAY_WAIT_S = 1.0  # a Read waiting this long closes the first play of the message


class Player:
    """Plays files on channels for the interpreter (its clock, its dialplan)."""

    def __init__(self, interpreter, sounds: say.Sounds):
        self.interp = interpreter
        self.sounds = sounds

    def apps(self) -> dict:
        return {"Read": self.read, "Playback": self.playback, "SayNumber": self.say_number,
                "SayDigits": self.say_digits, "SayAlpha": self.say_alpha,
                "SayUnixTime": self.say_unixtime}

    # -- files and the callee ----------------------------------------------------

    def _length(self, chan, name: str, prompt: bool) -> float:
        rec = chan.call
        if rec is not None:
            rec.played.append(name)
        path = self.sounds.path_of(name, chan.language)
        if path is not None:
            return self.sounds.seconds(path)
        if prompt and self.sounds.sounds_dir is None and not name.startswith("/"):
            return self.interp.message_s  # the simulated recording (module docstring)
        log.warning("Unable to open %s (format %s): %s", name, "ulaw", "No such file or directory")
        if rec is not None:
            rec.missing.append(name)
        return 0.0

    async def hear(self, chan, files, interruptible: bool, wait_s: float = 0.0,
                   prompt: bool = False):
        """Play ``files`` then wait ``wait_s``; the digit that ended it, else None."""
        b = chan.callee or Behaviour("answer")
        for name in [*files, None]:  # None: the wait after the files
            if chan.hungup:
                return None
            seconds = wait_s if name is None else self._length(chan, name, prompt)
            start, end = chan.heard, chan.heard + seconds
            if b.listen_s is not None and start <= b.listen_s < end:
                await self.interp.clock.sleep(b.listen_s - start)
                chan.heard = b.listen_s
                chan.hungup, chan.hangupcause = True, CAUSE_NORMAL_CLEARING
                return None
            if b.digit and not chan.pressed and start <= b.digit_at_s < end:
                await self.interp.clock.sleep(b.digit_at_s - start)
                chan.heard = b.digit_at_s
                chan.pressed = True
                if interruptible:
                    if chan.call is not None:
                        chan.call.digit = b.digit
                    return b.digit
                seconds = end - chan.heard  # not interruptible: the digit is lost
                start = chan.heard
            await self.interp.clock.sleep(end - start)
            chan.heard = end
        return None

    def jump_on_digit(self, chan, digit):
        """main/pbx.c: an application returned a digit: its extension, else ``i``."""
        dp = self.interp.dialplan
        if dp.exists(chan.context, digit, 1):
            chan.exten, chan.priority = digit, 1
        elif dp.exists(chan.context, "i", 1):
            chan.vars["INVALID_EXTEN"] = digit
            chan.exten, chan.priority = "i", 1
        else:
            log.warning("Invalid extension '%s', but no rule 'i' or 'e' in context '%s'",
                        digit, chan.context)
            return "stop"
        return "jump"

    # -- applications ----------------------------------------------------------------

    async def read(self, chan, data):
        """app_read.c: the prompt (files joined by '&'), ``attempts`` times while no digit."""
        args = (dpmod.split_args(data) + [""] * 6)[:6]
        var, prompt, _maxdigits, _opts, attempts, timeout = args
        tries = int(attempts) if attempts.strip().lstrip("-").isdigit() else 1
        tries = tries if tries > 0 else 1
        to = float(timeout) if timeout.strip() else 10.0
        to = to if to > 0 else 6.0  # app_read.c: <= 0 is the PBX's response timeout
        files = [f for f in prompt.split("&") if f]
        chan.vars[var] = ""
        b = chan.callee or Behaviour("answer")
        status = "TIMEOUT"
        for _ in range(tries):
            if chan.hungup:
                break
            if b.hangup_at_once:
                chan.hungup, chan.hangupcause = True, CAUSE_NORMAL_CLEARING
                break
            digit = await self.hear(chan, files, True, to, prompt=True)
            if digit is not None:
                chan.vars[var] = digit
                status = "OK"
                break
            if to >= FIRST_PLAY_WAIT_S:
                chan.pressed = True  # the callee only ever presses during the first play
        chan.vars["READSTATUS"] = "HANGUP" if chan.hungup else status

    async def playback(self, chan, data):
        files = [f for f in dpmod.split_args(data)[0].split("&") if f]
        await self.hear(chan, files, False, prompt=True)
        chan.vars["PLAYBACKSTATUS"] = "SUCCESS"

    async def _say(self, chan, files):
        interrupt = chan.vars.get("SAY_DTMF_INTERRUPT", "").strip().lower() in (
            "yes", "true", "y", "t", "1", "on")  # ast_true
        digit = await self.hear(chan, files, interrupt)
        return self.jump_on_digit(chan, digit) if digit is not None else None

    async def say_number(self, chan, data):
        text = dpmod.split_args(data)[0].strip()
        try:
            number = int(text)
        except ValueError:
            log.warning("argument '%s' to SayNumber could not be parsed as a number.", text)
            return None
        if abs(number) > say.INT_MAX:
            log.warning("argument '%s' to SayNumber could not be parsed as a number.", text)
            return None
        return await self._say(chan, say.number_files(number))

    async def say_digits(self, chan, data):
        exists = lambda n: self.sounds.exists(n, chan.language)  # noqa: E731
        return await self._say(chan, say.digit_files(data, exists))

    async def say_alpha(self, chan, data):
        exists = lambda n: self.sounds.exists(n, chan.language)  # noqa: E731
        return await self._say(chan, say.character_files(data, exists))

    async def say_unixtime(self, chan, data):
        args = (dpmod.split_args(data) + ["", "", "", ""])[:4]
        value, zone, fmt, _opts = args
        try:
            unixtime = int(float(value)) if value.strip() else 0
        except ValueError:
            unixtime = 0
        fmt = fmt or "ABdY 'digits/at' IMp"
        return await self._say(chan, say.date_files(unixtime, zone, fmt))
