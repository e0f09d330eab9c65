"""Bad uploads in the console: short printable messages naming the file or field, nothing lost."""

from __future__ import annotations

import html
import io
import random
import re

import pytest

from app.models import Contact, ContactList, DoNotCall

from .conftest import flashes as html_flashes
from .test_contact_lists import confirm, detected, preview

COOKIE_BYTES = 4093  # what browsers keep of one cookie
RANDOM = random.Random(13)
JUNK = {
    "binary": bytes(RANDOM.getrandbits(8) for _ in range(100_000)),
    "controls": bytes(range(1, 256)) * 400,  # no NUL, Latin-1 decodes every byte
    "one long header": b"x" * 70_000 + b"\nabc\n",
    "many columns": b",".join(b"c%d" % i for i in range(20_000)) + b"\n" + b"a," * 19_999 + b"a\n",
}


def flashes(response) -> list[str]:
    return [html.unescape(text) for text in html_flashes(response)]


def upload_error(response) -> str:
    found = re.search(r'id="upload-error">([^<]*)<', response.get_data(as_text=True))
    return html.unescape(found.group(1)) if found else ""


def assert_short_and_printable(message: str):
    assert message and len(message) <= 600, len(message)
    assert message.isprintable(), repr(message[:200])


@pytest.mark.parametrize("junk", JUNK)
def test_it_refuses_a_junk_list_file_with_a_short_message_naming_it(
    db, no_csrf, operator_client, junk
):
    response = preview(operator_client, JUNK[junk], filename="photo.png")
    assert response.status_code == 400
    message = upload_error(response)
    assert_short_and_printable(message)
    assert message.startswith("'photo.png': "), message
    assert ContactList.select().count() == 0


def test_it_says_a_binary_file_is_not_csv_text(db, no_csrf, operator_client):
    message = upload_error(preview(operator_client, JUNK["binary"], filename="book.xlsx"))
    assert "'book.xlsx': the file is not CSV text" in message


@pytest.mark.parametrize("junk", JUNK)
def test_it_refuses_a_junk_do_not_call_file_with_a_message_the_cookie_holds(
    db, no_csrf, operator_client, junk
):
    DoNotCall.create(phone="+12125550100")
    response = operator_client.post(
        "/admin/dnc/upload/", data={"country": "US", "file": (io.BytesIO(JUNK[junk]), "dnc.bin")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert all(len(c) < COOKIE_BYTES for c in response.headers.getlist("Set-Cookie"))
    shown = flashes(operator_client.get(response.headers["Location"]))
    refused = [text for text in shown if text.startswith("Upload refused: 'dnc.bin': ")]
    assert refused, shown
    assert_short_and_printable(refused[0])
    assert [p for (p,) in DoNotCall.select(DoNotCall.phone).tuples()] == ["+12125550100"]


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n \n", b"phone,name\n", b"phone"])
def test_it_refuses_an_empty_or_header_only_list_file(db, no_csrf, operator_client, data):
    response = preview(operator_client, data, filename="people.csv")
    assert response.status_code == 400
    message = upload_error(response)
    assert message.startswith("'people.csv': ")
    assert "empty" in message or "no data rows" in message, message
    assert ContactList.select().count() == 0


@pytest.mark.parametrize("data", [b"", b"phone;name\n", b"number"])
def test_it_adds_nothing_from_an_empty_or_header_only_do_not_call_file(
    db, no_csrf, operator_client, data
):
    response = operator_client.post(
        "/admin/dnc/upload/", data={"country": "US", "file": (io.BytesIO(data), "dnc.csv")},
        content_type="multipart/form-data", follow_redirects=True,
    )
    shown = " ".join(flashes(response))
    assert "Upload refused: 'dnc.csv': " in shown, shown
    assert "empty" in shown or "nothing to import" in shown
    assert DoNotCall.select().count() == 0


def test_it_fails_a_list_whose_rows_are_all_rejected_and_keeps_the_rejects(
    db, no_csrf, operator_client
):
    data = b"name,phone\nAnn,0612345678\n"
    seen = detected(preview(operator_client, data, filename="people.csv"))
    # the file changes between the preview and the import: only bad numbers now
    uploads = operator_client.application.config["SETTINGS"].media_dir / "uploads"
    (uploads / f"{seen['token']}.csv").write_bytes(b"name,phone\nBad,12\nWord,call me\n")
    response = confirm(operator_client, seen["token"], "phone")
    assert response.status_code == 302
    page = operator_client.get(response.headers["Location"])
    assert any("Import failed: 'people.csv': no contacts imported: all 2 rows were rejected"
               in text for text in flashes(page)), flashes(page)
    contact_list = ContactList.get()
    assert (contact_list.status, contact_list.rows_rejected) == ("failed", 2)
    assert "all 2 rows were rejected" in contact_list.error
    rejects = operator_client.get(f"/admin/contactlist/rejects/{contact_list.id}.csv")
    assert rejects.status_code == 200


def test_it_bounds_a_list_name_and_keeps_the_upload_to_try_again(db, no_csrf, operator_client):
    data = b"name,phone\nAnn,0612345678\n"
    response = preview(operator_client, data, name="n" * 250)
    assert response.status_code == 400
    assert "list name: at most 200 characters (this one has 250)" in upload_error(response)
    seen = detected(response)  # the plan is shown all the same
    assert seen["token"] and seen["phone_column"] == "phone"
    response = confirm(operator_client, seen["token"], "phone", name="n" * 201)
    assert response.status_code == 400
    assert "list name: at most 200 characters (this one has 201)" in upload_error(response)
    assert detected(response)["token"] == seen["token"]
    assert ContactList.select().count() == 0
    response = confirm(operator_client, seen["token"], "phone", name="n" * 200)
    assert response.status_code == 302
    assert (ContactList.get().name, Contact.select().count()) == ("n" * 200, 1)
