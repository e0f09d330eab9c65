"""The API's request and response shapes (marshmallow): the handlers validate with them and
the OpenAPI document is generated from them, so the two cannot drift.

Bounds here (lengths, ranges) come from the domain's own tables (``app.campaigns``);
the domain still checks every value itself, as it does for the console and the CLI.
"""

from __future__ import annotations

from types import SimpleNamespace

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate as v

from app.campaigns import LIMITS, MAX_LENGTHS, RETRY_CHOICES
from app.db import MAX_INTEGER
from app.messages.template import KINDS, MAX_SEGMENTS, MAX_TEXT, SAY_AS
from app.models import OPTION_ACTIONS, OPTION_DIGITS, STATES
from app.web.api.amd_schema import AmdInput, AmdOut

MAX_PER_PAGE = 500
MAX_PAGE = 10**6
TIME_OF_DAY = r"^([01]?[0-9]|2[0-4])(:[0-5][0-9]){0,2}$"


class Text(f.String):
    """An input string without NUL: PostgreSQL refuses one in text, and no field means one."""

    default_error_messages = {"nul": "Must not contain a NUL character."}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        return text


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


# query arguments refuse unknown names too (webargs would drop them): ``?stat=ACTIVE``
# is a 422 naming ``stat``, not every campaign
QUERY = {"location": "query", "unknown": ma.RAISE}


def _int(low=0, high=MAX_INTEGER, strict=True, **kw):
    """A whole number in low..high; ``strict``: a JSON number, not a string of digits."""
    return f.Integer(strict=strict, validate=v.Range(low, high), **kw)


class PageArgs(Strict):
    page = _int(1, MAX_PAGE, strict=False, load_default=1)
    per_page = _int(1, MAX_PER_PAGE, strict=False, load_default=50)


class CampaignPageArgs(PageArgs):
    state = Text(validate=v.OneOf(STATES))


class Paged(ma.Schema):
    page = f.Integer(required=True)
    per_page = f.Integer(required=True)
    has_more = f.Boolean(required=True)


class OptionSchema(Strict):
    digit = Text(required=True, validate=v.OneOf(OPTION_DIGITS))
    label = Text(required=True, validate=v.Length(1, 100))
    action = Text(load_default="record", validate=v.OneOf(OPTION_ACTIONS))
    target = Text(load_default="", validate=v.Length(max=100))


class WindowSchema(Strict):
    weekday = _int(0, 6, required=True, metadata={"description": "0 = Monday"})
    starts = Text(required=True, validate=v.Regexp(TIME_OF_DAY),
                      metadata={"example": "09:00"})
    ends = Text(required=True, validate=v.Regexp(TIME_OF_DAY),
                    metadata={"example": "18:00"})

    @ma.post_load
    def as_window(self, data, **kwargs):
        """The domain reads windows by attribute, as it reads CallWindow rows."""
        return SimpleNamespace(**data)


class SegmentSchema(Strict):
    """One part of a personalised message (app.messages.template: the rule itself)."""

    kind = Text(required=True, validate=v.OneOf(KINDS))
    sound = Text(validate=v.Length(max=200))
    field = Text(validate=v.Length(max=200))
    say_as = Text(data_key="as", validate=v.OneOf(SAY_AS))
    format = Text(validate=v.Length(max=20))
    unit = Text(validate=v.Length(max=200))
    subunit = Text(validate=v.Length(max=200))
    text = Text(validate=v.Length(max=MAX_TEXT))

    @ma.post_load
    def as_stored(self, data, **kwargs):
        if "say_as" in data:
            data["as"] = data.pop("say_as")
        return data


class TemplateSchema(Strict):
    language = Text(validate=v.Length(max=20), metadata={"example": "en"})
    voice = Text(validate=v.Length(max=40))
    segments = f.List(f.Nested(SegmentSchema), validate=v.Length(max=MAX_SEGMENTS))


def _limit(name, **kw):
    limit = LIMITS[name]
    return _int(limit.low, limit.high, **kw)


def _text(name, **kw):
    return Text(validate=v.Length(max=MAX_LENGTHS[name]), **kw)


class CampaignInput(Strict):
    """A campaign's fields; naive start and end times are local to its timezone."""

    name = Text(required=True, validate=v.Length(1, MAX_LENGTHS["name"]))
    contact_list = _int(1, allow_none=True, metadata={"description": "a contact list's id"})
    timezone = Text(validate=v.Length(1, 64), metadata={"example": "Europe/Paris"})
    starts_at = f.DateTime(allow_none=True)
    ends_at = f.DateTime(allow_none=True)
    retry_on = f.List(Text(validate=v.OneOf(RETRY_CHOICES)), validate=v.Length(max=20))
    caller_id = _text("caller_id")
    message_sound = _text("message_sound")
    message_template = f.Nested(TemplateSchema, metadata={
        "description": "a personalised message: sounds, fields said by Asterisk, TTS text"})
    callee_window = _text("callee_window", metadata={
        "description": "HH:MM-HH:MM in each callee's own zone; empty: off",
        "example": "09:00-20:00"})
    options = f.List(f.Nested(OptionSchema), validate=v.Length(max=len(OPTION_DIGITS)))
    windows = f.List(f.Nested(WindowSchema), validate=v.Length(max=7 * 24))
    max_channels = _limit("max_channels")
    max_attempts = _limit("max_attempts")
    weight = _limit("weight")
    retry_busy_s = _limit("retry_busy_s")
    retry_noanswer_s = _limit("retry_noanswer_s")
    retry_failed_s = _limit("retry_failed_s")
    ring_timeout_s = _limit("ring_timeout_s")
    max_call_s = _limit("max_call_s")
    digit_timeout_s = _limit("digit_timeout_s")
    message_repeats = _limit("message_repeats")
    amd = f.Nested(AmdInput, metadata={"description": "answering-machine detection (AMD())"})


class CampaignUpdate(CampaignInput):
    """Only the fields given change; options and windows, when given, replace the stored ones."""

    name = Text(validate=v.Length(1, MAX_LENGTHS["name"]))


class OptionOut(ma.Schema):
    digit = f.String()
    label = f.String()
    action = f.String()
    target = f.String()


class WindowOut(ma.Schema):
    weekday = f.Integer()
    starts = f.String()
    ends = f.String()


class CampaignSchema(ma.Schema):
    id = f.Integer(required=True)
    name = f.String(required=True)
    state = f.String(required=True, validate=v.OneOf(STATES))
    contact_list = f.Integer(allow_none=True)
    timezone = f.String()
    starts_at = f.DateTime(allow_none=True)
    ends_at = f.DateTime(allow_none=True)
    retry_on = f.List(f.String())
    caller_id = f.String()
    message_sound = f.String()
    message_file = f.String()
    message_template = f.Dict()
    options = f.List(f.Nested(OptionOut))
    windows = f.List(f.Nested(WindowOut))
    dialer_status = f.String()
    dialer_status_at = f.DateTime(allow_none=True)
    created_at = f.DateTime(allow_none=True)
    updated_at = f.DateTime(allow_none=True)
    activated_at = f.DateTime(allow_none=True)
    finished_at = f.DateTime(allow_none=True)
    closed_at = f.DateTime(allow_none=True)
    max_channels = f.Integer()
    max_attempts = f.Integer()
    weight = f.Integer()
    retry_busy_s = f.Integer()
    retry_noanswer_s = f.Integer()
    retry_failed_s = f.Integer()
    ring_timeout_s = f.Integer()
    max_call_s = f.Integer()
    digit_timeout_s = f.Integer()
    message_repeats = f.Integer()
    amd = f.Nested(AmdOut)
    is_template = f.Boolean()
    callee_window = f.String()


class CloneInput(Strict):
    """A clone's name and list: the list absent is shared, null is none, an id is that list."""

    name = Text(validate=v.Length(1, MAX_LENGTHS["name"]),
                metadata={"description": "default: 'copy of NAME'"})
    contact_list = _int(1, allow_none=True, metadata={"description": "a contact list's id"})
    from_template = f.Boolean(load_default=False,
                              metadata={"description": "refuse unless the source is a template"})


class StopContactInput(Strict):
    contact = Text(required=True, validate=v.Length(1, 40),
                   metadata={"description": "the contact's id or its phone number (E.164)"})
    dnc = f.Boolean(load_default=False, metadata={"description": "also put it on do-not-call"})
    note = Text(load_default="", validate=v.Length(max=255))


class StopContactResult(ma.Schema):
    contact_id = f.Integer(required=True)
    phone = f.String(required=True)
    was = f.String(required=True, metadata={"description": "the dial state it left"})
    dnc = f.Boolean(required=True)
    dnc_added = f.Boolean(required=True)


class RecycleInput(Strict):
    outcomes = f.List(Text(validate=v.Length(1, 32)), load_default=list,
                      validate=v.Length(max=20), metadata={"example": ["busy", "noanswer"]})
    digits = f.List(Text(validate=v.OneOf(OPTION_DIGITS)), load_default=list,
                    validate=v.Length(max=len(OPTION_DIGITS)))
    min_attempts = _int(0, 100, load_default=0)
    max_attempts = _int(0, 100, load_default=100)
    name = Text(validate=v.Length(1, MAX_LENGTHS["name"]))
    preview = f.Boolean(load_default=False, metadata={"description": "only count"})


class RecycleResult(ma.Schema):
    count = f.Integer(required=True)
    campaign = f.Nested(CampaignSchema, allow_none=True)
    contact_list = f.Integer(allow_none=True)


class TemplateInput(Strict):
    is_template = f.Boolean(required=True)


class CampaignPage(Paged):
    items = f.List(f.Nested(CampaignSchema), required=True)


class ContactListSchema(ma.Schema):
    id = f.Integer(required=True)
    name = f.String(required=True)
    status = f.String(required=True, metadata={"description": "importing, ready or failed"})
    source_filename = f.String()
    default_country = f.String()
    phone_column = f.String()
    columns = f.List(f.String())
    rows_total = f.Integer()
    rows_done = f.Integer()
    rows_imported = f.Integer()
    rows_rejected = f.Integer()
    rows_duplicate = f.Integer()
    error = f.String()
    rejects = f.Boolean(metadata={"description": "whether a rejects CSV exists"})
    created_at = f.DateTime(allow_none=True)


class ListPage(Paged):
    items = f.List(f.Nested(ContactListSchema), required=True)


class ListUploadForm(Strict):
    name = Text(required=True, validate=v.Length(1, 200))
    country = Text(load_default="US", validate=v.Length(2, 2))
    phone_column = Text(validate=v.Length(max=200))
    delimiter = Text(validate=v.Length(1, 1))
    has_header = f.Boolean()


class ListUploadFile(ma.Schema):
    file = f.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ContactIn(Strict):
    phone = Text(required=True, validate=v.Length(1, 64))
    fields = f.Dict(keys=Text(validate=v.Length(max=200)),
                    values=Text(validate=v.Length(max=1000)), load_default=dict,
                    validate=v.Length(max=100))


class ContactsIn(Strict):
    contacts = f.List(f.Nested(ContactIn), required=True, validate=v.Length(1, 1000))


class AppendResult(ma.Schema):
    received = f.Integer(required=True)
    imported = f.Integer(required=True)
    duplicate = f.Integer(required=True)
    rejected = f.List(f.Dict(), required=True)


class PhoneIn(Strict):
    phone = Text(required=True, validate=v.Length(1, 64))
    country = Text(load_default="US", validate=v.Length(2, 2))
    note = Text(load_default="", validate=v.Length(max=255))


class PhoneQuery(Strict):
    phone = Text(required=True, validate=v.Length(1, 64))
    country = Text(load_default="US", validate=v.Length(2, 2))


class BulkPhonesIn(Strict):
    phones = f.List(Text(validate=v.Length(1, 64)), required=True, validate=v.Length(1, 1000))
    country = Text(load_default="US", validate=v.Length(2, 2))
    note = Text(load_default="", validate=v.Length(max=255))
    remove = f.Boolean(load_default=False, metadata={"description": "take them off instead"})


class DncEntry(ma.Schema):
    phone = f.String(required=True)
    blocked = f.Boolean(required=True)
    created = f.Boolean(metadata={"description": "added by this request"})


class BulkResult(ma.Schema):
    changed = f.Integer(required=True)
    unchanged = f.Integer(required=True)
    rejected = f.List(f.Dict(), required=True)


class ResultSchema(ma.Schema):
    contact_id = f.Integer(required=True)
    phone = f.String(required=True)
    outcome = f.String(required=True)
    attempts = f.Integer()
    digit = f.String()
    digit_label = f.String()
    answered_at = f.DateTime(allow_none=True)
    talk_seconds = f.Integer(allow_none=True)
    last_attempt_at = f.DateTime(allow_none=True)
    amd_verdict = f.String(metadata={"description": "AMDSTATUS of the last AMD verdict"})
    amd_cause = f.String(metadata={"description": "its AMDCAUSE"})


class ResultPage(Paged):
    items = f.List(f.Nested(ResultSchema), required=True)


class ReportSchema(ma.Schema):
    campaign_id = f.Integer(required=True)
    step = f.String()
    report = f.Dict(required=True, metadata={"description": "the figures of the finalization"})


class DigitCount(ma.Schema):
    digit = f.String()
    label = f.String()
    count = f.Integer()


class LiveSchema(ma.Schema):
    """What the console's live page shows, with the dialer's status line."""

    id = f.Integer(required=True)
    name = f.String()
    state = f.String(required=True)
    dialer_status = f.String()
    dialer_status_at = f.String(allow_none=True)
    contacts_final = f.Integer()
    contacts_total = f.Integer()
    percent = f.Float()
    calls_up = f.Integer()
    max_channels = f.Integer()
    attempts = f.Integer()
    outcomes = f.Dict(keys=f.String(), values=f.Integer())
    digits = f.List(f.Nested(DigitCount))
    report = f.Boolean()
    amd = f.Dict(keys=f.String(), values=f.Integer(),
                 metadata={"description": "AMD: humans, machines, not_sure, hung_up, "
                                          "messages_left (empty: AMD off)"})
