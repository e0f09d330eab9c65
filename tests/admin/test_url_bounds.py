"""Whatever a URL says, the back office answers a page: odd list arguments, ids no row can
have, filters no query can hold. peewee/SQLite raise OverflowError past 64 bits and
PostgreSQL refuses NUL in text or a negative OFFSET: none of that may become a 500."""

from __future__ import annotations

import pytest

from app.models import ACTIVE, Campaign, Contact, ContactList
from app.web.admin.base import MAX_PAGE

from .conftest import flashes

HUGE = "99999999999999999999"
PAST_64_BITS = str(2**63)
LIST_VIEWS = ("campaign", "contactlist", "contact", "dnc", "attempt", "event", "user")
ODD_ARGUMENTS = [
    {"page": HUGE}, {"page": PAST_64_BITS}, {"page": "-1"}, {"page": "abc"},
    {"sort": "0"}, {"sort": "1"}, {"sort": "99"}, {"sort": "-1"}, {"sort": HUGE}, {"sort": "x"},
    {"sort": "2", "desc": HUGE}, {"search": "\x00"}, {"search": "a\x00b"}, {"search": "%_\\"},
    {"search": "x" * 5000}, {"search": "' OR 1=1 --"}, {"page_size": HUGE},
    {"page_size": "-5"}, {"flt0_0": HUGE}, {"flt0_0": "\x00"}, {"flt0_0": "-1"},
    {"flt1_0": HUGE}, {"flt0_1": PAST_64_BITS}, {"flt0_3": "9999-12-31 23:59:59"},
    {"flt0_5": "9999-12-31 23:59:59 to 9999-12-31 23:59:59"},
]


@pytest.fixture
def rows(db):
    """A row in every listed table, so sorting and paging have something to do."""
    contact_list = ContactList.create(name="l", status="ready")
    Contact.create(contact_list=contact_list.id, phone="+33612340001", fields={}, position=2)
    return Campaign.create(name="c", state=ACTIVE, contact_list=contact_list.id)


@pytest.mark.parametrize("view", LIST_VIEWS)
def test_it_lists_whatever_the_query_arguments_say(rows, admin_client, view):
    for arguments in ODD_ARGUMENTS:
        response = admin_client.get(f"/admin/{view}/", query_string=arguments)
        assert response.status_code == 200, (view, arguments)


def test_it_shows_an_empty_page_past_the_last_and_the_default_order_for_an_unknown_sort(
        rows, admin_client):
    far = admin_client.get("/admin/campaign/", query_string={"page": HUGE})
    assert f'href="/admin/campaign/details/?id={rows.id}' not in far.get_data(as_text=True)
    # the pager links to the furthest page a list shows, not to the number typed
    assert HUGE not in far.get_data(as_text=True) and str(MAX_PAGE) in far.get_data(as_text=True)
    for sort in ("0", "99", HUGE):  # contact's column 0 is no sortable column
        page = admin_client.get("/admin/contact/", query_string={"sort": sort})
        assert page.status_code == 200 and "+33612340001" in page.get_data(as_text=True)


def test_it_refuses_a_filter_value_no_query_can_hold_and_says_so(rows, admin_client):
    response = admin_client.get("/admin/attempt/", query_string={"flt0_0": HUGE})
    assert response.status_code == 200
    assert f"Invalid Filter Value: {HUGE}" in " ".join(flashes(response))


def int_routes(app):
    """Every URL rule of the app with an <int:...> argument, built with ``value`` for it."""
    for rule in app.url_map.iter_rules():
        kinds = {name: type(c).__name__ for name, c in rule._converters.items()}
        if any("Integer" in kind for kind in kinds.values()):
            yield rule, kinds


def test_it_answers_404_to_every_integer_url_past_64_bits(rows, no_csrf, admin_client):
    app = admin_client.application
    checked = 0
    for rule, kinds in int_routes(app):
        for value in (PAST_64_BITS, HUGE, "9" * 5000):
            values = {name: value if "Integer" in kind else "x" for name, kind in kinds.items()}
            # build() checks the converter's own range, so the path is put together by hand
            path = rule.rule
            for name, kind in kinds.items():
                path = path.replace(f"<{'int:' if 'Integer' in kind else ''}{name}>",
                                    values[name])
            method = "POST" if "POST" in rule.methods else "GET"
            response = admin_client.open(path, method=method)
            assert response.status_code == 404, (path[:80], response.status_code)
            checked += 1
    assert checked >= 3 * 6  # campaign: act, live, report csv, chart; list: progress, rejects
    assert Campaign.get_by_id(rows.id).state == ACTIVE


@pytest.mark.parametrize("view", LIST_VIEWS)
def test_it_says_no_such_record_for_an_id_no_row_can_have(rows, no_csrf, admin_client, view):
    for page in ("details", "edit"):
        for value in (PAST_64_BITS, HUGE, "-1", "x"):
            response = admin_client.get(f"/admin/{view}/{page}/", query_string={"id": value})
            assert response.status_code in (302, 404), (view, page, value)
    response = admin_client.post(f"/admin/{view}/edit/?id={HUGE}", data={"name": "x"})
    assert response.status_code in (302, 404)


def test_it_refuses_a_bulk_action_on_an_id_no_row_can_have(rows, no_csrf, operator_client):
    response = operator_client.post(
        "/admin/campaign/action/", data={"action": "pause", "rowid": [str(rows.id), HUGE]},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert f"No such record: {HUGE}" in " ".join(flashes(response))
    assert Campaign.get_by_id(rows.id).state == ACTIVE  # refused as a whole
    response = operator_client.post("/admin/dnc/delete/", data={"id": HUGE})
    assert response.status_code in (302, 404)
