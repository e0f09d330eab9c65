"""Deleting contact lists in the console: refused while a campaign not CLOSED uses them."""

from __future__ import annotations

import html

import pytest

from app.clock import utcnow
from app.models import (
    ACTIVE,
    CLOSED,
    DRAFT,
    CallAttempt,
    Campaign,
    CampaignContact,
    Contact,
    ContactList,
    ContactResult,
)
from tests.write_lock_support import write_lock_held

from .conftest import flashes as html_flashes

NOT_CLOSED = ("DRAFT", "ACTIVE", "PAUSED", "FINISHED", "DRAINING", "FINALIZING")


def flashes(response) -> list[str]:
    return [html.unescape(text) for text in html_flashes(response)]


def dialed_campaign(state=ACTIVE, name="Spring promo", phones=3):
    """A campaign in ``state`` on a new list, with dial states and one attempt per contact."""
    contact_list = ContactList.create(name=f"list of {name}", rows_imported=phones)
    campaign = Campaign.create(name=name, state=state, contact_list=contact_list)
    now = utcnow()
    for i in range(phones):
        contact = Contact.create(contact_list=contact_list, phone=f"+3361234567{i}", position=i + 2)
        if state != DRAFT:
            CampaignContact.create(campaign=campaign, contact=contact, next_attempt_at=now)
            CallAttempt.create(campaign=campaign, contact=contact, number=1, originated_at=now,
                               channel_id=CallAttempt.make_channel_id(campaign.id, contact.id, 1))
    return campaign, contact_list


def counts(contact_list):
    return (
        ContactList.select().where(ContactList.id == contact_list.id).count(),
        Contact.select().where(Contact.contact_list == contact_list.id).count(),
        CampaignContact.select().count(),
        CallAttempt.select().count(),
    )


@pytest.mark.parametrize("state", NOT_CLOSED)
def test_it_refuses_to_delete_the_list_of_a_campaign_not_closed(
    db, no_csrf, operator_client, state
):
    campaign, contact_list = dialed_campaign(state)
    before = counts(contact_list)
    response = operator_client.post(
        "/admin/contactlist/delete/", data={"id": str(contact_list.id)}, follow_redirects=True
    )
    shown = " ".join(flashes(response))
    assert f"campaign {campaign.id} 'Spring promo' ({state})" in shown, shown
    assert "cannot be deleted" in shown and "successfully deleted" not in shown
    assert counts(contact_list) == before
    assert Campaign.get_by_id(campaign.id).contact_list_id == contact_list.id


def test_it_refuses_the_used_lists_of_a_bulk_delete_and_deletes_the_others(
    db, no_csrf, operator_client
):
    campaign, used = dialed_campaign(ACTIVE)
    unused = ContactList.create(name="old list")
    Contact.create(contact_list=unused, phone="+33612345699", position=2)
    response = operator_client.post(
        "/admin/contactlist/action/",
        data={"action": "delete", "rowid": [str(used.id), str(unused.id)]},
        follow_redirects=True,
    )
    shown = flashes(response)
    assert any(f"campaign {campaign.id} 'Spring promo' (ACTIVE)" in text for text in shown), shown
    assert "1 contact list(s) deleted." in shown
    assert counts(used) == (1, 3, 3, 3)
    assert ContactList.get_or_none(ContactList.id == unused.id) is None
    assert Contact.select().where(Contact.contact_list == unused.id).count() == 0


def test_it_deletes_a_list_only_closed_campaigns_used_and_keeps_their_results(
    db, no_csrf, operator_client
):
    campaign, contact_list = dialed_campaign(CLOSED)
    # finalization purged the working rows and kept the results
    CampaignContact.delete().execute()
    CallAttempt.delete().execute()
    ContactResult.create(campaign=campaign, contact_id=1, phone="+33612345670", outcome="answered")
    response = operator_client.post(
        "/admin/contactlist/delete/", data={"id": str(contact_list.id)}, follow_redirects=True
    )
    assert "Record was successfully deleted." in flashes(response)
    assert counts(contact_list)[:2] == (0, 0)
    assert Campaign.get_by_id(campaign.id).contact_list_id is None
    assert ContactResult.select().where(ContactResult.campaign == campaign.id).count() == 1


def test_it_deletes_a_list_while_another_writer_holds_the_lock(db, db_engine, no_csrf,
                                                               operator_client):
    # the delete reads (is the list in use?) before it writes: it must wait its turn
    contact_list = ContactList.create(name="old list")
    Contact.create(contact_list=contact_list, phone="+33612345699", position=2)
    with write_lock_held(db, db_engine) as released:
        response = operator_client.post("/admin/contactlist/delete/",
                                        data={"id": str(contact_list.id)}, follow_redirects=True)
        assert released.is_set()  # it waited for the other writer
    assert "Record was successfully deleted." in flashes(response), flashes(response)
    assert counts(contact_list)[:2] == (0, 0)


def test_it_deletes_the_rejects_file_with_the_list(db, no_csrf, operator_client):
    from app.contacts import rejects_path_for

    contact_list = ContactList.create(name="with rejects")
    path = rejects_path_for(contact_list.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("line,reason,phone\n3,too short,12\n")
    contact_list.rejects_path = str(path)
    contact_list.save()
    operator_client.post("/admin/contactlist/delete/", data={"id": str(contact_list.id)})
    assert ContactList.select().count() == 0
    assert not path.exists()


def test_it_lets_no_one_delete_a_lists_contacts_in_the_console(db, no_csrf, admin_client):
    _, contact_list = dialed_campaign(ACTIVE)
    contact = Contact.select().first()
    admin_client.post("/admin/contact/delete/", data={"id": str(contact.id)})
    admin_client.post(
        "/admin/contact/action/", data={"action": "delete", "rowid": [str(contact.id)]}
    )
    assert counts(contact_list) == (1, 3, 3, 3)


def test_it_lets_a_viewer_delete_no_list(db, no_csrf, viewer_client):
    contact_list = ContactList.create(name="kept")
    viewer_client.post("/admin/contactlist/delete/", data={"id": str(contact_list.id)})
    viewer_client.post(
        "/admin/contactlist/action/", data={"action": "delete", "rowid": [str(contact_list.id)]}
    )
    assert ContactList.select().count() == 1
