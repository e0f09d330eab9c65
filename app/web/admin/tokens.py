"""The API tokens page: a user's own tokens (an admin sees everyone's), create, revoke.

A new token is shown once, on the page that created it; only its hash is kept.
Viewers may hold read tokens; operators and admins write tokens too
(``app.apitokens`` keeps that rule for the CLI as well).
"""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from app import apitokens
from app.clock import utcnow
from app.errors import CallcastError
from app.quoting import shorten
from app.web.admin.base import SecureBaseView, is_admin

log = logging.getLogger(__name__)


class ApiTokenView(SecureBaseView):
    """Everyone signed in manages their own tokens; admins see and revoke all."""

    def _page(self, new_token=None, new_row=None, status=200):
        owner = None if is_admin() else current_user.user_id
        rows = apitokens.list_tokens(owner, include_revoked=True)
        return self.render("callcast/api_tokens.html", rows=rows, scopes=apitokens.SCOPES,
                           new_token=new_token, new_row=new_row, show_users=owner is None,
                           can_write=current_user.can_act), status

    @expose("/")
    def index(self):
        return self._page()

    @expose("/create/", methods=["POST"])
    def create_view(self):
        """Create a token for the signed-in user and show it this once."""
        try:
            row, token = apitokens.create_token(current_user.user_id, request.form.get("name", ""),
                                                request.form.get("scope", ""), utcnow())
        except CallcastError as exc:
            flash(shorten(exc), "error")
            return self._page(status=400)
        log.info("api token created in the console token=%s user=%s", row.id,
                 current_user.username)
        return self._page(new_token=token, new_row=row)

    @expose("/revoke/<int:token_id>", methods=["POST"])
    def revoke_view(self, token_id):
        """Revoke one token: one's own, or anyone's for an admin."""
        owner = None if is_admin() else current_user.user_id
        try:
            row = apitokens.revoke_token(token_id, utcnow(), user_id=owner)
        except CallcastError:
            abort(404)
        flash(f"Token {row.name} revoked.", "success")
        return redirect(url_for(".index"))
