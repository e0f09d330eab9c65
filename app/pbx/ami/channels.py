"""Live calls from a ``CoreShowChannels`` listing: which channels make one call.

A call the dialer originates through a Local channel shows as two channels,
and Asterisk names the second half's Uniqueid ``<ChannelId>;2``
(``main/core_unreal.c``): the Uniqueid up to ';' identifies the call.
"""

from __future__ import annotations


def call_id(channel) -> str:
    """The call a ``CoreShowChannel`` event belongs to (both Local halves give the same)."""
    return (channel.get("Uniqueid", "") or "").split(";")[0]


def calls_by_account(channels) -> dict[str, dict]:
    """Account code -> {call id: the call's first channel}, from ``CoreShowChannel`` events."""
    calls = {}
    for channel in channels:
        per_call = calls.setdefault(channel.get("AccountCode", "") or "", {})
        per_call.setdefault(call_id(channel), channel)
    return calls
