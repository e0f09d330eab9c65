"""The PBX pool in the console: add, edit, enable and disable (the rules are app.pbx.pool's)."""

from __future__ import annotations

import logging

from flask import abort, flash
from flask_admin.actions import action
from flask_login import current_user
from wtforms import fields, validators

from app.pbx import pool
from app.web.admin.base import SecureModelView, is_admin
from app.errors import CallcastError
from app.users import ADMIN

log = logging.getLogger(__name__)


def _down(view, context, model, name):
    if model.down_since is None:
        return "up"
    return f"DOWN since {model.down_since:%Y-%m-%d %H:%M:%S}Z: {model.last_error}"


class PbxView(SecureModelView):
    """Admins edit the pool (it holds AMI secrets); the secret is never listed."""

    roles = (ADMIN,)
    can_delete = False  # attempts name their PBX: disable one instead
    column_list = ("name", "enabled", "down_since", "ami_host", "ami_port", "agi_host",
                   "capacity", "originate_rate", "weight", "dial_template")
    column_details_list = column_list + ("ami_user", "agent", "dialplan_version",
                                         "dialplan_confirmed", "media_dir", "last_error",
                                         "created_at")
    column_labels = {"down_since": "State", "originate_rate": "Originates/s (0: no limit)",
                     "media_dir": "MEDIA_DIR (its agent's)"}
    column_formatters = {"down_since": _down}
    column_default_sort = "name"
    column_sortable_list = ("name", "capacity")
    form_columns = ("name", "ami_host", "ami_port", "ami_user", "ami_secret", "agi_host",
                    "dial_template", "capacity", "originate_rate", "weight", "enabled", "agent")
    form_overrides = {"ami_secret": fields.PasswordField}
    form_args = {
        "ami_port": {"validators": [validators.NumberRange(*pool.LIMITS["ami_port"])]},
        "capacity": {"validators": [validators.NumberRange(*pool.LIMITS["capacity"])]},
        "originate_rate": {"validators": [validators.NumberRange(*pool.LIMITS["originate_rate"])]},
        "weight": {"validators": [validators.NumberRange(*pool.LIMITS["weight"])]},
        "dial_template": {"label": "Dial template", "validators": [validators.Optional()],
                          "description": "Empty: DIAL_TEMPLATE of the dialer's settings."},
        "ami_secret": {"label": "AMI secret", "validators": [validators.Optional()],
                       "description": "Left empty when editing: the secret stays as it is."},
    }

    def _values(self, form) -> dict:
        values = {name: getattr(form, name).data for name in self.form_columns}
        if not values.get("ami_secret"):
            values.pop("ami_secret")
        return values

    def create_model(self, form):
        try:
            model = pool.add_pbx(self._values(form))
        except CallcastError as exc:
            flash(str(exc), "error")
            return False
        log.info("pbx added name=%s by=%s", model.name, current_user.username)
        return model

    def update_model(self, form, model):
        try:
            pool.update_pbx(model.id, self._values(form))
        except CallcastError as exc:
            flash(str(exc), "error")
            return False
        log.info("pbx changed name=%s by=%s", model.name, current_user.username)
        return True

    def on_form_prefill(self, form, id):
        form.ami_secret.data = ""

    def _set_enabled(self, ids, enabled: bool):
        if not is_admin():
            abort(403)
        names = [pool.set_enabled(i, enabled).name for i in ids[:100]]
        flash(f"{'enabled' if enabled else 'disabled'}: {', '.join(names)}", "success")

    @action("enable", "Enable", "Send new calls to the selected PBXs?")
    def action_enable(self, ids):
        self._set_enabled(ids, True)

    @action("disable", "Disable", "Send no new calls to the selected PBXs (calls up go on)?")
    def action_disable(self, ids):
        self._set_enabled(ids, False)
