"""The refusals each API operation can answer, listed in the OpenAPI document by status.

flask-smorest documents 422 where a schema validates and a ``default`` error for the
rest; a client generating code from the document wants the codes it must handle. The
rules follow where each refusal is raised:

    401  every operation: ``access.authenticate`` (no token, or not a valid one)
    429  every operation: the token's rate (``access.authenticate``)
    403  operations that change data: a read token or a viewer (``access.authenticate``)
    404  paths naming a record (``{campaign_id}``, ``{list_id}``...): ``NotFoundError``
    409  changes to a named campaign or contact list its state refuses:
         ``IllegalTransitionError``, ``StaleStateError``, ``ContactListInUseError``
         (``errors.domain_error``)
    503  activation: the PBX did not take the dialplan (``PbxError``)

Every one of them has the ``Error`` shape (``errors.ErrorSchema``).
"""

from __future__ import annotations

from http import HTTPStatus

from apispec import BasePlugin

from app.web.api.access import READ_METHODS
# the records whose state can refuse a change (a holiday or a do-not-call entry has none)
STATEFUL = ("/api/v1/campaigns/{", "/api/v1/contact-lists/{")


def refusals(path: str, method: str) -> list[int]:
    """The statuses besides validation an operation on ``path`` with ``method`` can refuse with."""
    writes, named = method.upper() not in READ_METHODS, "{" in path
    found = [401, 429]
    if writes:
        found.append(403)
    if named:
        found.append(404)
    if writes and path.startswith(STATEFUL):
        found.append(409)
    if writes and path.endswith("/activate"):
        found.append(503)
    return found


class RefusalsPlugin(BasePlugin):
    """Adds each operation's refusals to its responses, by reference to the error responses
    flask-smorest registers (``UNAUTHORIZED``, ``NOT_FOUND``...)."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            listed = {str(code) for code in responses}
            for status in refusals(path or "", method):
                if str(status) not in listed:
                    responses[str(status)] = HTTPStatus(status).name
