"""The back office: Flask-Admin views behind sign-in, roles and CSRF."""

from __future__ import annotations

from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from app.web.admin.base import HomeView, BoundedIntegerConverter
from app.web.admin.campaigns import CampaignView
from app.web.admin.contacts import ContactListView, ContactView
from app.web.admin.dnc import DoNotCallView
from app.web.admin.holidays import HolidayView
from app.web.admin.operations import OperationsView
from app.web.admin.outbound import (
    MailView, WebhookAttemptView, WebhookDeliveryView, WebhookEndpointView)
from app.web.admin.records import AttemptView, EventView, UserView
from app.web.admin.tokens import ApiTokenView
from app.web.auth import init_auth
from app.models import CallAttempt, CallEvent, Campaign, Contact, ContactList, DoNotCall, User
from app.holiday_tables import Holiday
from app.outbound.tables import MailMessage, WebhookAttempt, WebhookDelivery, WebhookEndpoint


def init_admin(app) -> Admin:
    """Sign-in, CSRF and every back-office view on ``app``."""
    # before any view's rules are added: each <int:...> then refuses ids past 64 bits
    app.url_map.converters["int"] = BoundedIntegerConverter
    init_auth(app)
    admin = Admin(
        app,
        name="Callcast",
        index_view=HomeView(name="Home", url="/admin"),
        theme=Bootstrap4Theme(base_template="callcast/master.html", fluid=True),
    )
    admin.add_view(CampaignView(Campaign, name="Campaigns", endpoint="campaign"))
    admin.add_view(ContactListView(ContactList, name="Contact lists", endpoint="contactlist"))
    admin.add_view(ContactView(Contact, name="Contacts", endpoint="contact"))
    admin.add_view(DoNotCallView(DoNotCall, name="Do not call", endpoint="dnc"))
    admin.add_view(HolidayView(Holiday, name="Holidays", endpoint="holiday"))
    admin.add_view(AttemptView(CallAttempt, name="Attempts", endpoint="attempt", category="Calls"))
    admin.add_view(EventView(CallEvent, name="Events", endpoint="event", category="Calls"))
    admin.add_view(OperationsView(name="Operations", endpoint="operations"))
    _add_outbound_views(admin)
    admin.add_view(UserView(User, name="Users", endpoint="user"))
    admin.add_view(ApiTokenView(name="API tokens", endpoint="apitokens", url="/admin/api-tokens"))
    return admin


def _add_outbound_views(admin) -> None:
    """Webhook endpoints, deliveries, attempts and the campaign mails, under one menu."""
    category = "Outbound"
    admin.add_view(WebhookEndpointView(WebhookEndpoint, name="Webhook endpoints",
                                       endpoint="webhookendpoint", category=category))
    admin.add_view(WebhookDeliveryView(WebhookDelivery, name="Deliveries",
                                       endpoint="webhookdelivery", category=category))
    admin.add_view(WebhookAttemptView(WebhookAttempt, name="Delivery attempts",
                                      endpoint="webhookattempt", category=category))
    admin.add_view(MailView(MailMessage, name="Mails", endpoint="mail", category=category))
