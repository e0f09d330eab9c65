"""/api/v1/campaigns: list, create, read, update, and the operator actions.

Every write goes through ``app.campaigns`` (the rules the console and the CLI
keep), and the actions through the console's own ``run_op``, which starts the
tick chain after activate and resume.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app import campaigns
from app.campaigns import cloning, recycling
from app.contacts.stopping import stop_contact
from app.clock import utcnow
from app.models import Campaign, CallWindow, CampaignOption
from app.web.admin.campaign_ops import OPS, run_op
from app.web.api.access import caller
from app.web.api.schemas import (
    QUERY,
    CampaignInput,
    CampaignPage,
    CampaignPageArgs,
    CampaignSchema,
    CampaignUpdate,
    CloneInput,
    RecycleInput,
    RecycleResult,
    StopContactInput,
    StopContactResult,
    TemplateInput,
)

blp = Blueprint("api_campaigns", __name__, url_prefix="/api/v1/campaigns",
                description="Campaigns: create, change while allowed, start, pause, finish")

SPLIT = ("options", "windows")


def campaign_json(campaign: Campaign) -> dict:
    """A campaign with its options and windows, as CampaignSchema dumps it."""
    data = {name: getattr(campaign, name) for name in CampaignSchema().fields
            if name not in ("contact_list", "retry_on", *SPLIT)}
    data["contact_list"] = campaign.contact_list_id
    data["retry_on"] = sorted(campaign.retry_outcomes)
    data["options"] = [
        {"digit": o.digit, "label": o.label, "action": o.action, "target": o.target}
        for o in campaign.options.order_by(CampaignOption.digit)
    ]
    data["windows"] = [
        {"weekday": w.weekday, "starts": w.starts.strftime("%H:%M"),
         "ends": w.ends.strftime("%H:%M")}
        for w in campaign.windows.order_by(CallWindow.weekday, CallWindow.starts)
    ]
    return data


def page_of(query, args, order):
    """One page of ``query`` (one row more is read, to say whether another page follows)."""
    page, per_page = args["page"], args["per_page"]
    rows = list(query.order_by(order).limit(per_page + 1).offset((page - 1) * per_page))
    return rows[:per_page], {"page": page, "per_page": per_page, "has_more": len(rows) > per_page}


def _split(values: dict):
    """The campaign fields, and the options and windows (None: not given)."""
    fields = {k: v for k, v in values.items() if k not in SPLIT}
    return fields, values.get("options"), values.get("windows")


@blp.route("/")
class Campaigns(MethodView):
    @blp.arguments(CampaignPageArgs, **QUERY)
    @blp.response(200, CampaignPage)
    def get(self, args):
        """Campaigns, newest first, a page at a time; ``state`` narrows them."""
        query = Campaign.select()
        if args.get("state"):
            query = query.where(Campaign.state == args["state"])
        rows, paging = page_of(query, args, Campaign.id.desc())
        return {"items": [campaign_json(c) for c in rows], **paging}

    @blp.arguments(CampaignInput)
    @blp.response(201, CampaignSchema)
    def post(self, values):
        """Create a DRAFT campaign (with its digit options and call windows)."""
        fields, options, windows = _split(values)
        campaign = campaigns.create(fields, utcnow(), caller().user_id, options=options or (),
                                    windows=windows or ())
        return campaign_json(campaign)


@blp.route("/<int:campaign_id>")
class CampaignItem(MethodView):
    @blp.response(200, CampaignSchema)
    def get(self, campaign_id):
        """One campaign."""
        return campaign_json(campaigns.get_campaign(campaign_id))

    @blp.arguments(CampaignUpdate)
    @blp.response(200, CampaignSchema)
    def patch(self, values, campaign_id):
        """Change the fields given, while the campaign's state allows it (as in the console)."""
        fields, options, windows = _split(values)
        campaign = campaigns.update(campaign_id, fields, utcnow(), caller().user_id,
                                    options=options, windows=windows)
        return campaign_json(campaign)


def _action(name: str):
    op = OPS[name]

    @blp.response(200, CampaignSchema)
    def view(campaign_id):
        run_op(name, campaign_id, utcnow(), caller().user_id)
        return campaign_json(campaigns.get_campaign(campaign_id))

    view.__name__ = f"campaign_{name}"
    view.__doc__ = (f"{op.label}: {' or '.join(op.sources)} to {op.target} "
                    "(409 illegal_transition from any other state).")
    blp.route(f"/<int:campaign_id>/{name}", methods=["POST"])(view)


for _name in OPS:
    _action(_name)


@blp.route("/<int:campaign_id>/clone", methods=["POST"])
@blp.arguments(CloneInput)
@blp.response(201, CampaignSchema)
def campaign_clone(values, campaign_id):
    """A new DRAFT built like this campaign (any state): fields, options, windows, message.

    The contact list is shared unless ``contact_list`` names another (or null: none).
    """
    make = cloning.new_from_template if values.get("from_template") else cloning.clone
    copy = make(campaign_id, utcnow(), caller().user_id, name=values.get("name"),
                contact_list=values.get("contact_list", cloning.KEEP))
    return campaign_json(copy)


@blp.route("/<int:campaign_id>/template", methods=["POST"])
@blp.arguments(TemplateInput)
@blp.response(200, CampaignSchema)
def campaign_template(values, campaign_id):
    """Mark the campaign as a template (offered by "new from template"), or no longer."""
    return campaign_json(cloning.mark_template(campaign_id, values["is_template"], utcnow(),
                                               caller().user_id))


@blp.route("/<int:campaign_id>/stop-contact", methods=["POST"])
@blp.arguments(StopContactInput)
@blp.response(200, StopContactResult)
def campaign_stop_contact(values, campaign_id):
    """Stop one contact of an ACTIVE or PAUSED campaign: final, outcome ``stopped``."""
    return stop_contact(campaign_id, values["contact"], utcnow(), dnc=values["dnc"],
                        note=values["note"], user_id=caller().user_id)


@blp.route("/<int:campaign_id>/recycle", methods=["POST"])
@blp.arguments(RecycleInput)
@blp.response(200, RecycleResult)
def campaign_recycle(values, campaign_id):
    """A new list and DRAFT campaign of a FINISHED or CLOSED campaign's contacts whose final
    result matches (outcomes, digits, attempts); ``preview``: only the count."""
    flt = recycling.make_filter(values["outcomes"], values["digits"], values["min_attempts"],
                                values["max_attempts"])
    if values["preview"]:
        return {"count": recycling.preview(campaign_id, flt), "campaign": None,
                "contact_list": None}
    copy, new_list, count = recycling.recycle(campaign_id, flt, utcnow(), caller().user_id,
                                              name=values.get("name"))
    return {"count": count, "campaign": campaign_json(copy), "contact_list": new_list.id}
