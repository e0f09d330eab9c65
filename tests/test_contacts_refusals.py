"""Files and names a contact list refuses: binary, empty, header-only, all rejected, too long."""

from __future__ import annotations

import pytest

from app import contacts as ci
from app import dnc
from app.errors import ValidationError
from app.models import ContactList
from app.quoting import cut, quote_input, quote_names


def write(tmp_path, data: bytes, name="contacts.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data",
    [
        b"phone\x00,name\n0612345678,Ann\n",
        "phone,name\n0612345678,Ann\n".encode("utf-16"),  # spreadsheets' "Unicode text"
        bytes(range(1, 256)) * 100,
    ],
)
def test_it_refuses_a_file_that_is_not_csv_text(tmp_path, data):
    with pytest.raises(ValidationError, match="the file is not CSV text"):
        ci.preview(write(tmp_path, data), "FR")


def test_it_reads_a_latin_1_file_with_curly_quotes_as_text(tmp_path):
    # Windows-1252 punctuation decodes as Latin-1 C1 controls: text all the same
    data = "nom;téléphone\nl’ami “Zoé”;0612345678\n".encode("cp1252")
    assert ci.preview(write(tmp_path, data), "FR")["phone_column"] == "téléphone"


@pytest.mark.parametrize("text", ["phone\n", "phone,name\n\n\n", "phone"])
def test_it_refuses_a_header_only_file_before_creating_a_list(db, tmp_path, text):
    path = write(tmp_path, text.encode())
    with pytest.raises(ValidationError, match="nothing to import: the file has a header line"):
        ci.create_contact_list("list", path, "FR")
    with pytest.raises(ValidationError, match="nothing to import"):
        dnc.upload(path, "FR")
    assert ContactList.select().count() == 0


def test_it_fails_an_import_that_ends_with_no_contact(db, tmp_path):
    path = write(tmp_path, b"phone\n0612345678\n")
    contact_list, _ = ci.create_contact_list("list", path, "FR")
    path.write_bytes(b"phone\n12\n1234\n")  # changed after the check
    with pytest.raises(ValidationError, match="no contacts imported: all 2 rows were rejected"):
        ci.import_contact_list(contact_list.id, path, workers=0)
    failed = ContactList.get_by_id(contact_list.id)
    assert (failed.status, failed.rows_total, failed.rows_rejected) == ("failed", 2, 2)
    assert ci.rejects_file(contact_list.id) is not None


def test_it_bounds_list_names_on_every_engine(db, tmp_path):
    path = write(tmp_path, b"phone\n0612345678\n")
    too_long = r"list name: at most 200 characters \(this one has 201\)"
    with pytest.raises(ValidationError, match=too_long):
        ci.create_contact_list("é" * 201, path, "FR")
    with pytest.raises(ValidationError, match="list name: a contact list needs a name"):
        ci.create_contact_list("  ", path, "FR")
    for name in ("spring\x00list", "spring\nlist"):  # PostgreSQL refuses a NUL in text
        with pytest.raises(ValidationError, match="list name: one line of printable characters"):
            ci.create_contact_list(name, path, "FR")
    contact_list, _ = ci.create_contact_list(" " + "é" * 200 + " ", path, "FR")
    assert ContactList.get_by_id(contact_list.id).name == "é" * 200


def test_it_quotes_input_printable_and_short():
    assert quote_input("a\x00b\tc\u200bd") == "'a?b c?d'"
    assert quote_input("x" * 100, 10) == "'xxxxxxxxx…'"
    assert quote_names([f"c{i}" for i in range(10)], shown=2) == "'c0', 'c1' and 8 more"
    assert len(cut("\x91" * 70_000, 600)) == 600
