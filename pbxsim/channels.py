"""What the call model is made of: channels, call records and the simulated clock."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
CAUSE_NORMAL_CLEARING = 16


@dataclass
class Channel:
    name: str
    tech: str
    uniqueid: str
    accountcode: str
    context: str
    exten: str
    priority: int = 1
    state: int = 0
    linkedid: str = ""
    cid_num: str = ""
    cid_name: str = ""
    language: str = "en"
    app: str = ""
    appdata: str = ""
    created: float = field(default_factory=time.monotonic)
    vars: dict = field(default_factory=dict)
    hungup: bool = False
    hangupcause: int = 0
    stack: list = field(default_factory=list)
    call: object = None  # CallRecord
    callee: object = None  # Behaviour
    pressed: bool = False
    heard: float = 0.0  # seconds of prompts and digit waits the callee has heard

    def ami_fields(self, prefix=""):
        """The channel state block AMI events and CoreShowChannel carry."""
        p = prefix
        return (
            f"{p}Channel: {self.name}\r\n"
            f"{p}ChannelState: {self.state}\r\n"
            f"{p}ChannelStateDesc: {STATE_DESC.get(self.state, 'Unknown')}\r\n"
            f"{p}CallerIDNum: {self.cid_num or '<unknown>'}\r\n"
            f"{p}CallerIDName: {self.cid_name or '<unknown>'}\r\n"
            f"{p}ConnectedLineNum: <unknown>\r\n"
            f"{p}ConnectedLineName: <unknown>\r\n"
            f"{p}Language: {self.language}\r\n"
            f"{p}AccountCode: {self.accountcode}\r\n"
            f"{p}Context: {self.context}\r\n"
            f"{p}Exten: {self.exten}\r\n"
            f"{p}Priority: {self.priority}\r\n"
            f"{p}Uniqueid: {self.uniqueid}\r\n"
            f"{p}Linkedid: {self.linkedid or self.uniqueid}\r\n"
        )


@dataclass
class CallRecord:
    action_id: str
    channel_id: str
    channel: str
    number: str
    account: str
    context: str
    variables: dict
    originated_at: float
    exten: str = "s"
    cid_num: str = ""
    cid_name: str = ""
    result: str = ""  # answered | busy | noanswer | congestion | unavailable
    reason: int | None = None
    route: str = ""  # why the dial string reached no callee ("" when it did)
    response: str = ""  # OriginateResponse Response
    digit: str = ""
    transfer: str = ""
    hangupcause: str = ""
    agi: list = field(default_factory=list)
    user_events: list = field(default_factory=list)
    amd: tuple = ()  # (AMDSTATUS, AMDCAUSE, ms) of the AMD() it ran (pbxsim/amd.py)
    played: list = field(default_factory=list)  # every sound file played, in order
    missing: list = field(default_factory=list)  # those Asterisk could not open
    done: bool = False
    ended_at: float | None = None

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class Clock:
    """Simulated time: every duration divided by ``speed``; Asterisk's uniqueids."""

    def __init__(self, speed=1.0):
        self.speed = float(speed)
        self.started = time.time()
        self._uid = itertools.count(1)

    def scaled(self, seconds):
        return max(0.0, seconds) / self.speed

    async def sleep(self, seconds):
        await asyncio.sleep(self.scaled(seconds))

    def new_uniqueid(self):
        # main/channel.c: "%li.%d" (time, counter)
        return f"{int(self.started)}.{next(self._uid)}"
