"""The AMI messages pbxsim writes: framing and the text of each event it raises.

Events are raised by the call model and the dialplan applications and go, through
the AMI server's ``publish``, to every logged-in session that asked for their class.
"""

from __future__ import annotations

import time


def build_message(lines):
    """``Key: value`` lines, each ending in CRLF, and the blank line that ends a message."""
    return "".join(f"{k}: {v}\r\n" for k, v in lines) + "\r\n"


def fully_booted(started):
    """``FullyBooted``, sent after a Login to a session that receives ``system`` events."""
    up = int(time.time() - started)
    return build_message([
        ("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", up),
        ("LastReload", up), ("Status", "Fully Booted"),
    ])


def originate_response(rec, chan, response):
    """``OriginateResponse`` as ``fast_originate`` sends it (main/manager.c)."""
    lines = [("Event", "OriginateResponse"), ("Privilege", "call,all")]
    if rec.action_id:
        lines.append(("ActionID", rec.action_id))
    lines += [
        ("Response", response),
        ("Channel", chan.name if chan else rec.channel),
        ("Context", rec.context),
        ("Exten", rec.exten),
        ("Reason", rec.reason),
        ("Uniqueid", chan.uniqueid if chan else (rec.channel_id or "<unknown>")),
        ("CallerIDNum", rec.cid_num or "<unknown>"),
        ("CallerIDName", rec.cid_name or "<unknown>"),
    ]
    return build_message(lines)


def user_event(chan, name, body):
    """``UserEvent`` of the dialplan application (apps/app_userevent.c)."""
    return ("Event: UserEvent\r\nPrivilege: user,all\r\n" + chan.ami_fields()
            + f"UserEvent: {name}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in body) + "\r\n")
