"""Roles: admin does everything, operator runs campaigns but not users, viewer only reads."""

from __future__ import annotations

import io

import pytest

from app.models import Campaign, DoNotCall, User

from .conftest import flashes

READ_PAGES = [
    "/admin/campaign/",
    "/admin/contactlist/",
    "/admin/contact/",
    "/admin/dnc/",
    "/admin/attempt/",
    "/admin/event/",
    "/admin/operations/",
]


@pytest.mark.parametrize("role", ["admin", "operator", "viewer"])
def test_it_lets_every_role_read_the_console(app, users, role):
    from .conftest import client_as

    client = client_as(app, role)
    for url in READ_PAGES:
        assert client.get(url).status_code == 200, url


def test_it_keeps_the_user_pages_for_admins(app, admin_client, operator_client, viewer_client):
    assert admin_client.get("/admin/user/").status_code == 200
    assert admin_client.get("/admin/user/new/").status_code == 200
    for client in (operator_client, viewer_client):
        assert client.get("/admin/user/").status_code == 403
        assert client.get("/admin/user/new/").status_code == 403
        assert "/admin/user/" not in client.get("/admin/campaign/").get_data(as_text=True)


def test_it_lets_an_admin_create_a_user_with_a_hashed_password(no_csrf, admin_client):
    response = admin_client.post(
        "/admin/user/new/",
        data={"username": "frank", "role": "operator", "active": "y", "new_password": "frank's long one"},
    )
    assert response.status_code == 302, flashes(response)
    user = User.get(User.username == "frank")
    assert user.role == "operator" and "frank's" not in user.password_hash


def test_it_refuses_a_user_without_a_password(no_csrf, admin_client):
    response = admin_client.post("/admin/user/new/", data={"username": "gina", "role": "viewer"})
    assert "at least 8 characters" in " ".join(flashes(response))
    assert not User.select().where(User.username == "gina").exists()


def test_it_shows_no_write_controls_to_a_viewer(app, viewer_client):
    Campaign.create(name="c")
    html = viewer_client.get("/admin/campaign/").get_data(as_text=True)
    assert "/admin/campaign/new/" not in html
    assert "/admin/campaign/action/" not in html
    assert "Upload a CSV" not in viewer_client.get("/admin/contactlist/").get_data(as_text=True)


def test_it_refuses_every_write_to_a_viewer(no_csrf, viewer_client):
    campaign = Campaign.create(name="c", state="ACTIVE")
    entry = DoNotCall.create(phone="+12125550100")
    # single action, bulk action, create, edit, upload, delete
    assert viewer_client.post(f"/admin/campaign/act/{campaign.id}/pause").status_code == 403
    viewer_client.post("/admin/campaign/action/", data={"action": "pause", "rowid": [str(campaign.id)]})
    assert Campaign.get_by_id(campaign.id).state == "ACTIVE"
    viewer_client.post("/admin/campaign/new/", data={"name": "sneaky", "message_sound": "hello-world"})
    assert not Campaign.select().where(Campaign.name == "sneaky").exists()
    viewer_client.post(f"/admin/campaign/edit/?id={campaign.id}", data={"name": "renamed"})
    assert Campaign.get_by_id(campaign.id).name == "c"
    assert viewer_client.get("/admin/contactlist/upload/").status_code == 403
    response = viewer_client.post(
        "/admin/dnc/upload/",
        data={"country": "US", "file": (io.BytesIO(b"phone\n2125550199\n"), "d.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    viewer_client.post("/admin/dnc/delete/", data={"id": str(entry.id)})
    assert DoNotCall.select().count() == 1


def test_it_lets_an_operator_act_on_campaigns(no_csrf, operator_client):
    campaign = Campaign.create(name="c", state="ACTIVE")
    response = operator_client.post(f"/admin/campaign/act/{campaign.id}/pause")
    assert response.status_code == 302
    assert Campaign.get_by_id(campaign.id).state == "PAUSED"
    entry = DoNotCall.create(phone="+12125550100")
    operator_client.post("/admin/dnc/delete/", data={"id": str(entry.id)})
    assert DoNotCall.select().count() == 0
