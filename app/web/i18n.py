"""The console's language: Flask-Babel, the user's choice first, then Accept-Language.

Templates get the formatting of ``app.presenting`` as filters in the request's
language (``local_time``, ``duration``, ``percent``, ``number``); the language
menu posts to ``/language`` (CSRF-protected like every form).
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from flask_babel import Babel, get_locale
from flask_login import current_user
from peewee import PeeweeException

from app import presenting
from app.db import write_transaction
from app.models import User

bp = Blueprint("i18n", __name__)
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def select_locale() -> str:
    """The signed-in user's language, else the best of Accept-Language, else English."""
    try:
        chosen = current_user.locale if current_user.is_authenticated else ""
    except PeeweeException:  # the database is away: the browser's language will do
        chosen = ""
    if chosen in presenting.LOCALES:
        return chosen
    return request.accept_languages.best_match(presenting.LOCALES) or presenting.DEFAULT_LOCALE


def locale() -> str:
    """This request's language code ("en" or "es")."""
    found = get_locale()
    return found.language if found is not None else presenting.DEFAULT_LOCALE


@bp.post("/language")
def choose_language():
    """Store the signed-in user's language (empty: follow the browser) and go back."""
    if not current_user.is_authenticated:
        abort(403)
    wanted = request.form.get("locale", "")
    if wanted and wanted not in presenting.LOCALES:
        abort(400)
    with write_transaction():
        User.update(locale=wanted).where(User.id == current_user.user_id).execute()
    back = request.form.get("next", "")
    # only a path of this site: never an open redirect
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("admin.index")
    return redirect(back)


def init_i18n(app) -> None:
    """Babel on ``app``, the language route, and the formatting filters."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(presenting.TRANSLATIONS_DIR))
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.jinja_env.filters.update(
        local_time=lambda value, zone=None: presenting.local_time(value, zone, locale()),
        duration=lambda value: presenting.duration(value, locale()),
        percent=lambda value: presenting.percent(value, locale()),
        number=lambda value: presenting.number(value, locale()),
    )
    app.jinja_env.globals.update(console_locale=locale, language_names=LANGUAGE_NAMES)
