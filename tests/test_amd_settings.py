"""AMD settings through campaigns.create / update: defaults from app_amd.c, bounds named
by field, locked after DRAFT; the migration adds the columns (tests/test_migrations.py)."""

import pytest

from app import amd
from app.campaigns import activation, create, update
from app.clock import utcnow
from app.errors import ValidationError
from app.models import ACTIVE, Campaign


def test_defaults_are_app_amd_c_dflt_values_in_amd_argument_order():
    # apps/app_amd.c dflt* (master f0c1c1a): 2500 1500 800 5000 100 50 2 256 5000
    assert amd.DEFAULTS.amd_arguments() == [2500, 1500, 800, 5000, 100, 50, 2, 256, 5000]
    assert [b.default for b in amd.PARAMETERS.values()] == amd.DEFAULTS.amd_arguments()


def test_a_campaign_stores_its_settings_with_defaults_filled_in(db):
    c = create({"name": "m", "amd": {"enabled": True, "greeting_ms": 2000,
                                     "notsure": "machine"}}, utcnow())
    stored = amd.settings_of(Campaign.get_by_id(c.id))
    assert stored.enabled and stored.greeting_ms == 2000 and stored.notsure == "machine"
    assert stored.initial_silence_ms == 2500
    off = create({"name": "plain"}, utcnow())
    assert amd.settings_of(off) == amd.DEFAULTS and not amd.settings_of(off).enabled


@pytest.mark.parametrize("settings, named", [
    ({"enabled": True, "greeting_ms": 0}, "amd.greeting_ms must be between 100 and 10000"),
    ({"enabled": True, "max_words": 10**12}, "amd.max_words must be between 1 and 20"),
    ({"enabled": True, "silence_threshold": "256"}, "amd.silence_threshold must be a whole"),
    ({"enabled": "yes"}, "amd.enabled must be true or false"),
    ({"enabled": True, "machine": "shout"}, "amd.machine must be one of hangup, message"),
    ({"enabled": True, "notsure": "dog"}, "amd.notsure must be one of human, machine"),
    ({"enabled": True, "machine_retry_s": -1}, "amd.machine_retry_s must be between 0"),
    ({"enabled": True, "message_cap_s": 100000}, "amd.message_cap_s must be between 1 and 120"),
    ({"enabled": True, "machine": "message"}, "amd.message_sound: a voicemail message"),
    ({"enabled": True, "message_sound": "x,1)"}, "amd.message_sound 'x,1)' may hold only"),
    ({"bogus": 1}, "amd has no setting bogus"),
    ("on", "amd must be an object of settings"),
])
def test_bad_settings_are_refused_naming_the_field(db, settings, named):
    with pytest.raises(ValidationError) as exc:
        create({"name": "m", "amd": settings}, utcnow())
    assert named in str(exc.value)


def test_settings_change_in_draft_only(db):
    c = create({"name": "m"}, utcnow())
    c = update(c.id, {"amd": {"enabled": True}}, utcnow())
    assert amd.settings_of(c).enabled
    Campaign.update(state=ACTIVE).where(Campaign.id == c.id).execute()
    with pytest.raises(ValidationError, match="amd can only change in DRAFT"):
        update(c.id, {"amd": {"enabled": False}}, utcnow())
    assert activation  # the module activation writes the dialplan from these settings


def test_machine_retries_keep_the_attempt_cap():
    s = amd.settings_of({"enabled": True, "machine_retries": 2, "machine_retry_s": 60})
    now = utcnow()
    assert amd.machine_next(s, 1, 5, "machine", now)[0] is True
    assert amd.machine_next(s, 2, 5, "machine", now)[0] is True
    assert amd.machine_next(s, 3, 5, "machine", now)[0] is False
    assert amd.machine_next(s, 1, 1, "machine", now)[0] is False  # max_attempts caps
    assert amd.machine_next(s, 1, 5, "machine-message", now)[0] is False


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from app.config import load_settings  # noqa: E402
from app.pbx.dialplan import campaign_spec, render_campaign  # noqa: E402
from pbxsim import dialplan as simdp  # noqa: E402

ANY_VALUE = st.one_of(st.integers(-10**12, 10**12), st.booleans(), st.text(max_size=30),
                      st.none(), st.floats(allow_nan=True), st.lists(st.integers(), max_size=2))
ANY_AMD = st.dictionaries(st.sampled_from([*amd.KEYS, "stranger"]), ANY_VALUE, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ANY_AMD)
def test_any_settings_are_refused_naming_amd_or_stored_and_rendered(db, values):
    try:
        campaign = create({"name": "p", "message_sound": "hello-world", "amd": values}, utcnow())
    except ValidationError as exc:
        assert str(exc).startswith("amd"), exc
        return
    text = render_campaign(campaign_spec(Campaign.get_by_id(campaign.id), []), None,
                           load_settings({}))
    simdp.parse(text)  # one line per priority, nothing unescaped
    assert ("AMD(" in text) == amd.settings_of(Campaign.get_by_id(campaign.id)).enabled
