"""The callee's own hours: zones worked out at import, the most restrictive intersection,
the campaign's zone when unknown, and nobody called outside their own window across the
US change to summer time (New York, Chicago and Los Angeles numbers in one campaign)."""

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from app.callee_hours import UNKNOWN, open_zone_sets, zone_sets_for, zones_of_phone
from app.callee_tables import ListZoneSet, ZoneSet
from app.campaigns import activation, create
from app.contacts import create_contact_list, import_contact_list
from app.db import database
from app.errors import ValidationError
from app.models import CampaignContact, Contact
from app.windows import Span
from tests.dialing_support import SimPbx

UTC = timezone.utc
NOW = datetime(2026, 3, 1, tzinfo=UTC)
ZONE_OF = {"212": "America/New_York", "312": "America/Chicago", "310": "America/Los_Angeles"}
PHONES = [f"+1{area}555{i:04d}" for area in ZONE_OF for i in range(3)] + ["+12085550100"]


def at(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def pbx(db):
    sim = SimPbx()
    yield sim
    sim.close()


def imported(tmp_path, phones):
    path = tmp_path / "contacts.csv"
    path.write_text("phone,name\n" + "".join(f"{p},n{i}\n" for i, p in enumerate(phones)))
    contact_list, _ = create_contact_list("callees", path, "US")
    return import_contact_list(contact_list.id, path)


def campaign_on(contact_list, window="09:00-20:00", **fields):
    values = dict(name="callee hours", contact_list=contact_list.id, message_sound="hello-world",
                  timezone="America/New_York", callee_window=window, max_channels=50,
                  max_attempts=1)
    values.update(fields)
    return create(values, NOW, options=[{"digit": "1", "label": "yes"}],
                  windows=[Span(d, time(0), time(0)) for d in range(7)])


def test_zones_are_worked_out_at_import_and_stored_per_contact(db, tmp_path):
    contact_list = imported(tmp_path, PHONES)
    zones = dict(ZoneSet.select(ZoneSet.id, ZoneSet.zones).tuples())
    by_phone = {c.phone: zones.get(c.zone_set, "") for c in Contact.select()}
    for phone in PHONES[:-1]:
        assert by_phone[phone] == ZONE_OF[phone[2:5]]
    assert by_phone["+12085550100"] == "America/Boise America/Los_Angeles"
    held = {r.zone_set_id for r in ListZoneSet.select().where(
        ListZoneSet.contact_list_id == contact_list.id)}
    assert held == set(zones) and len(held) == 4
    assert zones_of_phone("12345") == () and zone_sets_for(database.obj, 0, ["x"]) == [UNKNOWN]


def test_the_callee_window_is_refused_naming_the_field(db, tmp_path):
    contact_list = imported(tmp_path, PHONES[:1])
    for bad in ("9-17", "20:00-09:00", "09:00-09:00", "25:00-26:00", "09:00-20:00x"):
        with pytest.raises(ValidationError, match="callee_window"):
            campaign_on(contact_list, window=bad)


def test_a_number_in_two_zones_is_open_only_where_both_are(db, tmp_path):
    contact_list = imported(tmp_path, PHONES)
    campaign = campaign_on(contact_list)
    two = Contact.get(Contact.phone == "+12085550100").zone_set
    la = Contact.get(Contact.phone == "+13105550000").zone_set
    # 19:30 in Los Angeles is 20:30 in Boise: the Boise-or-LA number waits
    evening = at(2026, 3, 10, 2, 30)
    assert la in open_zone_sets(campaign, evening) and two not in open_zone_sets(campaign, evening)
    # 09:30 in Los Angeles, 10:30 in Boise: both open
    assert two in open_zone_sets(campaign, at(2026, 3, 10, 16, 30))


def local_hour(phone, moment):
    zone = "America/Los_Angeles" if phone == "+12085550100" else ZONE_OF[phone[2:5]]
    return moment.astimezone(ZoneInfo(zone)).time()


@pytest.mark.parametrize("moment,areas", [
    (at(2026, 3, 7, 14, 0), {"212"}),  # Sat 09:00 EST, 08:00 CST, 06:00 PST
    (at(2026, 3, 9, 13, 0), {"212"}),  # Mon 09:00 EDT (summer time since Sunday)
    (at(2026, 3, 9, 14, 0), {"212", "312"}),  # 10:00 EDT, 09:00 CDT, 07:00 PDT
    (at(2026, 3, 9, 16, 0), {"212", "312", "310", "208"}),
    (at(2026, 3, 10, 0, 30), {"312", "310", "208"}),  # 20:30 EDT: New York is closed
    (at(2026, 3, 10, 3, 30), set()),  # 20:30 PDT
])
def test_nobody_is_called_outside_their_own_window_across_dst(pbx, tmp_path, moment, areas):
    from app.dialer.tick import run_tick

    campaign = campaign_on(imported(tmp_path, PHONES))
    activation.activate(campaign.id, NOW, ami=pbx.ami)
    result = run_tick(campaign.id, moment, pbx.ami)
    called = [c["number"] for c in pbx.stats()["calls"]]
    assert {n[-10:-7] for n in called} == areas
    assert result.originated == len(called) == sum(
        3 if a != "208" else 1 for a in areas)
    assert all(time(9) <= local_hour(f"+{n[-11:]}", moment) < time(20) for n in called)
    if not areas:
        assert result.status == "no due contacts inside the callees' hours 09:00-20:00"
    pending = CampaignContact.select().where(CampaignContact.state == "pending").count()
    assert pending == len(PHONES) - len(called)


def test_without_the_option_every_zone_is_called(pbx, tmp_path):
    from app.dialer.tick import run_tick

    campaign = campaign_on(imported(tmp_path, PHONES), window="")
    activation.activate(campaign.id, NOW, ami=pbx.ami)
    assert run_tick(campaign.id, at(2026, 3, 10, 3, 30), pbx.ami).originated == len(PHONES)


def test_a_number_of_no_known_zone_follows_the_campaigns_zone(db, tmp_path):
    contact_list = imported(tmp_path, PHONES[:1])
    campaign = campaign_on(contact_list, timezone="Europe/Paris")
    # 09:30 in Paris, 04:30 in New York: only the unknown set (Paris) is open
    assert open_zone_sets(campaign, at(2026, 3, 10, 8, 30)) == [UNKNOWN]
    assert UNKNOWN not in open_zone_sets(campaign, at(2026, 3, 10, 19, 30))  # 20:30 Paris
