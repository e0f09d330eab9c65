"""Configuration: defaults that run with nothing set, typed errors naming the variable."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import ROOT, Settings, load_settings, secret_key_problem
from app.errors import ConfigError

CONFIG_SOURCE = (ROOT / "app" / "config.py").read_text()
# Every variable config.py reads goes through env_<type>(env, "NAME", ...).
READ_NAMES = re.findall(r'env_\w+\(\s*env,\s*"([A-Z0-9_]+)"', CONFIG_SOURCE)
# pbxsim (demo and tests) reads its own, from the same .env
PBXSIM_SOURCE = (ROOT / "pbxsim" / "__main__.py").read_text()
PBXSIM_NAMES = re.findall(r'_env_\w+\(\s*environ,\s*"([A-Z0-9_]+)"', PBXSIM_SOURCE)
# the Procfile (make run) reads some of its own: ${NAME:-default}
PROCFILE_DEFAULTS = dict(re.findall(r"\$\{([A-Z0-9_]+):-([^}]*)\}",
                                    (ROOT / "Procfile").read_text()))


def parse_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value
    return values


def test_it_runs_with_nothing_configured():
    settings = load_settings({})

    assert settings.database_url == f"sqlite:///{ROOT / 'var' / 'callcast.db'}"
    assert settings.is_sqlite
    assert settings.broker_url == "amqp://guest:guest@127.0.0.1:5672/%2F"
    assert (settings.ami_host, settings.ami_port) == ("127.0.0.1", 5038)
    assert (settings.agi_bind, settings.agi_port) == ("127.0.0.1", 4573)
    assert settings.log_format == "text"
    assert settings.session_cookie_secure is False
    assert settings.log_dir is None
    assert settings.transfer_contexts == ()  # a transfer dials numbers only


def test_it_reads_typed_values_from_the_environment():
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://callcast:pw@db.example:6543/callcast",
            "AGI_PORT": "14573",
            "AMI_TIMEOUT": "2.5",
            "SESSION_COOKIE_SECURE": "yes",
            "LOG_FORMAT": "JSON",
            "MEDIA_DIR": "/srv/media",
            "TRUSTED_PROXIES": "127.0.0.1, 10.1.0.0/16",
            "TRANSFER_CONTEXTS": "transfer-desk, sales_2",
        }
    )

    assert settings.database_url == "postgresql://callcast:pw@db.example:6543/callcast"
    assert not settings.is_sqlite
    assert settings.agi_port == 14573
    assert settings.ami_timeout == 2.5
    assert settings.session_cookie_secure is True
    assert settings.log_format == "json"
    assert settings.media_dir == Path("/srv/media")
    assert [str(n) for n in settings.trusted_proxies] == ["127.0.0.1/32", "10.1.0.0/16"]
    assert settings.transfer_contexts == ("transfer-desk", "sales_2")


def test_it_treats_an_empty_value_as_unset():
    assert load_settings({"AGI_PORT": "", "LOG_FORMAT": ""}) == load_settings({})


@pytest.mark.parametrize(
    "name, value",
    [
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "mysql://root@127.0.0.1/callcast"),
        ("DATABASE_URL", "postgresql://postgres@127.0.0.1:notaport/callcast"),
        ("DATABASE_URL", "postgresql:///callcast"),
        ("DATABASE_URL", "sqlite://"),
        ("BROKER_URL", "redis://127.0.0.1:6379/0"),
        ("BROKER_URL", "amqp://guest:guest@127.0.0.1:five/%2F"),
        ("AGI_PORT", "4573x"),
        ("AGI_PORT", "70000"),
        ("AMI_PORT", "-1"),
        ("WEB_PORT", "eight thousand"),
        ("AGI_BATCH_MAX", "0"),
        ("AMI_TIMEOUT", "soon"),
        ("SESSION_COOKIE_SECURE", "maybe"),
        ("LOG_FORMAT", "xml"),
        ("SQLITE_SYNCHRONOUS", "sometimes"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("TRUSTED_PROXIES", "127.0.0.1, nginx"),
        ("TRANSFER_CONTEXTS", "from-internal, s@from-internal-admin"),
        ("TRANSFER_CONTEXTS", "callcast-report"),
        ("AGI_ALLOWED_PEERS", "127.0.0.1, asterisk.example.net"),
        ("AGI_BACKLOG", "0"),
        ("AGI_IDLE_TIMEOUT", "never"),
    ],
)
def test_it_names_the_variable_in_every_typed_error(name, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value})

    assert name in str(caught.value)


def test_it_documents_every_variable_in_env_example():
    documented = parse_env_file(ROOT / ".env.example")

    assert {n for n in PBXSIM_NAMES if n.startswith("PBXSIM_")} == {
        "PBXSIM_MODEL", "PBXSIM_SPEED", "PBXSIM_MAX_CHANNELS", "PBXSIM_OUTBOUND",
        "PBXSIM_SOUNDS_DIR"}
    assert sorted(documented) == sorted(set(READ_NAMES) | set(PBXSIM_NAMES)
                                        | set(PROCFILE_DEFAULTS))
    assert len(READ_NAMES) == len(dataclasses.fields(Settings))


def test_it_documents_the_procfiles_own_variables_with_its_defaults():
    documented = parse_env_file(ROOT / ".env.example")
    own = set(PROCFILE_DEFAULTS) - set(READ_NAMES) - set(PBXSIM_NAMES)

    assert own == {"DIALER_METRICS_PORT", "LIFECYCLE_METRICS_PORT"}
    assert {name: documented.get(name) for name in own} == {
        name: PROCFILE_DEFAULTS[name] for name in own}


def test_it_accepts_the_values_written_in_env_example():
    documented = parse_env_file(ROOT / ".env.example")
    from_example = load_settings(documented)
    defaults = load_settings({})

    # Same settings as the built-in defaults; paths are written relative to the root.
    for field in dataclasses.fields(Settings):
        ours, theirs = getattr(from_example, field.name), getattr(defaults, field.name)
        if isinstance(ours, Path):
            ours = ROOT / ours
        if field.name == "database_url":
            ours = "sqlite:///" + str(ROOT / ours.removeprefix("sqlite:///"))
        assert ours == theirs, field.name


def run_cli(*args, **env):
    """Run a command from the repository root with extra environment variables."""
    return subprocess.run(
        args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


BIN = Path(sys.executable).parent
FLASK = str(BIN / "flask")

# Each long-running process of the Procfile, as it starts (the bad value makes
# it stop before it would listen or consume).
PROCESSES = {
    "web/flask": [FLASK, "--app", "app", "db", "upgrade"],
    "agi": [sys.executable, "-m", "agi"],
    "worker": [str(BIN / "dramatiq"), "tasks", "--processes", "1", "--threads", "1"],
    "scheduler": [str(BIN / "periodiq"), "tasks"],
}


@pytest.mark.parametrize(
    "process, name, value",
    [
        ("web/flask", "DATABASE_URL", "mysql://root@127.0.0.1/callcast"),
        ("agi", "AGI_PORT", "not-a-port"),
        ("worker", "BROKER_URL", "redis://127.0.0.1:6379/0"),
        ("scheduler", "DATABASE_URL", "postgresql://postgres@127.0.0.1:notaport/x"),
    ],
)
def test_it_stops_a_process_started_with_a_bad_value(process, name, value):
    result = run_cli(*PROCESSES[process], **{name: value})

    assert result.returncode != 0
    assert name in result.stderr + result.stdout


def test_it_upgrades_with_the_flask_command_and_a_second_run_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.db"

    first = run_cli(FLASK, "db", "upgrade", DATABASE_URL=url)  # FLASK_APP from .flaskenv
    second = run_cli(FLASK, "--app", "app", "db", "upgrade", DATABASE_URL=url)

    assert first.returncode == 0, first.stderr
    assert "applied:" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "schema is up to date" in second.stdout


@pytest.mark.parametrize(
    "secret, problem",
    [
        ("dev-only-change-me", "published"),
        ("change-me-secret", "published"),
        ("short-but-not-published", "at least 32 characters"),
        ("x" * 32, None),
    ],
)
def test_it_names_what_is_wrong_with_a_secret_key(secret, problem):
    found = secret_key_problem(secret)
    assert (found is None) if problem is None else (problem in found)


def test_it_refuses_to_serve_production_on_a_published_secret_key():
    def start(**extra):
        env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEMO")}
        return subprocess.run(
            [sys.executable, "-c", "import app; app.create_app()"], cwd=ROOT,
            env={**env, **extra}, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=60,
        )

    refused = start()
    assert refused.returncode != 0
    assert "SECRET_KEY is a default published with Callcast" in refused.stderr
    assert "DEMO=1" in refused.stderr
    assert "at least 32 characters" in start(SECRET_KEY="short one").stderr
    assert start(DEMO="1").returncode == 0
    assert start(SECRET_KEY="y" * 40).returncode == 0
