"""Sign-in for the back office: hashed passwords, roles, rate-limited failures.

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
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect
from peewee import fn
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.errors import ValidationError
from app.models import ROLES, LoginFailure, User, utcnow

log = logging.getLogger(__name__)

ADMIN, OPERATOR, VIEWER = ROLES
# failed sign-ins allowed per window before the door shuts for that window
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDR = 20
FAILURE_WINDOW = timedelta(minutes=15)
# endpoints an anonymous visitor may reach
PUBLIC_ENDPOINTS = frozenset({"auth.login", "static", "core.health", "core.metrics"})

bp = Blueprint("auth", __name__, template_folder="admin/templates")
login_manager = LoginManager()
csrf = CSRFProtect()


class SignedIn(UserMixin):
    """The session's user; its id embeds a hash fragment so a password change signs out."""

    def __init__(self, user: User):
        self.user_id = user.id
        self.username = user.username
        self.role = user.role
        self._session_id = f"{user.id}:{user.password_hash[-16:]}"

    def get_id(self):
        return self._session_id

    @property
    def can_act(self) -> bool:
        """Operators and admins change things; viewers only look."""
        return self.role in (ADMIN, OPERATOR)

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


# --- passwords and users -------------------------------------------------------


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def validate_new_user(username: str, role: str, password: str) -> None:
    """Raises: ValidationError naming what is wrong."""
    if not username or len(username) > 64 or not username.isprintable() or " " in username:
        raise ValidationError("user name must be 1-64 printable characters without spaces")
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if len(password or "") < 8:
        raise ValidationError("password must have at least 8 characters")


def create_user(username: str, role: str, password: str) -> User:
    """Create a user with a hashed password.

    Raises:
        ValidationError: bad name, role or password, or the name is taken.
    """
    validate_new_user(username, role, password)
    if User.select().where(User.username == username).exists():
        raise ValidationError(f"user {username!r} already exists")
    user = User.create(username=username, role=role, password_hash=hash_password(password))
    log.info("user created user=%s role=%s", username, role)
    return user


def set_password(user_id: int, password: str) -> None:
    """Raises: ValidationError when the password is too short."""
    if len(password or "") < 8:
        raise ValidationError("password must have at least 8 characters")
    User.update(password_hash=hash_password(password)).where(User.id == user_id).execute()


# --- rate limiting ------------------------------------------------------------


def recent_failures(username: str, remote_addr: str, now) -> tuple[int, int]:
    """Failed sign-ins inside the window: (for this user name, from this address)."""
    since = now - FAILURE_WINDOW
    by_user = (
        LoginFailure.select(fn.COUNT(LoginFailure.id))
        .where((LoginFailure.username == username) & (LoginFailure.at >= since))
        .scalar()
    )
    by_addr = (
        LoginFailure.select(fn.COUNT(LoginFailure.id))
        .where((LoginFailure.remote_addr == remote_addr) & (LoginFailure.at >= since))
        .scalar()
    )
    return by_user or 0, by_addr or 0


def is_throttled(username: str, remote_addr: str, now) -> bool:
    by_user, by_addr = recent_failures(username, remote_addr, now)
    return by_user >= MAX_FAILURES_PER_USER or by_addr >= MAX_FAILURES_PER_ADDR


def authenticate(username: str, password: str, remote_addr: str, now) -> User | None:
    """The active user with that name and password, or None (and the failure is recorded).

    A throttled name or address fails without checking the password, so
    guessing gains nothing while the window lasts.
    """
    username = (username or "")[:64]
    remote_addr = (remote_addr or "")[:64]
    if is_throttled(username, remote_addr, now):
        log.warning("sign-in refused, rate limited user=%s addr=%s", username, remote_addr)
        LoginFailure.create(username=username, remote_addr=remote_addr, at=now)
        return None
    user = User.get_or_none((User.username == username) & (User.active == True))  # noqa: E712
    if user is not None and check_password_hash(user.password_hash, password or ""):
        User.update(last_login_at=now).where(User.id == user.id).execute()
        log.info("sign-in user=%s addr=%s", username, remote_addr)
        return user
    LoginFailure.create(username=username, remote_addr=remote_addr, at=now)
    log.warning("sign-in failed user=%s addr=%s", username, remote_addr)
    return None


# --- Flask wiring ---------------------------------------------------------------


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


@login_manager.user_loader
def load_user(session_id: str):
    user_id, _, fragment = (session_id or "").partition(":")
    if not user_id.isdigit():
        return None
    user = User.get_or_none((User.id == int(user_id)) & (User.active == True))  # noqa: E712
    if user is None or user.password_hash[-16:] != fragment:
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
        flash("Wrong user name or password, or too many failed attempts: try again later.", "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, next_url=next_url or ""), status


@bp.get("/")
def home():
    return redirect(url_for("admin.index"))


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


def require_role(*roles):
    """Abort with 403 unless the signed-in user has one of ``roles``."""
    if not current_user.is_authenticated:
        abort(401)
    if current_user.role not in roles:
        abort(403)


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
    if app.config.get("SECRET_KEY") in (None, "", "dev-only-change-me") and not app.testing:
        log.warning("SECRET_KEY is the development default: set SECRET_KEY in production")
