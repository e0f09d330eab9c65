"""/api/v1/dnc: the do-not-call list: add, remove, check, bulk (``app.dnc``)."""

from __future__ import annotations

from flask_smorest import Blueprint

from app import dnc
from app.clock import utcnow
from app.contacts import require_phone
from app.errors import ValidationError
from app.quoting import cut
from app.web.api.access import caller
from app.web.api.schemas import QUERY, BulkPhonesIn, BulkResult, DncEntry, PhoneIn, PhoneQuery

blp = Blueprint("api_dnc", __name__, url_prefix="/api/v1/dnc",
                description="The do-not-call list: numbers never dialled")

SOURCE = "api"


@blp.route("/check")
@blp.arguments(PhoneQuery, **QUERY)
@blp.response(200, DncEntry)
def check(args):
    """Whether a number is on the list."""
    phone = require_phone(args["phone"], args["country"])
    return {"phone": phone, "blocked": dnc.is_blocked(phone)}


@blp.route("/", methods=["POST"])
@blp.arguments(PhoneIn)
@blp.response(200, DncEntry)
def add(body):
    """Put a number on the list (adding it twice is harmless)."""
    entry, created = dnc.add_number(body["phone"], body["country"], SOURCE,
                                    _note(body["note"]), utcnow())
    return {"phone": entry.phone, "blocked": True, "created": created}


@blp.route("/remove", methods=["POST"])
@blp.arguments(PhoneQuery)
@blp.response(200, DncEntry)
def remove(body):
    """Take a number off the list (audited with the token's user)."""
    phone = require_phone(body["phone"], body["country"])
    dnc.remove_number(phone, body["country"], by=f"api:{caller().username}")
    return {"phone": phone, "blocked": False}


@blp.route("/bulk", methods=["POST"])
@blp.arguments(BulkPhonesIn)
@blp.response(200, BulkResult)
def bulk(body):
    """Add (or with ``remove``, take off) many numbers; refused numbers are reported."""
    changed = unchanged = 0
    rejected = []
    by = f"api:{caller().username}"
    now = utcnow()
    for index, raw in enumerate(body["phones"]):
        try:
            if body["remove"]:
                done = dnc.remove_number(raw, body["country"], by=by)
            else:
                done = dnc.add_number(raw, body["country"], SOURCE, _note(body["note"]), now)[1]
        except ValidationError as exc:
            rejected.append({"index": index, "reason": cut(str(exc), 200)})
            continue
        changed, unchanged = changed + bool(done), unchanged + (not done)
    return {"changed": changed, "unchanged": unchanged, "rejected": rejected}


def _note(note: str) -> str:
    return f"{note} (by {caller().username})"[:255] if note else f"by {caller().username}"
