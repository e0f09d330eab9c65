"""Contact-list upload through the console: preview, phone column, encodings, rejects, background import."""

from __future__ import annotations

import io
import re


from app.web.admin import contacts as contacts_view
from app.models import Contact, ContactList

from tests.waiting import wait_until

from .conftest import flashes


def preview(client, data: bytes, name="list", country="FR", filename="people.csv"):
    return client.post(
        "/admin/contactlist/upload/",
        data={"name": name, "country": country, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def detected(response) -> dict:
    html = response.get_data(as_text=True)
    found = dict(re.findall(r'id="detected-(\w+)">([^<]*)<', html))
    token = re.search(r'name="token" value="(\w+)"', html)
    found["token"] = token.group(1) if token else ""
    found["phone_column"] = (re.search(r'<option value="([^"]*)" selected>', html.split('id="phone_column"')[1]) or [None, None])[1] if 'id="phone_column"' in html else None
    return found


def confirm(client, token, phone_column, name="list", country="FR", **extra):
    data = {"token": token, "name": name, "country": country, "phone_column": phone_column,
            "filename": "people.csv", **extra}
    return client.post("/admin/contactlist/upload/confirm/", data=data)


def import_file(client, data: bytes, phone_column=None, **kw):
    seen = detected(preview(client, data, **kw))
    response = confirm(client, seen["token"], phone_column or seen["phone_column"], **kw)
    assert response.status_code == 302, flashes(response)
    return ContactList.select().order_by(ContactList.id.desc()).first(), seen


def test_it_imports_a_latin_1_file_and_keeps_the_accents(no_csrf, operator_client):
    data = "nom;téléphone;ville\nRené;06 12 34 56 78;Besançon\nZoé;+33 6 12 34 56 79;Nîmes\n".encode("latin-1")
    contact_list, seen = import_file(operator_client, data)
    assert seen["encoding"] in ("latin-1", "iso-8859-1", "cp1252")
    assert seen["delimiter"] == "semicolon" and seen["header"] == "yes"
    assert seen["phone_column"] == "téléphone"
    assert contact_list.status == "ready" and contact_list.rows_imported == 2
    fields = sorted(c.fields["ville"] for c in Contact.select())
    assert fields == ["Besançon", "Nîmes"]
    assert sorted(c.phone for c in Contact.select()) == ["+33612345678", "+33612345679"]
    # imported inline: the upload is deleted at once
    uploads = operator_client.application.config["SETTINGS"].media_dir / "uploads"
    assert not (uploads / f"{seen['token']}.csv").exists()


def test_it_reads_a_utf_8_file_with_a_bom(no_csrf, operator_client):
    data = "\ufeffphone,name\n2125550100,Ann\n(212) 555-0101,Bob\n".encode("utf-8")
    contact_list, seen = import_file(operator_client, data, country="US")
    assert seen["phone_column"] == "phone"  # the BOM is not part of the first column's name
    assert contact_list.rows_imported == 2
    assert sorted(c.phone for c in Contact.select()) == ["+12125550100", "+12125550101"]


def test_it_says_so_when_a_file_has_no_phone_column(no_csrf, operator_client):
    data = b"name,city\nAnn,Paris\nBob,Lyon\n"
    response = preview(operator_client, data)
    assert response.status_code == 400
    error = re.search(r'id="upload-error">([^<]*)<', response.get_data(as_text=True))
    assert error and "phone" in error.group(1).lower()
    assert ContactList.select().count() == 0


def test_it_lists_the_rejects_with_line_and_reason_and_serves_them(no_csrf, operator_client):
    data = (
        "name,phone\nAnn,0612345678\nBad,12\nDup,06 12 34 56 78\nWord,call me\nBob,+33612345679\n"
    ).encode()
    contact_list, _ = import_file(operator_client, data)
    assert (contact_list.rows_imported, contact_list.rows_rejected, contact_list.rows_duplicate) == (2, 2, 1)
    page = operator_client.get(f"/admin/contactlist/details/?id={contact_list.id}").get_data(as_text=True)
    rejects = page.split('id="rejects"')[1]
    assert "<td>3</td><td>too short</td>" in rejects
    assert "<td>5</td>" in rejects and "call me" in rejects
    download = operator_client.get(f"/admin/contactlist/rejects/{contact_list.id}.csv")
    assert download.status_code == 200
    lines = download.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("line,reason") and len(lines) == 3


def test_it_lets_the_operator_choose_the_phone_column(no_csrf, operator_client):
    data = b"home,mobile\n0145454545,0612345678\n0145454546,0612345679\n"
    contact_list, _ = import_file(operator_client, data, phone_column="mobile")
    assert contact_list.phone_column == "mobile"
    assert sorted(c.phone for c in Contact.select()) == ["+33612345678", "+33612345679"]


def test_it_refuses_a_made_up_upload_token(no_csrf, operator_client):
    response = operator_client.post(
        "/admin/contactlist/upload/confirm/",
        data={"token": "../../etc/passwd", "name": "x", "phone_column": "phone"},
        follow_redirects=True,
    )
    assert "the upload is unknown" in " ".join(flashes(response))
    assert ContactList.select().count() == 0


def test_it_imports_a_large_file_in_the_background_with_progress(no_csrf, operator_client, worker, broker, monkeypatch):
    import tasks.importing  # noqa: F401  (declares the actor on the broker)

    monkeypatch.setattr(contacts_view, "INLINE_IMPORT_BYTES", 100)
    rows = "\n".join(f"c{i},+3361{i:07d}" for i in range(3000))
    uploads = operator_client.application.config["SETTINGS"].media_dir / "uploads"
    before = set(uploads.iterdir()) if uploads.is_dir() else set()
    contact_list, _ = import_file(operator_client, f"name,phone\n{rows}\n".encode())
    url = f"/admin/contactlist/progress/{contact_list.id}.json"
    first = operator_client.get(url).get_json()
    assert first["status"] in ("importing", "ready")
    def finished():  # poll the progress endpoint the way the page does
        progress = operator_client.get(url).get_json()
        return progress if progress["status"] != "importing" else None

    state = wait_until(finished, 60, "the import to end", interval=0.2)
    assert state["status"] == "ready", state
    assert state["rows_imported"] == 3000
    # the uploaded file went with the import (the rows are in the database)
    wait_until(lambda: set(uploads.iterdir()) <= before, 10, "the upload to be deleted")


def test_it_keeps_an_uploaded_list_owner_only(db, no_csrf, operator_client):
    import os
    import stat

    seen = detected(preview(operator_client, b"name,phone\nAnn,0612345678\n"))
    uploads = operator_client.application.config["SETTINGS"].media_dir / "uploads"
    stored = uploads / f"{seen['token']}.csv"
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(uploads).st_mode) == 0o700
