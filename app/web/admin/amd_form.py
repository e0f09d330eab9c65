"""The campaign form's AMD fields: one form field per setting of ``app.amd`` (``amd_<name>``),
with the rule's bounds and help; the form hands ``campaigns.create`` / ``update`` one
``amd`` dict, which the domain checks (``app.amd.amd_problems``)."""

from __future__ import annotations

from wtforms import fields, validators

from app import amd, campaigns
from app.web.admin.media import STOCK_SOUNDS, store_message

PREFIX = "amd_"
LABELS = {
    "enabled": "Detect answering machines (AMD)",
    "machine": "A machine: hang up, or leave the voicemail message after the beep",
    "notsure": "NOTSURE verdict (the analysis ran out of time) is handled as",
    "hangup": "HANGUP verdict (hung up during the analysis) is handled as",
    "message_sound": "Voicemail message (stock sound)",
    "message_file": "Voicemail message (a file under MEDIA_DIR, instead of the stock sound)",
    "message_on_last_attempt": "Leave the message on a machine's last attempt",
}


def _field(name):
    label = LABELS.get(name, "AMD " + name.replace("_", " "))
    if name in amd.FLAGS:
        return fields.BooleanField(label)
    if name in amd.BOUNDS:
        bound = amd.BOUNDS[name]
        return fields.IntegerField(
            label, default=bound.default, description=f"{bound.help} ({bound.low}-{bound.high})",
            validators=[validators.Optional(), validators.NumberRange(bound.low, bound.high)])
    if name in amd.CHOICES:
        return fields.SelectField(label, default=getattr(amd.DEFAULTS, name),
                                  choices=[fields.SelectChoice(c) for c in amd.CHOICES[name]])
    if name == "message_sound":
        return fields.SelectField(label, default="", choices=[fields.SelectChoice("", "(none)")]
                                  + [fields.SelectChoice(s) for s in STOCK_SOUNDS])
    return fields.StringField(label, validators=[validators.Length(max=amd.TEXTS[name])])


# in the order the form shows them: the switch, the policies, the voicemail, then app_amd.c's
ORDER = ("enabled", "machine", "notsure", "hangup", "message_sound", "message_file",
         "message_silence_ms", "message_cap_s", "machine_retries", "machine_retry_s",
         "message_on_last_attempt", *amd.PARAMETERS)
AMD_FIELDS = {PREFIX + name: _field(name) for name in ORDER}
AMD_FIELDS[PREFIX + "message_upload"] = fields.FileField(
    "Voicemail message file (WAV 8/16 kHz mono 16-bit, or GSM)",
    description="Replaces the voicemail stock sound when given.")
# what amd.message_file holds between the check and the upload's storing (one transaction)
PENDING_UPLOAD = "upload-pending"


def uploaded_voicemail(form):
    """The uploaded voicemail file, or None (no upload field, or an empty one)."""
    upload = form[PREFIX + "message_upload"].data if PREFIX + "message_upload" in form else None
    return upload if upload and getattr(upload, "filename", "") else None


def store_voicemail(model, upload, media_dir, now, user_id):
    """Store the uploaded voicemail (checked like the message) and point the settings at it.

    Raises:
        ValidationError: the file would not play.
    """
    stored = store_message(media_dir, model.id, upload.filename, upload.read())
    values = {**(model.amd or {}), "message_file": stored, "message_sound": ""}
    return campaigns.update(model.id, {"amd": values}, now, user_id)


def amd_values(form):
    """The ``amd`` settings the form holds, or None when it has none (a running campaign)."""
    if PREFIX + "enabled" not in form:
        return None
    values = {}
    for name in ORDER:
        data = form[PREFIX + name].data
        values[name] = (amd.BOUNDS[name].default if name in amd.BOUNDS and data is None
                        else data if data is not None else "")
    return values


def fill(form, campaign) -> None:
    """Show a stored campaign's settings in the form."""
    settings = amd.settings_of(campaign)
    for name in ORDER:
        if PREFIX + name in form:
            form[PREFIX + name].data = getattr(settings, name)


def lock(form) -> None:
    """A running campaign's AMD settings are not rendered, so not accepted either."""
    for name in (*ORDER, "message_upload"):
        if PREFIX + name in form:
            del form[PREFIX + name]
