"""What one call attempt's Originate carries, and the names it shares with the dialplan.

The campaign's context (``callcast-campaign-<id>``), its account code
(``campaign-<id>``), the channel id (``cc-<campaign>-<contact>-<attempt>``) and
the ``CC_*`` variables the dialplan's reports read.
"""

from __future__ import annotations

import re
import string

import phonenumbers

from app.calltokens import TOKEN_VARIABLE, call_token
from app.config import get_settings
from app.messages.prompts import prompts_under
from app.pbx.errors import DialplanError

CONTEXT_PREFIX = "callcast-campaign-"
# a number as the dialplan may carry it: digits, * and #, an optional leading +
NUMBER_RE = re.compile(r"\+?[0-9*#]{1,32}\Z")


def context_name(campaign_id) -> str:
    return f"{CONTEXT_PREFIX}{int(campaign_id)}"


def account_code(campaign_id) -> str:
    return f"campaign-{int(campaign_id)}"


def channel_id(campaign_id, contact_id, attempt) -> str:
    return f"cc-{int(campaign_id)}-{int(contact_id)}-{int(attempt)}"


def national_of(number: str) -> str:
    """The national significant number of an E.164 ``number`` (``+12025550102`` -> ``2025550102``).

    A number without ``+`` is taken as national already (an extension, a local number).

    Raises:
        DialplanError: an E.164 number with no country phonenumbers knows.
    """
    if not number.startswith("+"):
        return number
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        raise DialplanError(f"number {number!r} has no national form: {exc}") from None
    return phonenumbers.national_significant_number(parsed)


def dial_string(template: str, number: str) -> str:
    """``template`` (DIAL_TEMPLATE) with the forms of ``number``: ``{number}`` as stored (E.164),
    ``{digits}`` without the ``+``, ``{national}`` the national significant number.

    Raises:
        DialplanError: the template names ``{national}`` and the number has none.
    """
    names = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    forms = {"number": number, "digits": number.lstrip("+")}
    if "national" in names:
        forms["national"] = national_of(number)
    return template.format(**forms)


def field_of(obj, name, default=None):
    """A field of a model row, a spec or a dict."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def originate_args(campaign, contact_id, attempt, number, settings=None, message=None) -> dict:
    """Keyword arguments for ``AmiClient.originate`` of one attempt.

    Channel from ``DIAL_TEMPLATE``, the campaign's context, ``Account`` =
    ``campaign-<id>``, ``ChannelId`` = ``cc-<campaign>-<contact>-<attempt>``
    and the ``CC_*`` variables the dialplan's reports need (``CC_TOKEN``: app.calltokens);
    ``message``: the contact's message variables (``CC_V<n>``, app.messages.values), which
    the wire refuses when one holds a ',' (manager.c would split it), its synthesized
    files named under ``settings.media_dir`` (the carrying PBX's: ``prompts_under``).

    Raises:
        DialplanError: the number has characters a dial string cannot carry.
    """
    if settings is None:
        settings = get_settings()
    cid = int(field_of(campaign, "id"))
    number = str(number)
    if not NUMBER_RE.match(number):
        raise DialplanError(f"number {number!r} is not dialable (digits, optional leading +)")
    return dict(
        channel=dial_string(settings.dial_template, number),
        context=context_name(cid),
        exten="s",
        priority=1,
        account=account_code(cid),
        channel_id=channel_id(cid, contact_id, attempt),
        variables={"CC_CAMPAIGN": cid, "CC_CONTACT": int(contact_id), "CC_ATTEMPT": int(attempt),
                   TOKEN_VARIABLE: call_token(settings.call_token_secret, cid, contact_id, attempt),
                   **prompts_under(message, cid, settings)},
        caller_id=str(field_of(campaign, "caller_id", "") or "") or None,
        ring_timeout_s=int(field_of(campaign, "ring_timeout_s", 30) or 30),
    )
