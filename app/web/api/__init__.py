"""The JSON API under /api/v1/: a thin edge over the same domain functions as the console.

    access     Bearer tokens (app.apitokens), scopes, the rate limit
    errors     {"error": {"code", "message"}} for every refusal
    refusals   which refusals each operation lists in the document, by status
    schemas    marshmallow shapes: validation and the generated OpenAPI document
    campaigns  campaigns and their actions
    lists      contact lists: upload, progress, append
    dnc        the do-not-call list
    holidays   dates with no calls
    results    live status, results, report, CSV
    docs       the rendered API page (no CDN: the page is generated here)

flask-smorest (marshmallow + apispec) validates each request with the schemas
and generates /api/v1/openapi.json from the same ones.
"""

from __future__ import annotations

from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from app.db import MAX_INTEGER
from app.errors import CallcastError
from app.web.admin.base import BoundedIntegerConverter
from app.web.api import campaigns, dnc, docs, holidays, lists, results
from app.web.api.access import authenticate
from app.web.api.errors import ApiError, ErrorSchema, api_error, domain_error, http_error
from app.web.api.refusals import RefusalsPlugin

BLUEPRINTS = (campaigns.blp, lists.blp, dnc.blp, results.blp, holidays.blp)
# once, at import: a blueprint takes no new hooks after its first app (each test builds one)
for _blp in BLUEPRINTS:
    _blp.before_request(authenticate)
    _blp.register_error_handler(ApiError, api_error)
    _blp.register_error_handler(CallcastError, domain_error)
API_CONFIG = {
    "API_TITLE": "Callcast API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {"description": "Drive Callcast from another system. Send "
                 "`Authorization: Bearer <token>` (create one in the console or with "
                 "`flask token create`). Errors: `{\"error\": {\"code\", \"message\"}}`."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    },
}


class CallcastApi(Api):
    """flask-smorest's Api with our error shape; its handler is registered for /api/ only."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        # the console keeps Flask's own error pages: http_error answers JSON under /api/ only
        self._app.register_error_handler(HTTPException, http_error)


def init_api(app, csrf) -> CallcastApi:
    """The API's blueprints, spec and docs page on ``app``; CSRF exempt (tokens, no cookies)."""
    for key, value in API_CONFIG.items():
        app.config.setdefault(key, value)
    api = CallcastApi(app, spec_kwargs={"extra_plugins": [RefusalsPlugin()]})
    api.register_converter(BoundedIntegerConverter, _id_schema)
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
        csrf.exempt(blp)
    app.register_blueprint(docs.bp)
    app.register_error_handler(ApiError, api_error)
    return api


def _id_schema(converter) -> dict:
    return {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER}
