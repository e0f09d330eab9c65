"""Contact list import: sniffing, normalisation, rejects, duplicates, the actor."""

from __future__ import annotations

import csv

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import contacts as ci
from app.errors import NotFoundError, ValidationError
from app.models import Contact, ContactList


def write(tmp_path, text, encoding="utf-8", name="contacts.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def contacts(list_id):
    return list(Contact.select().where(Contact.contact_list == list_id).order_by(Contact.position))


def run_import(path, country="FR", **kwargs):
    contact_list, plan = ci.create_contact_list("list", path, country)
    done = ci.import_contact_list(contact_list.id, path, **kwargs)
    return done, plan


def rejects_rows(contact_list):
    with open(contact_list.rejects_path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


# --- normalisation (no database) ----------------------------------------------------


# regions that share their calling code with others (+1, +7, +39, +44), and a lone one
SHARED_CODE_REGIONS = ["US", "CA", "JM", "PR", "RU", "KZ", "IT", "VA", "GB", "JE", "IM", "FR"]


@settings(max_examples=400, deadline=None)
@given(
    region=st.sampled_from(SHARED_CODE_REGIONS),
    prefix=st.sampled_from(["", "+1", "+7", "+39", "+44", "0", "1", "00"]),
    digits=st.text("0123456789", min_size=6, max_size=12),
)
def test_it_judges_validity_exactly_as_phonenumbers_does(region, prefix, digits):
    # normalise_phone skips is_valid_number's region search when it can: same verdict always
    raw = prefix + digits
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        assert ci.normalise_phone(raw, region)[0] is None
        return
    expected = (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(number)
        else None
    )
    assert ci.normalise_phone(raw, region)[0] == expected


def test_it_keeps_a_valid_number_of_a_neighbour_region_sharing_the_code():
    # +1 numbers of Canada and Jamaica with the US as default (not valid *for the US*)
    assert ci.normalise_phone("(416) 979-1234", "US") == ("+14169791234", "")
    assert ci.normalise_phone("876 927 1234", "US") == ("+18769271234", "")
    # a US number with Canada (not the first region of +1) as default
    assert ci.normalise_phone("(212) 736-5000", "CA") == ("+12127365000", "")


def test_it_normalises_national_and_international_numbers_to_e164():
    assert ci.normalise_phone("06 12 34 56 78", "FR") == ("+33612345678", "")
    assert ci.normalise_phone("+33 (0)6.12.34.56.78", "FR") == ("+33612345678", "")
    assert ci.normalise_phone("0033 6 12 34 56 78", "FR") == ("+33612345678", "")
    assert ci.normalise_phone("(212) 555-1234", "US") == ("+12125551234", "")
    assert ci.normalise_phone("+44 20 7946 0018", "US") == ("+442079460018", "")
    # Italian fixed lines keep their leading zero inside E.164
    assert ci.normalise_phone("06 6982 1234", "IT") == ("+390669821234", "")


def test_it_gives_a_reason_for_each_bad_number():
    assert ci.normalise_phone("", "FR") == (None, "empty phone number")
    assert ci.normalise_phone("n/a", "FR") == (None, "not a phone number")
    assert ci.normalise_phone("12", "FR")[1] in ("too short", "not a phone number")
    assert ci.normalise_phone("0612345678901234", "FR") == (None, "too long")
    assert ci.normalise_phone("(212) 055-1234", "US") == (None, "not a valid US number")


def test_it_refuses_an_unknown_default_country(tmp_path):
    path = write(tmp_path, "phone\n0612345678\n")
    with pytest.raises(ValidationError, match="default country"):
        ci.preview(path, "XX")


# --- sniffing ------------------------------------------------------------------------


def test_it_reads_a_latin1_file(tmp_path):
    path = write(tmp_path, "nom,téléphone,ville\nRené,06 12 34 56 78,Orléans\n", "latin-1")
    found = ci.preview(path, "FR")
    assert found["encoding"] == "latin-1"
    assert found["columns"] == ["nom", "téléphone", "ville"]
    assert found["phone_column"] == "téléphone"
    assert found["rows"] == [["René", "06 12 34 56 78", "Orléans"]]


def test_it_detects_latin1_far_into_an_ascii_file(tmp_path):
    lines = ["name,phone"] + [f"n{i},06123{i:05d}" for i in range(30000)] + ["Zoé,0612345678"]
    path = write(tmp_path, "\n".join(lines) + "\n", "latin-1")
    assert ci.detect_encoding(path) == "latin-1"


def test_it_strips_the_bom_of_a_utf8_file(tmp_path):
    path = write(tmp_path, "\ufeffphone,name\n0612345678,Zoé\n", "utf-8")
    found = ci.preview(path, "FR")
    assert found["encoding"] == "utf-8-sig"
    assert found["columns"] == ["phone", "name"]
    assert found["phone_column"] == "phone"
    assert found["rows"] == [["0612345678", "Zoé"]]


def test_it_detects_semicolons_and_tabs(tmp_path):
    semi = write(tmp_path, "nom;tel;montant\nA;0612345678;1,5\nB;0612345679;2,5\n", name="s.csv")
    tabs = write(tmp_path, "nom\ttel\nA\t0612345678\nB\t0612345679\n", name="t.csv")
    assert ci.preview(semi, "FR")["delimiter"] == ";"
    assert ci.preview(semi, "FR")["rows"][0] == ["A", "0612345678", "1,5"]
    assert ci.preview(tabs, "FR")["delimiter"] == "\t"


def test_it_detects_a_file_without_header_and_finds_the_phone_by_content(tmp_path):
    path = write(tmp_path, "Jean,0012,06 12 34 56 78\nZoé,0013,06 12 34 56 79\n")
    found = ci.preview(path, "FR")
    assert found["has_header"] is False
    assert found["columns"] == ["column_1", "column_2", "column_3"]
    assert found["phone_column"] == "column_3"
    assert found["rows"][0] == ["Jean", "0012", "06 12 34 56 78"]


def test_it_refuses_a_file_with_no_phone_column(tmp_path):
    path = write(tmp_path, "name,city\nJean,Paris\nZoé,Lyon\n")
    with pytest.raises(ValidationError, match="no phone column"):
        ci.preview(path, "FR")


def test_it_refuses_a_named_phone_column_that_is_not_there(tmp_path):
    path = write(tmp_path, "name,phone\nJean,0612345678\n")
    with pytest.raises(ValidationError, match="no column named 'mobile'"):
        ci.preview(path, "FR", phone_column="mobile")


def test_it_refuses_an_empty_file(tmp_path):
    with pytest.raises(ValidationError, match="empty"):
        ci.preview(write(tmp_path, "\n\n"), "FR")


# --- import ----------------------------------------------------------------------------


def test_it_imports_a_file_with_no_phone_column_as_a_clear_failure(db, tmp_path):
    path = write(tmp_path, "name,city\nJean,Paris\n")
    with pytest.raises(ValidationError, match="no phone column"):
        ci.create_contact_list("list", path, "FR")
    assert ContactList.select().count() == 0
    # a list created before the file changed fails with the reason stored
    contact_list = ContactList.create(name="l", default_country="FR", status=ci.IMPORTING)
    with pytest.raises(ValidationError):
        ci.import_contact_list(contact_list.id, path)
    failed = ContactList.get_by_id(contact_list.id)
    assert failed.status == ci.FAILED
    assert "no phone column" in failed.error


def test_it_imports_latin1_with_bom_free_fields_and_leading_zeros_kept(db, tmp_path):
    path = write(
        tmp_path,
        "nom;téléphone;code postal;compte\nRené;06 12 34 56 78;01234;000789\n"
        "Zoé;+33 6 12 34 56 79;00042;0\n",
        "latin-1",
    )
    done, plan = run_import(path)
    assert (done.status, done.rows_total, done.rows_imported) == (ci.READY, 2, 2)
    assert done.phone_column == "téléphone"
    assert done.columns == ["nom", "code postal", "compte"]
    rows = contacts(done.id)
    assert [c.phone for c in rows] == ["+33612345678", "+33612345679"]
    assert rows[0].fields == {"nom": "René", "code postal": "01234", "compte": "000789"}
    assert rows[1].fields["code postal"] == "00042"
    assert [c.position for c in rows] == [2, 3]


def test_it_imports_a_bom_file_without_a_stray_column_name(db, tmp_path):
    path = write(tmp_path, "\ufeffphone,name\n0612345678,Zoé\n")
    done, _ = run_import(path)
    assert done.phone_column == "phone"
    assert contacts(done.id)[0].fields == {"name": "Zoé"}


def test_it_reports_bad_rows_with_line_numbers_and_a_rejects_csv(db, tmp_path):
    path = write(
        tmp_path,
        "name,phone,zip\n"  # line 1
        "ok,0612345678,01000\n"  # 2
        "short,12,02000\n"  # 3
        '"multi\nline",0612345679,03000\n'  # 4-5
        "\n"  # 6: blank, ignored
        "words,call me,04000\n"  # 7
        "wide,0612345670,05000,extra\n"  # 8
        "empty,,06000\n"  # 9
        "ok2,0622334455,07000\n",  # 10
    )
    done, _ = run_import(path)
    assert (done.rows_total, done.rows_imported, done.rows_rejected) == (7, 3, 4)
    assert [c.position for c in contacts(done.id)] == [2, 4, 10]
    assert contacts(done.id)[1].fields == {"name": "multi\nline", "zip": "03000"}
    rows = rejects_rows(done)
    assert rows[0] == ["line", "reason", "name", "phone", "zip"]
    assert [(r[0], r[2]) for r in rows[1:]] == [
        ("3", "short"),
        ("7", "words"),
        ("8", "wide"),
        ("9", "empty"),
    ]
    reasons = {r[0]: r[1] for r in rows[1:]}
    assert reasons["7"] == "not a phone number"
    assert reasons["8"] == "4 fields, the file has 3 columns"
    assert reasons["9"] == "empty phone number"
    assert rows[1][3] == "12" and rows[1][4] == "02000"  # the row as it was, zeros kept
    assert ci.rejects_file(done.id) == ci.rejects_path_for(done.id).resolve()


def test_it_drops_and_counts_duplicates_inside_a_list(db, tmp_path):
    path = write(
        tmp_path,
        "phone,name\n0612345678,first\n+33 6 12 34 56 78,same number\n06.12.34.56.78,again\n"
        "0612345679,other\n",
    )
    done, _ = run_import(path)
    assert (done.rows_total, done.rows_imported, done.rows_duplicate) == (4, 2, 2)
    assert done.rows_rejected == 0 and done.rejects_path == ""
    assert ci.rejects_file(done.id) is None
    first = contacts(done.id)[0]
    assert (first.phone, first.fields["name"], first.position) == ("+33612345678", "first", 2)
    # the same number in another list is not a duplicate
    other, _ = run_import(path)
    assert other.rows_imported == 2


def test_it_imports_a_file_without_header(db, tmp_path):
    path = write(tmp_path, "Jean;0012;06 12 34 56 78\nZoé;0013;06 12 34 56 79\n")
    done, _ = run_import(path)
    assert done.phone_column == "column_3"
    assert done.columns == ["column_1", "column_2"]
    rows = contacts(done.id)
    assert [c.position for c in rows] == [1, 2]
    assert rows[0].fields == {"column_1": "Jean", "column_2": "0012"}


def test_it_normalises_in_worker_processes_the_same_way(db, tmp_path):
    lines = ["name,phone,zip"]
    for i in range(300):
        lines.append(f"n{i},06 12 {i // 100:02d} {i % 100:02d} 00,{i:05d}")
    lines += ["bad,123,00000", "dup,0612000000,00001"]
    path = write(tmp_path, "\n".join(lines) + "\n")
    done, _ = run_import(path, workers=2, chunk_rows=40)
    assert (done.rows_total, done.rows_imported, done.rows_rejected, done.rows_duplicate) == (
        302,
        300,
        1,
        1,
    )
    rows = contacts(done.id)
    assert rows[7].fields == {"name": "n7", "zip": "00007"}
    assert rows[7].phone == "+33612000700"
    assert rejects_rows(done)[1][:2] == ["302", "too short"]


def test_it_starts_over_when_an_import_is_run_again(db, tmp_path):
    path = write(tmp_path, "phone\n0612345678\n0612345679\n")
    contact_list, _ = ci.create_contact_list("list", path, "FR")
    # a crashed run left a row behind and the list still importing
    Contact.create(contact_list=contact_list, phone="+33612345678", fields={}, position=2)
    done = ci.import_contact_list(contact_list.id, path)
    assert (done.rows_imported, done.rows_duplicate) == (2, 0)
    # a redelivered message for a ready list changes nothing
    again = ci.import_contact_list(contact_list.id, path)
    assert (again.status, again.rows_imported) == (ci.READY, 2)
    assert len(contacts(contact_list.id)) == 2


def test_it_refuses_an_unknown_list(db, tmp_path):
    with pytest.raises(NotFoundError):
        ci.import_contact_list(999_999, write(tmp_path, "phone\n0612345678\n"))


def test_it_imports_through_the_actor_on_a_real_worker(db, tmp_path, broker, worker):
    from tasks.broker import DEFAULT
    from tasks.importing import import_contact_list

    path = write(
        tmp_path,
        "nom;téléphone;code\nRené;06 12 34 56 78;007\nbad;123;008\nZoé;06 12 34 56 78;009\n",
        "latin-1",
    )
    contact_list, _ = ci.create_contact_list("via actor", path, "FR")
    import_contact_list.send(contact_list.id, str(path))
    broker.join(DEFAULT, timeout=60_000)
    worker.join()
    done = ContactList.get_by_id(contact_list.id)
    assert (done.status, done.rows_total, done.rows_imported) == (ci.READY, 3, 1)
    assert (done.rows_rejected, done.rows_duplicate) == (1, 1)
    assert contacts(done.id)[0].fields == {"nom": "René", "code": "007"}
    assert rejects_rows(done)[1][:2] == ["3", "too short"]


def test_it_reads_a_single_column_file_with_or_without_header(tmp_path):
    named = write(tmp_path, "Phone\n0612345678\n0612345679\n", name="a.csv")
    bare = write(tmp_path, "0612345678\n0612345679\n", name="b.csv")
    assert ci.preview(named, "FR")["phone_column"] == "Phone"
    found = ci.preview(bare, "FR")
    assert (found["has_header"], found["phone_column"], len(found["rows"])) == (
        False,
        "column_1",
        2,
    )


def test_it_estimates_the_rows_of_a_big_file(tmp_path):
    lines = ["name,phone"] + [f"n{i:06d},06123{i % 100000:05d}" for i in range(50000)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    assert 45000 <= ci.estimate_rows(path) <= 55000
    assert ci.estimate_rows(write(tmp_path, "phone\n0612345678\n", name="s.csv")) == 2
