"""The back office: Flask-Admin views behind sign-in, roles and CSRF."""

from __future__ import annotations

from flask_admin import Admin
from flask_babel import lazy_gettext as _l
from flask_admin.theme import Bootstrap4Theme

from app.web.admin.base import BoundedIntegerConverter
from app.web.admin.campaigns import CampaignView
from app.web.admin.dashboard import DashboardView
from app.web.admin.contacts import ContactListView, ContactView
from app.web.admin.dnc import DoNotCallView
from app.web.admin.messages import MessageView
from app.web.admin.holidays import HolidayView
from app.web.admin.operations import OperationsView
from app.web.admin.pbxs import PbxView
from app.web.admin.outbound import (
    MailView, WebhookAttemptView, WebhookDeliveryView, WebhookEndpointView)
from app.web.admin.records import AttemptView, EventView, UserView
from app.web.admin.tokens import ApiTokenView
from app.web.auth import init_auth
from app.models import CallAttempt, CallEvent, Campaign, Contact, ContactList, DoNotCall, User
from app.holiday_tables import Holiday
from app.outbound.tables import MailMessage, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.pbx.tables import Pbx


def init_admin(app) -> Admin:
    """Sign-in, CSRF and every back-office view on ``app``."""
    # before any view's rules are added: each <int:...> then refuses ids past 64 bits
    app.url_map.converters["int"] = BoundedIntegerConverter
    init_auth(app)
    admin = Admin(
        app,
        name="Callcast",
        index_view=DashboardView(name=_l("Home"), url="/admin"),
        theme=Bootstrap4Theme(base_template="callcast/master.html", fluid=True),
    )
    admin.add_view(CampaignView(Campaign, name=_l("Campaigns"), endpoint="campaign"))
    admin.add_view(ContactListView(ContactList, name=_l("Contact lists"), endpoint="contactlist"))
    admin.add_view(ContactView(Contact, name=_l("Contacts"), endpoint="contact"))
    admin.add_view(DoNotCallView(DoNotCall, name=_l("Do not call"), endpoint="dnc"))
    admin.add_view(HolidayView(Holiday, name=_l("Holidays"), endpoint="holiday"))
    admin.add_view(AttemptView(CallAttempt, name=_l("Attempts"), endpoint="attempt", category=_l("Calls")))
    admin.add_view(EventView(CallEvent, name=_l("Events"), endpoint="event", category=_l("Calls")))
    admin.add_view(OperationsView(name=_l("Operations"), endpoint="operations"))
    # reached from a campaign's page ("Personalised message"), not from the menu
    admin.add_view(MessageView(name=_l("Messages"), endpoint="messages", url="/admin/messages",
                               menu_class_name="d-none"))
    admin.add_view(PbxView(Pbx, name=_l("PBX pool"), endpoint="pbx"))
    _add_outbound_views(admin)
    admin.add_view(UserView(User, name=_l("Users"), endpoint="user"))
    admin.add_view(ApiTokenView(name=_l("API tokens"), endpoint="apitokens", url="/admin/api-tokens"))
    return admin


def _add_outbound_views(admin) -> None:
    """Webhook endpoints, deliveries, attempts and the campaign mails, under one menu."""
    category = _l("Outbound")
    admin.add_view(WebhookEndpointView(WebhookEndpoint, name=_l("Webhook endpoints"),
                                       endpoint="webhookendpoint", category=category))
    admin.add_view(WebhookDeliveryView(WebhookDelivery, name=_l("Deliveries"),
                                       endpoint="webhookdelivery", category=category))
    admin.add_view(WebhookAttemptView(WebhookAttempt, name=_l("Delivery attempts"),
                                      endpoint="webhookattempt", category=category))
    admin.add_view(MailView(MailMessage, name=_l("Mails"), endpoint="mail", category=category))
