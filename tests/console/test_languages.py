"""English and Spanish: the user's choice first, then Accept-Language; errors in the language too."""

from __future__ import annotations

from app.models import DRAFT, User
from tests.campaign_end_support import make_campaign
from tests.admin.conftest import csrf_token, flashes
from tests.admin.test_campaigns import campaign_form

ES = {"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}


def test_the_browser_language_then_the_users_choice(db, app, users, viewer_client):
    login = app.test_client().get("/login", headers=ES).get_data(as_text=True)
    assert 'lang="es"' in login and "Acceso a Callcast" in login and "Contraseña" in login
    home = viewer_client.get("/admin/", headers=ES).get_data(as_text=True)
    assert "Campañas en curso" in home, home[home.find("<h1"):home.find("<h1")+300]
    assert "Campañas</a>" in home  # the menu
    assert "Campaigns in progress" in viewer_client.get("/admin/").get_data(as_text=True)

    token = csrf_token(viewer_client, "/admin/")
    chosen = viewer_client.post("/language", data={"locale": "es", "next": "/admin/campaign/",
                                                   "csrf_token": token})
    assert chosen.status_code == 302 and chosen.headers["Location"] == "/admin/campaign/"
    assert User.get(User.username == "viewer").locale == "es"
    # the choice wins over a browser asking for English
    page = viewer_client.get("/admin/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Campañas en curso" in page
    away = viewer_client.post("/language", data={"locale": "es", "next": "https://evil.example/",
                                                 "csrf_token": token})
    assert away.headers["Location"] == "/admin/"  # never an open redirect
    assert viewer_client.post("/language", data={"locale": "xx", "csrf_token": token}).status_code == 400
    viewer_client.post("/language", data={"locale": "", "csrf_token": token})
    assert "Campaigns in progress" in viewer_client.get("/admin/").get_data(as_text=True)


def test_form_and_domain_errors_are_translated(db, app, users, no_csrf, operator_client):
    refused = operator_client.post("/admin/campaign/new/", data={"name": ""}, headers=ES)
    assert "Este campo es obligatorio." in refused.get_data(as_text=True)  # WTForms' own words
    draft = make_campaign(2, state=DRAFT)
    response = operator_client.post(f"/admin/campaign/act/{draft.id}/pause", headers=ES,
                                    follow_redirects=True)
    assert (f"Pausar rechazada: campaña {draft.id}: no puede pasar de DRAFT a PAUSED "
            "(Pausar funciona con campañas ACTIVE)") in flashes(response)
    page = operator_client.post("/admin/campaign/new/", headers=ES,
                                data=campaign_form(name="Spring\r\nreminders")).get_data(as_text=True)
    assert "name debe ser una sola línea de caracteres imprimibles" in page
    page = operator_client.post("/admin/campaign/new/", headers=ES,
                                data=campaign_form(ends_at="2026-11-01 00:00:00")).get_data(as_text=True)
    assert "ends_at: el final debe ser posterior al inicio" in page


def test_the_lists_column_headers_speak_the_language(db, viewer_client):
    campaigns = viewer_client.get("/admin/campaign/", headers=ES).get_data(as_text=True)
    assert "Canales máx." in campaigns and "Lista de contactos" in campaigns
    assert "Max channels" not in campaigns
    lists = viewer_client.get("/admin/contactlist/", headers=ES).get_data(as_text=True)
    assert "Rechazados" in lists and "Columna de teléfono" in lists
    dnc = viewer_client.get("/admin/dnc/", headers=ES).get_data(as_text=True)
    assert "Teléfono" in dnc and "Añadido" in dnc
    english = viewer_client.get("/admin/campaign/").get_data(as_text=True)
    assert "Max channels" in english and "Canales máx." not in english
