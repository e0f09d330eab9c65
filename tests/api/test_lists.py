"""/api/v1/contact-lists: upload (inline and queued import), progress, rejects, append."""

from __future__ import annotations

import io

import pytest

from app.models import CLOSED, FINISHED, Campaign, Contact, ContactList
from app.web.admin import contacts as console
from tests.api.conftest import error_code

CSV = b"phone,name\n+12025550101,Ann\n2025550102,Bob\nnot a phone,Cy\n+12025550101,Ann again\n"


def upload(api, data=CSV, filename="people.csv", **form):
    fields = {"name": "People", **form, "file": (io.BytesIO(data), filename)}
    return api.post("/api/v1/contact-lists/", data=fields, content_type="multipart/form-data")


def test_it_creates_a_list_from_an_upload_with_the_console_rules(db, api, users):
    response = upload(api)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert data["status"] == "ready" and data["phone_column"] == "phone"
    assert (data["rows_imported"], data["rows_rejected"], data["rows_duplicate"]) == (2, 1, 1)
    assert data["columns"] == ["name"] and data["rejects"] is True
    assert ContactList.get_by_id(data["id"]).created_by_id == users["operator"].id
    assert api.get(f"/api/v1/contact-lists/{data['id']}").get_json() == data
    rejects = api.get(f"/api/v1/contact-lists/{data['id']}/rejects.csv")
    assert rejects.status_code == 200 and b"not a phone" in rejects.data
    listed = api.get("/api/v1/contact-lists/").get_json()
    assert [c["id"] for c in listed["items"]] == [data["id"]]


def test_it_refuses_a_file_without_a_phone_column_and_keeps_nothing(db, api):
    response = upload(api, data=b"name,city\nAnn,Paris\nBob,Lyon\n")
    assert response.status_code == 422 and error_code(response) == "validation_failed"
    assert ContactList.select().count() == 0


@pytest.mark.parametrize("form, field", [({"name": ""}, "name"), ({"country": "XYZ"}, "country")])
def test_it_refuses_bad_form_fields_naming_them(db, api, form, field):
    response = upload(api, **form)
    assert response.status_code == 422 and field in response.get_json()["error"]["fields"]


def test_it_refuses_an_upload_without_a_file(db, api):
    response = api.post("/api/v1/contact-lists/", data={"name": "x"},
                        content_type="multipart/form-data")
    assert response.status_code == 422 and "file" in response.get_json()["error"]["fields"]


def test_it_imports_a_large_upload_on_the_queue_and_reports_progress(db, api, broker, worker,
                                                                     monkeypatch):
    monkeypatch.setattr(console, "INLINE_IMPORT_BYTES", 10)
    import app.web.api.lists as lists

    monkeypatch.setattr(lists, "INLINE_IMPORT_BYTES", 10)
    response = upload(api)
    assert response.status_code == 201
    list_id = response.get_json()["id"]
    assert response.get_json()["status"] == "importing"
    broker.join("default")
    worker.join()
    done = api.get(f"/api/v1/contact-lists/{list_id}").get_json()
    assert done["status"] == "ready" and done["rows_imported"] == 2


def test_it_appends_contacts_to_a_ready_list(db, api):
    list_id = upload(api).get_json()["id"]
    response = api.post(f"/api/v1/contact-lists/{list_id}/contacts", json={"contacts": [
        {"phone": "+12025550199", "fields": {"name": "Dee"}},
        {"phone": "+12025550101"},
        {"phone": "nope"},
        {"phone": "+12025550198", "fields": {"colour": "red"}},
    ]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["received"], body["imported"], body["duplicate"]) == (4, 1, 1)
    assert [r["index"] for r in body["rejected"]] == [2, 3]
    added = Contact.get(Contact.phone == "+12025550199")
    others = [c.position for c in Contact.select() if c.id != added.id]
    assert added.fields == {"name": "Dee"} and added.position > max(others)
    counters = api.get(f"/api/v1/contact-lists/{list_id}").get_json()
    assert (counters["rows_imported"], counters["rows_rejected"]) == (3, 3)


def test_it_refuses_to_append_to_a_list_a_finishing_campaign_dialed(db, api):
    # a running campaign's list takes contacts (tests/reuse/test_running_lists.py dials them);
    # one whose campaign finished and is not CLOSED yet keeps the list as it ended
    list_id = upload(api).get_json()["id"]
    Campaign.create(name="c", state=FINISHED, contact_list=list_id)
    response = api.post(f"/api/v1/contact-lists/{list_id}/contacts",
                        json={"contacts": [{"phone": "+12025550199"}]})
    assert response.status_code == 409 and error_code(response) == "in_use"
    Campaign.update(state=CLOSED).execute()
    assert api.post(f"/api/v1/contact-lists/{list_id}/contacts",
                    json={"contacts": [{"phone": "+12025550199"}]}).status_code == 200


def test_it_answers_404_for_lists_and_rejects_that_do_not_exist(db, api):
    assert error_code(api.get("/api/v1/contact-lists/777")) == "not_found"
    assert api.get("/api/v1/contact-lists/99999999999999999999").status_code == 404
    assert api.post("/api/v1/contact-lists/777/contacts",
                    json={"contacts": [{"phone": "1"}]}).status_code == 404
    clean = upload(api, data=b"phone\n+12025550101\n").get_json()["id"]
    assert api.get(f"/api/v1/contact-lists/{clean}/rejects.csv").status_code == 404


def test_it_refuses_an_empty_or_oversized_append(db, api):
    list_id = upload(api).get_json()["id"]
    assert api.post(f"/api/v1/contact-lists/{list_id}/contacts",
                    json={"contacts": []}).status_code == 422
    many = {"contacts": [{"phone": "+12025550199"}] * 1001}
    assert api.post(f"/api/v1/contact-lists/{list_id}/contacts", json=many).status_code == 422
