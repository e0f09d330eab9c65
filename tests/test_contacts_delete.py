"""Deleting and emptying contact lists: one domain rule, and the database holding the same line."""

from __future__ import annotations

import peewee
import pytest

from app import contacts
from app.clock import utcnow
from app.errors import NotFoundError
from app.models import (
    ACTIVE,
    CLOSED,
    DRAFT,
    CallAttempt,
    Campaign,
    CampaignContact,
    Contact,
    ContactList,
)

PAST_DRAFT = ("ACTIVE", "PAUSED", "FINISHED", "DRAINING", "FINALIZING")


def dialed_campaign(state=ACTIVE, status="ready"):
    """A campaign in ``state`` on a new list of two contacts, dial states and attempts."""
    contact_list = ContactList.create(name="customers", status=status)
    campaign = Campaign.create(name="promo", state=state, contact_list=contact_list)
    now = utcnow()
    for i in range(2):
        contact = Contact.create(contact_list=contact_list, phone=f"+3361234567{i}", position=i)
        CampaignContact.create(campaign=campaign, contact=contact, next_attempt_at=now)
        CallAttempt.create(campaign=campaign, contact=contact, number=1, originated_at=now,
                           channel_id=CallAttempt.make_channel_id(campaign.id, contact.id, 1))
    return campaign, contact_list


def rows():
    return (ContactList.select().count(), Contact.select().count(),
            CampaignContact.select().count(), CallAttempt.select().count())


@pytest.mark.parametrize("state", PAST_DRAFT)
def test_it_refuses_flask_admins_recursive_delete_in_the_database(db, state):
    # delete_instance(recursive=True) nulls campaign.contact_list_id first: the
    # FK's RESTRICT alone never fired, and the contacts went with the list
    _, contact_list = dialed_campaign(state)
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            contact_list.delete_instance(recursive=True)
    assert rows() == (1, 2, 2, 2)


@pytest.mark.parametrize("state", PAST_DRAFT)
def test_it_refuses_in_the_database_to_empty_the_list_of_a_running_campaign(db, state):
    _, contact_list = dialed_campaign(state)
    with pytest.raises(peewee.IntegrityError, match="contact_in_use_stays"):
        with db.atomic():
            Contact.delete().where(Contact.contact_list == contact_list.id).execute()
    with pytest.raises(peewee.IntegrityError, match="contact_in_use_stays"):
        with db.atomic():
            Contact.delete().where(Contact.id == Contact.select().first().id).execute()
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            ContactList.delete().where(ContactList.id == contact_list.id).execute()
    assert rows() == (1, 2, 2, 2)


@pytest.mark.parametrize("state", PAST_DRAFT)
def test_it_refuses_in_the_database_to_take_a_running_campaigns_list_away(db, state):
    campaign, _ = dialed_campaign(state)
    other = ContactList.create(name="other")
    for new in (None, other.id):
        with pytest.raises(peewee.IntegrityError, match="campaign_keeps_its_contact_list"):
            with db.atomic():
                Campaign.update(contact_list=new).where(Campaign.id == campaign.id).execute()
    # other columns still change
    Campaign.update(state="PAUSED", dialer_status="x").where(Campaign.id == campaign.id).execute()
    assert Campaign.get_by_id(campaign.id).contact_list_id is not None


def test_it_lets_a_draft_change_its_list_and_a_closed_campaign_forget_it(db):
    draft = Campaign.create(name="d", state=DRAFT, contact_list=ContactList.create(name="a"))
    other = ContactList.create(name="b")
    Campaign.update(contact_list=other.id).where(Campaign.id == draft.id).execute()
    closed = Campaign.create(name="c", state=CLOSED, contact_list=other)
    Campaign.update(contact_list=None).where(Campaign.id == closed.id).execute()
    assert Campaign.get_by_id(draft.id).contact_list_id == other.id
    assert Campaign.get_by_id(closed.id).contact_list_id is None


@pytest.mark.parametrize("state", ("DRAFT",) + PAST_DRAFT)
def test_it_refuses_to_delete_a_list_a_campaign_not_closed_uses(db, state):
    campaign, contact_list = dialed_campaign(state)
    with pytest.raises(contacts.ContactListInUseError) as refused:
        contacts.delete_contact_list(contact_list.id, by="ann")
    assert f"campaign {campaign.id} 'promo' ({state})" in str(refused.value)
    assert refused.value.campaigns[0].id == campaign.id
    assert rows() == (1, 2, 2, 2)


def test_it_names_a_few_campaigns_and_counts_the_others(db):
    contact_list = ContactList.create(name="popular")
    for i in range(8):
        Campaign.create(name=f"c{i}", state=DRAFT, contact_list=contact_list)
    with pytest.raises(contacts.ContactListInUseError) as refused:
        contacts.delete_contact_list(contact_list.id)
    assert "'c4' (DRAFT) and 3 more" in str(refused.value)


def test_it_deletes_an_unused_list_with_its_contacts(db):
    contact_list = ContactList.create(name="spare")
    Contact.create(contact_list=contact_list, phone="+33612345678", position=1)
    assert contacts.delete_contact_list(contact_list.id, by="ann") == "spare"
    assert rows() == (0, 0, 0, 0)
    with pytest.raises(NotFoundError):
        contacts.delete_contact_list(contact_list.id)


@pytest.mark.parametrize("state", PAST_DRAFT)
def test_it_refuses_to_start_an_import_over_under_a_running_campaign(db, state, tmp_path):
    _, contact_list = dialed_campaign(state, status="importing")
    path = tmp_path / "list.csv"
    path.write_text("phone\n0612345670\n")
    with pytest.raises(contacts.ContactListInUseError, match="cannot be emptied"):
        contacts.import_contact_list(contact_list.id, path, workers=0)
    assert rows() == (1, 2, 2, 2)
    assert ContactList.get_by_id(contact_list.id).status == "importing"


def test_it_starts_over_the_import_of_a_list_a_draft_names(db, tmp_path):
    contact_list = ContactList.create(name="half", status="importing", default_country="FR")
    Contact.create(contact_list=contact_list, phone="+33699999999", position=9)
    Campaign.create(name="draft", state=DRAFT, contact_list=contact_list)
    path = tmp_path / "list.csv"
    path.write_text("phone\n0612345670\n")
    done = contacts.import_contact_list(contact_list.id, path, workers=0)
    assert done.status == "ready"
    assert [c.phone for c in Contact.select()] == ["+33612345670"]
