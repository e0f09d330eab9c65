"""The domain's tables.

Datetimes are stored as naive UTC and come back as aware UTC; a naive datetime
handed to a field is refused, so local times never leak into the database.
Working tables (campaign_contact, call_attempt, call_event) are purged when a
campaign closes; results and reports stay.
"""

from __future__ import annotations

from peewee import (
    SQL,
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
    SmallIntegerField,
    TextField,
    TimeField,
)

from app.clock import utcnow
# the base and column types live beside the tables of other topics (app.outbound.tables)
from app.modelbase import UTC, BaseModel, JSONField, UTCDateTimeField  # noqa: F401
from app.messages.tables import MESSAGE_MODELS
from app.callee_tables import CALLEE_MODELS
from app.holiday_tables import HOLIDAY_MODELS
from app.outbound.tables import OUTBOUND_MODELS
from app.pbx.tables import PBX_MODELS
from app.process_tables import Heartbeat, ProcessTransition  # noqa: F401  (processes)

# --- people -----------------------------------------------------------------

ROLES = ("admin", "operator", "viewer")


class User(BaseModel):
    username = CharField(max_length=64, unique=True)
    password_hash = CharField(max_length=255)
    role = CharField(max_length=16, default="viewer")
    active = BooleanField(default=True)
    created_at = UTCDateTimeField(default=utcnow)
    last_login_at = UTCDateTimeField(null=True)
    # part of every session id: bumped by sign-out and password change, it ends old cookies
    session_version = IntegerField(default=0)
    # where the campaign-closed mail of the campaigns they create goes (empty: none)
    email = CharField(max_length=254, default="")
    # the console's language ("en", "es"); empty: the browser's Accept-Language
    locale = CharField(max_length=8, default="", constraints=[SQL("DEFAULT ''")])


class LoginFailure(BaseModel):
    """One failed sign-in, for rate limiting by user name and by address."""

    username = CharField(max_length=64, index=True)
    remote_addr = CharField(max_length=64, index=True)
    at = UTCDateTimeField(default=utcnow, index=True)


class ApiToken(BaseModel):  # an API token of a user (app.apitokens): only its SHA-256 is kept
    user = ForeignKeyField(User, backref="api_tokens", on_delete="CASCADE")
    name = CharField(max_length=100)
    prefix = CharField(max_length=16)  # the token's first characters, to tell tokens apart
    token_hash = CharField(max_length=64, unique=True)
    scope = CharField(max_length=8, default="read")  # read | write
    created_at = UTCDateTimeField(default=utcnow)
    last_used_at = UTCDateTimeField(null=True)
    revoked_at = UTCDateTimeField(null=True)

# --- contacts ---------------------------------------------------------------

LIST_STATUSES = ("importing", "ready", "failed")


class ContactList(BaseModel):
    name = CharField(max_length=200)
    source_filename = CharField(max_length=255, default="")
    default_country = CharField(max_length=2, default="US")
    phone_column = CharField(max_length=200, default="")
    columns = JSONField(default=list)  # the other columns' names, in file order
    status = CharField(max_length=16, default="ready")
    rows_total = IntegerField(default=0)
    rows_imported = IntegerField(default=0)
    rows_rejected = IntegerField(default=0)
    rows_duplicate = IntegerField(default=0)
    rejects_path = CharField(max_length=500, default="")
    error = TextField(default="")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)

    def __str__(self):
        return self.name


class Contact(BaseModel):
    contact_list = ForeignKeyField(
        ContactList, backref="contacts", on_delete="CASCADE", index=False
    )
    phone = CharField(max_length=32)  # E.164 when it parsed, else as dialled
    fields = JSONField(default=dict)  # the file's other columns
    position = IntegerField()  # line number in the uploaded file
    # the number's time zones (app.callee_hours), set at import; 0: unknown
    zone_set = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])

    class Meta:
        indexes = (
            (("contact_list", "phone"), True),
            (("contact_list", "position"), False),
        )


class DoNotCall(BaseModel):
    phone = CharField(max_length=32, unique=True)
    source = CharField(max_length=64, default="manual")
    note = CharField(max_length=255, default="")
    created_at = UTCDateTimeField(default=utcnow)


# --- campaigns --------------------------------------------------------------

DRAFT, ACTIVE, PAUSED, FINISHED, DRAINING, FINALIZING, CLOSED = (
    "DRAFT",
    "ACTIVE",
    "PAUSED",
    "FINISHED",
    "DRAINING",
    "FINALIZING",
    "CLOSED",
)
STATES = (DRAFT, ACTIVE, PAUSED, FINISHED, DRAINING, FINALIZING, CLOSED)
# states whose calls may still be up, so their dialplan must stay loaded
DIALPLAN_STATES = (ACTIVE, PAUSED, FINISHED, DRAINING)

RETRYABLE_OUTCOMES = ("busy", "noanswer", "congestion", "failed")
OPTION_ACTIONS = ("record", "repeat", "transfer", "callback")
OPTION_DIGITS = tuple("0123456789*#")


class Campaign(BaseModel):
    name = CharField(max_length=200)
    state = CharField(max_length=16, default=DRAFT, index=True)
    timezone = CharField(max_length=64, default="UTC")  # IANA name
    starts_at = UTCDateTimeField(null=True)
    ends_at = UTCDateTimeField(null=True)
    max_channels = IntegerField(default=10)
    max_attempts = IntegerField(default=3)
    weight = IntegerField(default=1)  # share of the global capacity
    retry_busy_s = IntegerField(default=300)
    retry_noanswer_s = IntegerField(default=600)
    retry_failed_s = IntegerField(default=900)  # congestion, unavailable, failed
    retry_on = CharField(max_length=100, default=",".join(RETRYABLE_OUTCOMES))
    ring_timeout_s = IntegerField(default=30)
    max_call_s = IntegerField(default=300)
    caller_id = CharField(max_length=100, default="")
    message_file = CharField(max_length=500, default="")  # uploaded, under MEDIA_DIR
    message_sound = CharField(max_length=200, default="")  # or a stock sound name
    digit_timeout_s = IntegerField(default=5)
    message_repeats = IntegerField(default=2)
    message_template = JSONField(default=dict)  # segments (app.messages.template); {}: none
    contact_list = ForeignKeyField(ContactList, null=True, on_delete="RESTRICT")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)
    activated_at = UTCDateTimeField(null=True)
    finished_at = UTCDateTimeField(null=True)
    drain_started_at = UTCDateTimeField(null=True)
    closed_at = UTCDateTimeField(null=True)
    # "why is it not dialing?", written by every dialer tick
    dialer_status = CharField(max_length=255, default="")
    dialer_status_at = UTCDateTimeField(null=True)
    # written with the status: its last tick dialed or hit a cap, so it takes
    # part in the fair share of GLOBAL_MAX_CHANNELS and ORIGINATES_PER_SECOND
    wants_capacity = BooleanField(default=False)
    # the one live tick chain: its token and how long its lease runs
    tick_token = CharField(max_length=36, default="")
    tick_lease_until = UTCDateTimeField(null=True)
    # when the dialer's route breaker last paused it (app.dialer.breaker): the
    # calls it looks at start here, and calls up at that moment are given back
    breaker_tripped_at = UTCDateTimeField(null=True)
    # answering-machine detection: its settings (app.amd; empty: off)
    amd = JSONField(default=dict)
    # offered by "new from template" on the create page (app.campaigns.cloning)
    is_template = BooleanField(default=False)
    # "HH:MM-HH:MM": also call only inside these hours of the callee's own zone ("": off)
    callee_window = CharField(max_length=11, default="")

    @property
    def account_code(self) -> str:
        return f"campaign-{self.id}"

    @property
    def retry_outcomes(self) -> frozenset[str]:
        return frozenset(o.strip() for o in self.retry_on.split(",") if o.strip())

    def __str__(self):
        return self.name


class CampaignOption(BaseModel):
    campaign = ForeignKeyField(Campaign, backref="options", on_delete="CASCADE", index=False)
    digit = CharField(max_length=1)
    label = CharField(max_length=100)
    action = CharField(max_length=16, default="record")
    target = CharField(max_length=100, default="")  # "transfer": dial target; "callback": 30m

    class Meta:
        indexes = ((("campaign", "digit"), True),)


class CallWindow(BaseModel):
    """A span of local time on one weekday (0 = Monday) when calls may start."""

    campaign = ForeignKeyField(Campaign, backref="windows", on_delete="CASCADE", index=False)
    weekday = SmallIntegerField()
    starts = TimeField(formats=["%H:%M:%S", "%H:%M"])
    ends = TimeField(formats=["%H:%M:%S", "%H:%M"])

    class Meta:
        indexes = ((("campaign", "weekday"), False),)


# --- working tables (purged at close) ----------------------------------------

PENDING, CALLING, FINAL = "pending", "calling", "final"


class CampaignContact(BaseModel):
    """A contact's dialing state inside one campaign."""

    campaign = ForeignKeyField(Campaign, on_delete="CASCADE", index=False)
    contact = ForeignKeyField(Contact, on_delete="CASCADE")
    state = CharField(max_length=16, default=PENDING)
    attempts = IntegerField(default=0)
    next_attempt_at = UTCDateTimeField()  # due when state is pending and this has passed
    last_outcome = CharField(max_length=32, default="")
    updated_at = UTCDateTimeField(default=utcnow)
    # attempts the route breaker gave back: they count toward no max_attempts
    # (the attempt numbers go on; see app.dialer.breaker)
    given_back = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    # its message's synthesized audio is all there (app.messages): only then is it claimed
    audio_ready = BooleanField(default=True)
    # the contact's zone set, copied at seeding: the callee-hours due query's index
    zone_set = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])

    class Meta:
        indexes = (
            (("campaign", "contact"), True),
            # the dialer's "next due contacts" query
            (("campaign", "state", "next_attempt_at"), False),
            # the same, one zone set at a time (app.callee_hours)
            (("campaign", "state", "zone_set", "next_attempt_at"), False),
        )


ORIGINATING, UP, DONE = "originating", "up", "done"


class CallAttempt(BaseModel):
    campaign = ForeignKeyField(Campaign, on_delete="CASCADE", index=False)
    contact = ForeignKeyField(Contact, on_delete="CASCADE")
    number = IntegerField()  # 1 for the first call of that contact
    state = CharField(max_length=16, default=ORIGINATING)
    channel_id = CharField(max_length=64, unique=True)
    originated_at = UTCDateTimeField()
    answered_at = UTCDateTimeField(null=True)
    finished_at = UTCDateTimeField(null=True)
    outcome = CharField(max_length=32, default="")
    digit = CharField(max_length=1, default="")
    hangup_cause = CharField(max_length=8, default="")
    pbx_id = IntegerField(null=True)  # the pool's PBX that has the call (app.pbx.pool)

    class Meta:
        indexes = (
            (("campaign", "contact", "number"), True),
            (("campaign", "state"), False),
            # the route breaker's "latest calls of a campaign"
            (("campaign", "finished_at"), False),
        )

    @staticmethod
    def make_channel_id(campaign_id: int, contact_id: int, number: int) -> str:
        return f"cc-{campaign_id}-{contact_id}-{number}"


class CallEvent(BaseModel):
    """One report from the dialplan; append-only, the single source of truth.

    campaign_id and contact_id are plain integers on purpose: an event Asterisk
    handed over is never refused by a constraint other than its own uniqueness.
    """

    campaign_id = IntegerField()
    contact_id = IntegerField()
    attempt = IntegerField()
    name = CharField(max_length=32)
    received_at = UTCDateTimeField(default=utcnow)
    uniqueid = CharField(max_length=64, default="")
    channel = CharField(max_length=128, default="")
    source = CharField(max_length=16, default="agi")  # agi | fallback | ami
    # the dialplan's argument: {"hangupcause": "16"} (hangup), {"key": "7"}
    # (invalid: the key pressed), {"reason": "5"} (failed-*: Asterisk's ${REASON})
    data = JSONField(default=dict)

    class Meta:
        indexes = ((("campaign_id", "contact_id", "attempt", "name"), True),)


class QuarantinedReport(BaseModel):
    """A report that named a call without its call token: kept for the operator, never folded.

    Written by the AGI daemons and the UserEvent recorder (app.calltokens);
    the summary is bounded and printable, peer data never goes anywhere else.
    """

    received_at = UTCDateTimeField(default=utcnow, index=True)
    source = CharField(max_length=16)  # agi | fallback | ami
    peer = CharField(max_length=64, default="")  # host:port of the connection
    reason = CharField(max_length=32)  # no_token | bad_token
    campaign_id = IntegerField()
    contact_id = IntegerField()
    attempt = IntegerField()
    event = CharField(max_length=32)
    summary = CharField(max_length=300, default="")


# --- results (kept after close) ---------------------------------------------


class ContactResult(BaseModel):
    campaign = ForeignKeyField(Campaign, backref="results", on_delete="CASCADE", index=False)
    contact_id = IntegerField()
    phone = CharField(max_length=32)
    outcome = CharField(max_length=32)
    attempts = IntegerField(default=0)
    digit = CharField(max_length=1, default="")
    digit_label = CharField(max_length=100, default="")
    answered_at = UTCDateTimeField(null=True)
    talk_seconds = IntegerField(null=True)
    last_attempt_at = UTCDateTimeField(null=True)
    amd_verdict = CharField(max_length=16, default="")  # AMDSTATUS of the last verdict (app.amd)
    amd_cause = CharField(max_length=40, default="")  # its AMDCAUSE

    class Meta:
        # no (campaign, outcome) index: it cost the results step ~15% of its time
        # for 330,000 contacts, and the counts per outcome are in the report
        indexes = ((("campaign", "contact_id"), True),)


class CampaignReport(BaseModel):
    campaign = ForeignKeyField(Campaign, backref="reports", unique=True, on_delete="CASCADE")
    step = CharField(max_length=32, default="")  # last finalization step done
    data = JSONField(default=dict)
    csv_path = CharField(max_length=500, default="")
    archive_path = CharField(max_length=500, default="")
    charts = JSONField(default=dict)  # chart name -> image path
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)


MODELS = [
    User,
    LoginFailure,
    ApiToken,
    ContactList,
    Contact,
    DoNotCall,
    Campaign,
    CampaignOption,
    CallWindow,
    CampaignContact,
    CallAttempt,
    CallEvent,
    QuarantinedReport,
    ContactResult,
    CampaignReport,
    Heartbeat,
    *OUTBOUND_MODELS,
    ProcessTransition,
    *MESSAGE_MODELS,
    *PBX_MODELS,
    *HOLIDAY_MODELS,
    *CALLEE_MODELS,
]
