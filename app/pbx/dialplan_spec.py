"""What the dialplan renderer needs of a campaign: ``CampaignSpec``, built from a model or a dict."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.menu import Option, option_of
from app.messages.template import EMPTY, Template, parse, template_problems
from app.pbx.errors import DialplanError
from app.pbx.originate import field_of


@dataclass
class CampaignSpec:
    """What the renderer needs of a campaign (built from the model or a dict)."""

    id: int
    name: str = ""
    message_file: str = ""
    message_sound: str = ""
    digit_timeout_s: int = 5
    message_repeats: int = 2
    ring_timeout_s: int = 30
    caller_id: str = ""
    options: list = field(default_factory=list)  # OptionSpec
    amd: dict = field(default_factory=dict)  # app.amd settings (empty: AMD off)
    max_attempts: int = 3
    template: Template = EMPTY  # a personalised message (app.messages); EMPTY: the file
    timezone: str = "UTC"


# what the renderer needs of an option is the option itself
OptionSpec = Option


def campaign_spec(campaign, options=None) -> CampaignSpec:
    """Build a ``CampaignSpec`` from a Campaign model, a dict or a spec.

    ``options`` defaults to ``campaign.options`` (the model backref) or ``campaign["options"]``.
    """
    if isinstance(campaign, CampaignSpec):
        return campaign
    if options is None:
        options = field_of(campaign, "options", None) or []
    specs = [option_of(opt) for opt in options]
    return CampaignSpec(
        id=int(field_of(campaign, "id")),
        name=str(field_of(campaign, "name", "") or ""),
        message_file=str(field_of(campaign, "message_file", "") or ""),
        message_sound=str(field_of(campaign, "message_sound", "") or ""),
        digit_timeout_s=int(field_of(campaign, "digit_timeout_s", 5) or 5),
        message_repeats=int(field_of(campaign, "message_repeats", 2) or 1),
        ring_timeout_s=int(field_of(campaign, "ring_timeout_s", 30) or 30),
        caller_id=str(field_of(campaign, "caller_id", "") or ""),
        options=specs,
        amd=dict(field_of(campaign, "amd", None) or {}),
        max_attempts=int(field_of(campaign, "max_attempts", 3) or 3),
        template=_template_of(field_of(campaign, "message_template", None)),
        timezone=str(field_of(campaign, "timezone", "UTC") or "UTC"),
    )


def _template_of(raw) -> Template:
    if isinstance(raw, Template):
        return raw
    found = template_problems(raw)
    if found:
        raise DialplanError("message_template: " + "; ".join(found))
    return parse(raw)
