"""/api/v1/holidays: dates on which nothing is dialled (``app.holidays``, as ``flask holiday``)."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields as f
from marshmallow import validate as v

from app import holidays
from app.clock import utcnow
from app.db import MAX_INTEGER
from app.web.api.schemas import QUERY, Strict, Text

blp = Blueprint("api_holidays", __name__, url_prefix="/api/v1/holidays",
                description="Holidays: local dates (in each campaign's zone) with no calls")


class HolidayIn(Strict):
    day = f.Date(required=True, metadata={"example": "2026-12-25"})
    name = Text(required=True, validate=v.Length(1, holidays.MAX_NAME))
    campaign_id = f.Integer(strict=True, allow_none=True, validate=v.Range(1, MAX_INTEGER),
                            metadata={"description": "one campaign's; absent or null: every "
                                                     "campaign's"})


class HolidayQuery(Strict):
    campaign_id = f.Integer(validate=v.Range(1, MAX_INTEGER),
                            metadata={"description": "its holidays and the global ones"})


class HolidayOut(ma.Schema):
    id = f.Integer(required=True)
    day = f.Date(required=True)
    name = f.String(required=True)
    campaign_id = f.Integer(allow_none=True)


def _json(holiday) -> dict:
    return {"id": holiday.id, "day": holiday.day, "name": holiday.name,
            "campaign_id": holiday.campaign_id}


@blp.route("/", methods=["GET"])
@blp.arguments(HolidayQuery, **QUERY)
@blp.response(200, HolidayOut(many=True))
def list_(args):
    """The global holidays, or a campaign's and the global ones, by date."""
    campaign_id = args.get("campaign_id")
    if campaign_id is not None:
        holidays.check_campaign(campaign_id)
    return [_json(h) for h in holidays.list_holidays(campaign_id)]


@blp.route("/", methods=["POST"])
@blp.arguments(HolidayIn)
@blp.response(201, HolidayOut)
def add(body):
    """Add a holiday (one campaign's, or every campaign's)."""
    return _json(holidays.add_holiday(body["day"], body["name"], utcnow(),
                                      body.get("campaign_id")))


@blp.route("/<int:holiday_id>")
class HolidayItem(MethodView):
    @blp.response(200, HolidayOut)
    def get(self, holiday_id):
        """One holiday."""
        return _json(holidays.get_holiday(holiday_id))

    @blp.response(204)
    def delete(self, holiday_id):
        """Remove a holiday."""
        holidays.remove_holiday(holiday_id)
