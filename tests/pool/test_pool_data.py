"""The PBX pool as data: refusals naming the field, the seeded PBX, ``flask pbx``, the console."""

from __future__ import annotations

import pytest

from app.config import get_settings
from app.errors import ValidationError
from app.pbx import pool
from app.pbx.tables import Pbx

from tests.admin.conftest import flashes

GOOD = dict(name="pbx-b", ami_host="10.0.0.2", ami_port=5038, ami_user="callcast",
            ami_secret="s3cret", agi_host="10.0.0.9", dial_template="PJSIP/{digits}@trunk",
            capacity=300, originate_rate=20, weight=2)


def test_it_seeds_one_pbx_from_the_settings_once(db):
    settings = get_settings()
    assert pool.ensure_seeded(settings) is True
    assert pool.ensure_seeded(settings) is False
    [seeded] = pool.list_pbxs()
    assert (seeded.name, seeded.ami_host, seeded.ami_port, seeded.dial_template, seeded.enabled) == (
        "default", settings.ami_host, settings.ami_port, "", True)  # "": DIAL_TEMPLATE
    assert seeded.capacity == (settings.global_max_channels or pool.SEED_CAPACITY)


@pytest.mark.parametrize("field, value, says", [
    ("name", "Bad Name", "name:"),
    ("ami_host", "host\r\nAction: Logoff", "ami_host:"),
    ("ami_port", 70000, "ami_port: 70000 is outside 1..65535"),
    ("ami_user", "a b", "ami_user:"),
    ("ami_secret", "x\nAction: Originate", "ami_secret:"),
    ("agi_host", "-x-", "agi_host:"),
    ("dial_template", "PJSIP/{number}@t\n", "dial_template:"),
    ("dial_template", " ", "dial_template:"),
    ("dial_template", "PJSIP/{nope}", "dial_template: only the placeholders"),
    ("dial_template", "PJSIP/trunk", "dial_template: names no number"),
    ("capacity", 0, "capacity: 0 is outside 1..5000"),
    ("capacity", "lots", "capacity: 'lots' is not a whole number"),
    ("originate_rate", 10**9, "originate_rate:"),
    ("weight", -1, "weight:"),
])
def test_it_refuses_a_bad_field_naming_it(db, field, value, says):
    with pytest.raises(ValidationError) as info:
        pool.add_pbx({**GOOD, field: value})
    assert says in str(info.value)
    assert Pbx.select().count() == 0


def test_it_refuses_a_second_pbx_of_the_same_name(db):
    pool.add_pbx(GOOD)
    with pytest.raises(ValidationError, match="name: a PBX named 'pbx-b' exists"):
        pool.add_pbx(GOOD)


def test_it_marks_down_and_up_once_each(db):
    row = pool.add_pbx(GOOD)
    from app.clock import utcnow
    now = utcnow()
    assert pool.mark_down(row.id, "AmiConnectionError: refused", now) is True
    assert pool.mark_down(row.id, "again", now) is False
    assert [p.name for p in pool.down_pbxs()] == ["pbx-b"]
    assert pool.mark_up(row.id) is True and pool.mark_up(row.id) is False
    assert pool.down_pbxs() == []


def test_the_cli_adds_lists_disables_and_enables(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=[
        "pbx", "add", "pbx-b", "--ami-host", "10.0.0.2", "--ami-user", "callcast",
        "--ami-secret", "s3cret", "--agi-host", "10.0.0.9", "--capacity", "300"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["pbx", "list"]).output.splitlines()
    assert [line.split("\t")[1:3] for line in listed] == [["default", "up"], ["pbx-b", "up"]]
    assert "s3cret" not in "\n".join(listed)
    assert runner.invoke(args=["pbx", "disable", "pbx-b"]).exit_code == 0
    assert Pbx.get(Pbx.name == "pbx-b").enabled is False
    assert [p.name for p in pool.enabled_pbxs()] == ["default"]
    assert runner.invoke(args=["pbx", "enable", "pbx-b"]).exit_code == 0
    assert Pbx.get(Pbx.name == "pbx-b").enabled is True
    bad = runner.invoke(args=[
        "pbx", "add", "pbx-c", "--ami-host", "10.0.0.3", "--ami-user", "callcast",
        "--ami-secret", "s", "--agi-host", "10.0.0.9", "--capacity", "99999"])
    assert bad.exit_code != 0 and "capacity: 99999 is outside 1..5000" in bad.output
    missing = runner.invoke(args=["pbx", "enable", "nope"])
    assert missing.exit_code != 0 and "no PBX 'nope'" in missing.output


def test_the_console_adds_a_pbx_for_admins_only_and_never_lists_the_secret(
        app, db, no_csrf, admin_client, operator_client):
    assert operator_client.get("/admin/pbx/").status_code == 403
    data = {k: str(v) for k, v in GOOD.items()}
    data["enabled"] = "y"
    response = admin_client.post("/admin/pbx/new/", data=data, follow_redirects=True)
    assert response.status_code == 200
    row = Pbx.get(Pbx.name == "pbx-b")
    assert (row.capacity, row.originate_rate, row.weight, row.ami_secret) == (300, 20, 2, "s3cret")
    listing = admin_client.get("/admin/pbx/").get_data(as_text=True)
    assert "pbx-b" in listing and "s3cret" not in listing
    bad = admin_client.post("/admin/pbx/new/", data={**data, "name": "other",
                                                      "dial_template": "PJSIP/x"},
                            follow_redirects=True)
    assert any("dial_template: names no number" in f for f in flashes(bad))
    assert Pbx.select().count() == 1
