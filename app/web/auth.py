"""Sign-in for the back office: sessions, the login page, CSRF, public endpoints.

Roles: admin (everything, users too), operator (campaigns, lists, do-not-call),
viewer (read-only). Every URL except the sign-in page, static files, /health
and /metrics needs a signed-in user; CSRF protects every form and action.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.clock import utcnow
from app.models import User
from app.users import ADMIN, OPERATOR, authenticate, end_sessions

log = logging.getLogger(__name__)

# endpoints an anonymous visitor may reach
# (admin.static: Flask-Admin's stock CSS and JS, which the sign-in page itself uses)
PUBLIC_ENDPOINTS = frozenset(
    {"auth.login", "static", "admin.static", "core.health", "core.metrics"}
)

# the JSON API (app.web.api): tokens, not sessions
API_PREFIX = "/api/"

bp = Blueprint("auth", __name__, template_folder="admin/templates")
login_manager = LoginManager()
csrf = CSRFProtect()


class SignedIn(UserMixin):
    """The session's user; its id carries the user's session version and a hash fragment,
    so sign-out and a password change end every older cookie."""

    def __init__(self, user: User):
        self.user_id = user.id
        self.username = user.username
        self.role = user.role
        self.locale = user.locale
        self._session_id = f"{user.id}:{user.session_version}:{user.password_hash[-16:]}"

    def get_id(self):
        return self._session_id

    @property
    def can_act(self) -> bool:
        """Operators and admins change things; viewers only look."""
        return self.role in (ADMIN, OPERATOR)

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


class LoginForm(FlaskForm):
    username = StringField(lazy_gettext("User name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(), Length(max=1024)])


@login_manager.user_loader
def load_user(session_id: str):
    user_id, _, rest = (session_id or "").partition(":")
    if not user_id.isdigit() or len(user_id) > 18:
        return None
    user = User.get_or_none((User.id == int(user_id)) & (User.active == True))  # noqa: E712
    if user is None or SignedIn(user).get_id() != session_id:
        return None
    return SignedIn(user)


def safe_next(target: str | None) -> str:
    """Only a path on this site; anything else goes to the admin home."""
    default = url_for("admin.index")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    next_url = request.values.get("next")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(next_url))
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data, request.remote_addr, utcnow())
        if user is not None:
            login_user(SignedIn(user))
            return redirect(safe_next(next_url))
        flash(gettext("Wrong user name or password, or too many failed attempts: try again later."), "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, next_url=next_url or ""), status


@bp.get("/")
def home():
    return redirect(url_for("admin.index"))


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        end_sessions(current_user.user_id)
    logout_user()
    return redirect(url_for("auth.login"))


def init_auth(app) -> None:
    """Sign-in, CSRF and the 'everything needs a user' gate."""
    app.config.setdefault("SESSION_PROTECTION", "strong")
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config.get("SESSION_COOKIE_SECURE", False))
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=12))
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the session bounds the token
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in."
    csrf.init_app(app)
    app.register_blueprint(bp)

    @app.before_request
    def _require_sign_in():
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if request.path.startswith(API_PREFIX):
            return None  # the API checks its own Bearer tokens; a cookie never signs it in
        if current_user.is_authenticated:
            return None
        # every other URL, including downloads and JSON, shows the sign-in page
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        log.warning("CSRF rejected path=%s reason=%s", request.path, exc.description)
        return render_template("auth/csrf.html", reason=exc.description), 400

    # anonymous visitors meet the sign-in page before the CSRF check, but after
    # the per-request database connection opens
    funcs = app.before_request_funcs.setdefault(None, [])
    funcs.remove(_require_sign_in)
    csrf_index = next(
        (i for i, f in enumerate(funcs) if getattr(f, "__name__", "") == "csrf_protect"),
        len(funcs),
    )
    funcs.insert(csrf_index, _require_sign_in)
