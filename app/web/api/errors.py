"""API errors: JSON with a stable code and a message, 4xx for what the client got wrong.

    {"error": {"code": "illegal_transition", "message": "...", "fields": {...}}}

``fields`` (optional) names each refused field with its messages. The codes are
the API's contract: a client may branch on them; the messages are for people.
"""

from __future__ import annotations

import logging

import marshmallow as ma
from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from app.contacts import ContactListInUseError
from app.errors import IllegalTransitionError, NotFoundError, StaleStateError, ValidationError
from app.pbx.errors import PbxError
from app.quoting import shorten

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
# HTTP status -> the code an error without a more precise one carries
HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    422: "validation_failed", 429: "rate_limited", 500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error the API answers as it is: status, code, message, optional fields and headers."""

    def __init__(self, status: int, code: str, message: str, fields=None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields, self.headers = fields, headers or {}


class ErrorBody(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "A stable machine code"})
    message = ma.fields.String(required=True, metadata={"description": "For people"})
    fields = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Raw(),
        metadata={"description": "Each refused field and why"},
    )


class ErrorSchema(ma.Schema):
    """Every error the API answers."""

    error = ma.fields.Nested(ErrorBody, required=True)


def error_response(status: int, code: str, message: str, fields=None, headers=None):
    body = {"code": code, "message": shorten(message) if len(message) > 500 else message}
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def domain_error(exc: Exception):
    """A refusal of the domain as the API answers it."""
    if isinstance(exc, ContactListInUseError):
        return error_response(409, "in_use", str(exc))
    if isinstance(exc, ValidationError):
        return error_response(422, "validation_failed", str(exc), _named_fields(str(exc)))
    if isinstance(exc, IllegalTransitionError):
        return error_response(409, "illegal_transition", str(exc))
    if isinstance(exc, StaleStateError):
        return error_response(409, "conflict", str(exc))
    if isinstance(exc, NotFoundError):
        return error_response(404, "not_found", str(exc))
    if isinstance(exc, PbxError):
        log.warning("api: PBX refused path=%s: %s", request.path, exc)
        return error_response(503, "pbx_unavailable", f"the PBX did not answer: {exc}")
    raise exc


# how domain messages name a field in words
FIELD_WORDS = (("time zone", "timezone"), ("call window", "windows"), ("option", "options"),
               ("contact list", "contact_list"), ("list name", "name"))


def _named_fields(message: str) -> dict | None:
    """The field each part of a domain message names ("max_channels must ...")."""
    found = {}
    for part in message.split("; "):
        head = part.split(" ", 1)[0].rstrip(":")
        if not (head.isidentifier() and head.islower() and "_" in head or head in SIMPLE):
            head = next((name for words, name in FIELD_WORDS if words in part.lower()), None)
        if head:
            found.setdefault(head, []).append(part)
    return found or None


SIMPLE = ("name", "timezone", "scope", "contacts", "phone")


def http_error(exc: HTTPException):
    """Any HTTP error under /api/ as JSON (webargs' refusals name the fields); else as Flask would."""
    if not request.path.startswith(API_PREFIX):
        return exc
    data = getattr(exc, "data", None) or {}
    status = exc.code or 500
    fields = data.get("messages") or data.get("errors")
    if isinstance(fields, dict) and len(fields) == 1 and isinstance(
        next(iter(fields.values())), dict
    ):
        fields = next(iter(fields.values()))  # webargs nests them under the location
    message = data.get("message") or exc.description or exc.name
    if status == 422 and fields:
        message = "; ".join(f"{name}: {_first(msgs)}" for name, msgs in list(fields.items())[:5])
    if status >= 500:
        log.error("api: %s path=%s", status, request.path)
    headers = dict(data.get("headers") or {})
    if status == 405 and exc.get_response().headers.get("Allow"):
        headers["Allow"] = exc.get_response().headers["Allow"]
    return error_response(status, HTTP_CODES.get(status, "error"), str(message),
                          fields if isinstance(fields, dict) else None, headers)


def _first(messages) -> str:
    while isinstance(messages, (list, dict)) and messages:
        messages = messages[0] if isinstance(messages, list) else next(iter(messages.values()))
    return str(messages)[:200]


def api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)
