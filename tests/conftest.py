"""Shared fixtures on the real services: app, client, db, broker, worker.

At session start (pytest_configure, before any test module imports
``tasks.broker``):

- RabbitMQ must answer, or the run stops with a message (never a skip);
- a throwaway vhost ``callcast-test-<epoch>-<hex>`` is created and BROKER_URL
  points at it, so parallel runs never share queues; it is deleted at the end;
- every path setting points under a session tmp dir and DATABASE_URL at a
  SQLite file there;
- PostgreSQL is probed on 127.0.0.1:5432 as user postgres; when it answers, a
  throwaway database ``callcast_test_<epoch>_<hex>`` is created. Every database
  test runs on SQLite and on PostgreSQL; without PostgreSQL its PostgreSQL run
  is reported as skipped, with the reason (``make test`` passes
  ``--postgres=require``: there a missing PostgreSQL stops the run).

Database fixtures:
    db        upgraded schema, parametrized over both engines
    empty_db  no schema at all (for migration tests), both engines
    sqlite_db upgraded schema, SQLite only
``pytest --postgres=off|auto|require`` chooses whether PostgreSQL is used.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import quote, urlparse, urlunparse

import pytest

VHOST_PREFIX = "callcast-test-"
PG_PREFIX = "callcast_test_"
# A session older than this is dead (each test has a 120 s timeout): its
# leftovers are swept by the next session.
STALE_SECONDS = 6 * 3600
PG_ADMIN = dict(host="127.0.0.1", port=5432, user="postgres", connect_timeout=3)
ENGINES = ("sqlite", "postgres")


@dataclass
class Session:
    tmpdir: str = ""
    broker_url: str = ""
    vhost: str = ""
    management_url: str = ""
    credentials: tuple = ("guest", "guest")
    vhost_via: str = ""  # "http" or "rabbitmqctl"
    pg_name: str = ""  # throwaway database name, "" when PostgreSQL is not used
    pg_note: str = ""
    pg_admin: object = None  # autocommit psycopg2 connection to pg_name
    engines: list = field(default_factory=lambda: ["sqlite"])  # those this session has


SESSION = Session()


def pytest_addoption(parser):
    parser.addoption(
        "--postgres",
        choices=("auto", "off", "require"),
        default="auto",
        help="run the database tests on PostgreSQL too: auto (when 127.0.0.1:5432 "
        "answers, else its runs are skipped), off (skipped), or require (fail when it "
        "does not answer; what make test passes)",
    )


# --- session start and end -----------------------------------------------


def pytest_configure(config):
    if hasattr(config, "workerinput"):  # pragma: no cover - no xdist here
        return
    import sys

    from app.config import get_settings, load_settings
    from app.errors import ConfigError

    if "tasks.broker" in sys.modules:
        pytest.exit(
            "tasks.broker was imported before the test vhost was set (by a conftest.py at "
            "module level?): import it inside fixtures or test modules instead",
            returncode=3,
        )
    try:
        base = load_settings()
    except ConfigError as exc:
        pytest.exit(f"bad configuration in the environment: {exc}", returncode=4)

    SESSION.tmpdir = tempfile.mkdtemp(prefix="callcast-test-")
    os.environ.update(
        DATABASE_URL=f"sqlite:///{SESSION.tmpdir}/callcast.db",
        MEDIA_DIR=os.path.join(SESSION.tmpdir, "media"),
        EXPORT_DIR=os.path.join(SESSION.tmpdir, "exports"),
        AGI_JOURNAL_PATH=os.path.join(SESSION.tmpdir, "agi-journal.jsonl"),
        DIALPLAN_PATH=os.path.join(SESSION.tmpdir, "asterisk", "callcast.conf"),
        # dramatiq subprocesses of the tests serve no Prometheus port (no fixed ports in tests)
        METRICS_PORT="0",
        # one secret for the dialer and the AGI processes of the session (they refuse a published one)
        CALL_TOKEN_SECRET=secrets.token_hex(32),
    )

    _start_rabbitmq_vhost(base)
    _start_postgres(config.getoption("postgres"))
    get_settings.cache_clear()


def pytest_unconfigure(config):
    if hasattr(config, "workerinput"):  # pragma: no cover
        return
    import sys

    broker_module = sys.modules.get("tasks.broker")
    if broker_module is not None:
        broker_module.broker.close()
    if SESSION.vhost:
        _delete_vhost(SESSION.vhost)
        SESSION.vhost = ""
    if SESSION.pg_name:
        _drop_postgres()
    if SESSION.tmpdir:
        shutil.rmtree(SESSION.tmpdir, ignore_errors=True)
        SESSION.tmpdir = ""


def pytest_report_header(config):
    return [_db_line(), f"rabbitmq vhost: {SESSION.vhost} ({SESSION.vhost_via})"]


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(_db_line())


def _db_line():
    if "postgres" in SESSION.engines:
        return f"database tests: SQLite + PostgreSQL ({SESSION.pg_name})"
    return f"database tests: SQLite only, PostgreSQL runs skipped ({SESSION.pg_note})"


# --- RabbitMQ ----------------------------------------------------------------


def _start_rabbitmq_vhost(settings):
    parsed = urlparse(settings.broker_url)
    host, port = parsed.hostname, parsed.port or 5672
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        pytest.exit(
            f"RabbitMQ does not answer on {host}:{port} ({exc}). The tests need a real "
            "broker: run `make test` (it installs and starts RabbitMQ) or start it with "
            "`rabbitmq-server -detached`.",
            returncode=3,
        )
    SESSION.credentials = (parsed.username or "guest", parsed.password or "guest")
    SESSION.management_url = settings.rabbitmq_management_url.rstrip("/")
    SESSION.vhost = f"{VHOST_PREFIX}{int(time.time())}-{secrets.token_hex(4)}"
    _sweep_stale_vhosts()
    try:
        _management("PUT", f"/api/vhosts/{quote(SESSION.vhost, safe='')}", {})
        _management(
            "PUT",
            f"/api/permissions/{quote(SESSION.vhost, safe='')}/{quote(SESSION.credentials[0])}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )
        SESSION.vhost_via = "http"
    except (OSError, urllib.error.URLError) as http_exc:
        # No management plugin: fall back to rabbitmqctl (needs root on this host).
        try:
            _rabbitmqctl("add_vhost", SESSION.vhost)
            _rabbitmqctl(
                "set_permissions", "-p", SESSION.vhost, SESSION.credentials[0], ".*", ".*", ".*"
            )
            SESSION.vhost_via = "rabbitmqctl"
        except (OSError, subprocess.CalledProcessError) as ctl_exc:
            vhost, SESSION.vhost = SESSION.vhost, ""
            pytest.exit(
                f"cannot create the test vhost {vhost}: management API "
                f"{SESSION.management_url}: {http_exc}; rabbitmqctl: {ctl_exc}",
                returncode=3,
            )
    SESSION.broker_url = urlunparse(parsed._replace(path="/" + quote(SESSION.vhost, safe="")))
    os.environ["BROKER_URL"] = SESSION.broker_url


def _management(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(SESSION.management_url + path, data=data, method=method)
    token = base64.b64encode(":".join(SESSION.credentials).encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def _rabbitmqctl(*args):
    subprocess.run(
        ["rabbitmqctl", "-q", *args],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def _delete_vhost(vhost):
    try:
        if SESSION.vhost_via == "http":
            _management("DELETE", f"/api/vhosts/{quote(vhost, safe='')}")
        else:
            _rabbitmqctl("delete_vhost", vhost)
    except Exception as exc:  # the run's result matters more than the clean-up
        print(f"warning: could not delete RabbitMQ vhost {vhost}: {exc}")


def _sweep_stale_vhosts():
    """Delete test vhosts left by sessions that died (older than STALE_SECONDS)."""
    try:
        vhosts = _management("GET", "/api/vhosts?columns=name")
    except Exception:
        return
    for item in vhosts or ():
        name = item.get("name", "")
        if _is_stale(name, VHOST_PREFIX, "-"):
            try:
                _management("DELETE", f"/api/vhosts/{quote(name, safe='')}")
            except Exception:
                pass  # another session swept it first


def _is_stale(name, prefix, sep):
    if not name.startswith(prefix):
        return False
    stamp = name[len(prefix) :].split(sep)[0]
    return stamp.isdigit() and time.time() - int(stamp) > STALE_SECONDS


# --- PostgreSQL --------------------------------------------------------------


def _start_postgres(mode):
    if mode == "off":
        SESSION.pg_note = "PostgreSQL turned off by --postgres=off"
        return
    import psycopg2

    try:
        admin = psycopg2.connect(dbname="postgres", **PG_ADMIN)
    except psycopg2.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        SESSION.pg_note = f"PostgreSQL not reachable on 127.0.0.1:5432 as postgres: {reason}"
        if mode == "require":
            pytest.exit(f"--postgres=require: {SESSION.pg_note}", returncode=3)
        return
    admin.autocommit = True
    name = f"{PG_PREFIX}{int(time.time())}_{secrets.token_hex(4)}"
    with admin.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (PG_PREFIX + "%",))
        for (stale,) in cur.fetchall():
            if _is_stale(stale, PG_PREFIX, "_"):
                cur.execute(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    SESSION.pg_name = name
    SESSION.pg_admin = psycopg2.connect(dbname=name, **PG_ADMIN)
    SESSION.pg_admin.autocommit = True
    SESSION.engines = ["sqlite", "postgres"]


def _drop_postgres():
    import psycopg2

    if SESSION.pg_admin is not None:
        SESSION.pg_admin.close()
        SESSION.pg_admin = None
    try:
        admin = psycopg2.connect(dbname="postgres", **PG_ADMIN)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{SESSION.pg_name}" WITH (FORCE)')
        admin.close()
    except Exception as exc:
        print(f"warning: could not drop PostgreSQL database {SESSION.pg_name}: {exc}")


def _reset_postgres():
    """Empty the session database: end stray connections, recreate the public schema."""
    with SESSION.pg_admin.cursor() as cur:
        # Connections left by threads of the previous test would block DROP SCHEMA.
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        cur.execute("DROP SCHEMA IF EXISTS public CASCADE")
        cur.execute("CREATE SCHEMA public")


# --- database fixtures ---------------------------------------------------------


def pytest_generate_tests(metafunc):
    # Both engines always: a missing one shows as a skip with its reason, never vanishes.
    if "db_engine" in metafunc.fixturenames:
        metafunc.parametrize("db_engine", ENGINES, indirect=True)


@pytest.fixture
def db_engine(request):
    """The engine of this run of a database test: "sqlite" or "postgres"."""
    if request.param not in SESSION.engines:
        pytest.skip(SESSION.pg_note)
    return request.param


def _database(engine, tmp_path, upgraded):
    from app.config import get_settings
    from app.db import database, init_database
    from app.migrations import upgrade

    if engine == "postgres":
        _reset_postgres()
        url = f"postgresql://postgres@127.0.0.1:5432/{SESSION.pg_name}"
    else:
        url = f"sqlite:///{tmp_path}/callcast.db"
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    db = init_database(url)
    if upgraded:
        with db.connection_context():
            upgrade(db)
    try:
        yield db
    finally:
        for handle in {id(db): db, id(database.obj): database.obj}.values():
            if handle is not None and not handle.is_closed():
                handle.close()
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous
        get_settings.cache_clear()


@pytest.fixture
def db(db_engine, tmp_path):
    """An upgraded database bound to ``app.db.database``, on each engine."""
    yield from _database(db_engine, tmp_path, upgraded=True)


@pytest.fixture
def empty_db(db_engine, tmp_path):
    """A database with no tables bound to ``app.db.database``, on each engine."""
    yield from _database(db_engine, tmp_path, upgraded=False)


@pytest.fixture
def sqlite_db(tmp_path):
    """An upgraded SQLite database bound to ``app.db.database``."""
    yield from _database("sqlite", tmp_path, upgraded=True)


# --- web -----------------------------------------------------------------------


@pytest.fixture
def app(request):
    """The Flask app on the test's database (``db``/``empty_db`` if requested, else SQLite).

    CSRF stays on; a test that posts forms without a token sets
    ``app.config["WTF_CSRF_ENABLED"] = False`` itself.
    """
    from app import create_app
    from app.config import get_settings
    from app.db import database

    for name in ("db", "empty_db", "sqlite_db"):
        if name in request.fixturenames or name == "sqlite_db":
            db = request.getfixturevalue(name)
            break
    flask_app = create_app(
        {"TESTING": True, "DATABASE_URL": get_settings().database_url}
    )
    # create_app binds a fresh Database for the same URL; keep the fixture's one
    # bound so the test and the app share connections and state.
    database.initialize(db)
    yield flask_app


@pytest.fixture
def client(app):
    return app.test_client()


# --- broker and worker ---------------------------------------------------------


@pytest.fixture
def broker():
    """The real RabbitmqBroker from tasks.broker, on this session's vhost, queues empty."""
    from tasks.broker import broker as real_broker

    # A fresh connection per test: RabbitMQ drops one whose heartbeats went
    # unanswered while an earlier long test kept this thread busy.
    del real_broker.connection
    real_broker.flush_all()
    yield real_broker
    del real_broker.connection
    real_broker.flush_all()


@pytest.fixture
def worker(broker):
    """A real Dramatiq worker consuming every declared queue, stopped after the test."""
    import dramatiq

    running = dramatiq.Worker(broker, worker_timeout=100)
    running.start()
    yield running
    running.stop()


# --- back-office users (the admin and the API tests) -----------------------------

@pytest.fixture
def users(app):
    """One user per role, named after it (password: tests.users_support.PASSWORD)."""
    from app.models import User
    from tests.users_support import password_hash

    return {
        role: User.create(username=role, role=role, password_hash=password_hash())
        for role in ("admin", "operator", "viewer")
    }
