"""Every setting, read from the environment in one place.

Only this module reads ``os.environ``. A malformed value raises ``ConfigError``
naming the variable, so a process with a bad setting stops at start.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from app.envreaders import (
    env_addresses,
    env_bool,
    env_breaker_calls,
    env_choice,
    env_contexts,
    env_dial_template,
    env_float,
    env_int,
    env_networks,
    env_path,
    env_port,
    env_str,
    env_url,
)
from app.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"

DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql"}
BROKER_SCHEMES = {"amqp", "amqps"}
LOG_FORMATS = ("text", "json")
# secrets published in this repository: a production process refuses them
PUBLISHED_SECRET_KEYS = frozenset({"dev-only-change-me", "change-me-secret"})
MIN_SECRET_KEY_LENGTH = 32
PUBLISHED_CALL_TOKEN_SECRETS = frozenset({"dev-only-call-token-secret", "change-me-call-token"})


@dataclass(frozen=True)
class Settings:
    # storage
    database_url: str
    sqlite_synchronous: str
    media_dir: Path
    # the text-to-speech engine (app.messages.tts): "" is espeak-ng; else a command line
    tts_command: str
    # Asterisk's stock sounds, for the console's message preview (app.messages.preview)
    asterisk_sounds_dir: Path
    export_dir: Path
    export_retention_days: int
    # broker
    broker_url: str
    rabbitmq_management_url: str
    # Asterisk manager interface
    ami_host: str
    ami_port: int
    ami_user: str
    ami_secret: str
    ami_timeout: float
    # FastAGI daemon
    agi_bind: str
    agi_port: int
    agi_host: str
    agi_fallback_host: str
    agi_fallback_port: int
    agi_metrics_port: int
    agi_journal_path: Path
    agi_batch_max: int
    agi_batch_wait_ms: int
    agi_read_timeout: float
    agi_idle_timeout: float
    agi_max_connections: int
    agi_max_peer_connections: int
    agi_allowed_peers: tuple
    agi_backlog: int
    agi_watchdog_stale_seconds: float
    # dialplan and dialing
    dial_template: str
    transfer_contexts: tuple
    breaker_first_calls: int
    breaker_run_calls: int
    dialplan_path: Path
    dial_tick_ms: int
    global_max_channels: int
    originates_per_second: int
    max_call_seconds: int
    drain_max_seconds: int
    # web and processes
    secret_key: str
    call_token_secret: str
    demo: bool
    web_port: int
    metrics_port: int
    metrics_bind: str
    session_cookie_secure: bool
    trusted_proxies: tuple
    health_token: str
    health_cache_seconds: float
    heartbeat_stale_seconds: int
    log_format: str
    log_level: str
    log_dir: Path | None
    # webhooks and mail (app.outbound)
    webhook_timeout: float
    webhook_max_attempts: int
    webhook_backoff_ms: int
    webhook_backoff_max_ms: int
    webhook_batch_seconds: int
    public_url: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_user: str
    smtp_password: str
    smtp_timeout: float
    mail_from: str
    mail_to: tuple
    mail_attach_max_bytes: int
    mail_attach_pdf: bool
    mail_max_attempts: int

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(env=None) -> Settings:
    """Build Settings from an environment mapping (default: the process's).

    Raises:
        ConfigError: a variable is malformed; the message names it.
    """
    env = os.environ if env is None else env
    return Settings(**_storage(env), **_telephony(env), **_processes(env), **_outbound(env))


def _storage(env) -> dict:
    """Database, files and broker."""
    return dict(
        database_url=env_url(
            env, "DATABASE_URL", f"sqlite:///{VAR / 'callcast.db'}", DATABASE_SCHEMES
        ),
        sqlite_synchronous=env_choice(
            env, "SQLITE_SYNCHRONOUS", "full", ("off", "normal", "full", "extra")
        ),
        media_dir=env_path(env, "MEDIA_DIR", VAR / "media"),
        tts_command=env_str(env, "TTS_COMMAND", ""),
        asterisk_sounds_dir=env_path(env, "ASTERISK_SOUNDS_DIR",
                                     Path("/usr/share/asterisk/sounds")),
        export_dir=env_path(env, "EXPORT_DIR", VAR / "exports"),
        export_retention_days=env_int(env, "EXPORT_RETENTION_DAYS", 90, minimum=1),
        broker_url=env_url(
            env, "BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F", BROKER_SCHEMES
        ),
        rabbitmq_management_url=env_str(
            env, "RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672"
        ),
    )


def _telephony(env) -> dict:
    """AMI, the FastAGI daemons and dialing."""
    return dict(
        ami_host=env_str(env, "AMI_HOST", "127.0.0.1"),
        ami_port=env_port(env, "AMI_PORT", 5038),
        ami_user=env_str(env, "AMI_USER", "callcast"),
        ami_secret=env_str(env, "AMI_SECRET", "callcast"),
        ami_timeout=env_float(env, "AMI_TIMEOUT", 5.0, minimum=0.1),
        agi_bind=env_str(env, "AGI_BIND", "127.0.0.1"),
        agi_port=env_port(env, "AGI_PORT", 4573),
        agi_host=env_str(env, "AGI_HOST", "127.0.0.1"),
        agi_fallback_host=env_str(env, "AGI_FALLBACK_HOST", ""),
        agi_fallback_port=env_port(env, "AGI_FALLBACK_PORT", 4574),
        agi_metrics_port=env_port(env, "AGI_METRICS_PORT", 9101),
        agi_journal_path=env_path(env, "AGI_JOURNAL_PATH", VAR / "agi-journal.jsonl"),
        agi_batch_max=env_int(env, "AGI_BATCH_MAX", 500, minimum=1),
        agi_batch_wait_ms=env_int(env, "AGI_BATCH_WAIT_MS", 2, minimum=0),
        agi_read_timeout=env_float(env, "AGI_READ_TIMEOUT", 5.0, minimum=0.05),
        agi_idle_timeout=env_float(env, "AGI_IDLE_TIMEOUT", 1.0, minimum=0.05),
        agi_max_connections=env_int(env, "AGI_MAX_CONNECTIONS", 2000, minimum=1),
        agi_max_peer_connections=env_int(env, "AGI_MAX_PEER_CONNECTIONS", 1000, minimum=1),
        agi_allowed_peers=env_networks(env, "AGI_ALLOWED_PEERS", "127.0.0.1, ::1"),
        agi_backlog=env_int(env, "AGI_BACKLOG", 1024, minimum=1, maximum=65535),
        agi_watchdog_stale_seconds=env_float(env, "AGI_WATCHDOG_STALE_SECONDS", 3.0,
                                             minimum=0.5),
        dial_template=env_dial_template(env, "DIAL_TEMPLATE", "Local/{number}@pstn"),
        transfer_contexts=env_contexts(env, "TRANSFER_CONTEXTS"),
        breaker_first_calls=env_breaker_calls(env, "DIAL_BREAKER_FIRST", 5),
        breaker_run_calls=env_breaker_calls(env, "DIAL_BREAKER_RUN", 20),
        dialplan_path=env_path(env, "DIALPLAN_PATH", VAR / "asterisk" / "callcast.conf"),
        dial_tick_ms=env_int(env, "DIAL_TICK_MS", 1000, minimum=10),
        global_max_channels=env_int(env, "GLOBAL_MAX_CHANNELS", 0, minimum=0),
        originates_per_second=env_int(env, "ORIGINATES_PER_SECOND", 0, minimum=0),
        max_call_seconds=env_int(env, "MAX_CALL_SECONDS", 600, minimum=1),
        drain_max_seconds=env_int(env, "DRAIN_MAX_SECONDS", 3600, minimum=1),
    )


def _processes(env) -> dict:
    """The web process, metrics, heartbeats and logs."""
    log_dir = env_str(env, "LOG_DIR", "")
    return dict(
        secret_key=env_str(env, "SECRET_KEY", "dev-only-change-me"),
        call_token_secret=env_str(env, "CALL_TOKEN_SECRET", "dev-only-call-token-secret"),
        demo=env_bool(env, "DEMO", False),
        web_port=env_port(env, "WEB_PORT", 8000),
        metrics_port=env_port(env, "METRICS_PORT", 9191),
        metrics_bind=env_str(env, "METRICS_BIND", "127.0.0.1"),
        session_cookie_secure=env_bool(env, "SESSION_COOKIE_SECURE", False),
        trusted_proxies=env_networks(env, "TRUSTED_PROXIES"),
        health_token=env_str(env, "HEALTH_TOKEN", ""),
        health_cache_seconds=env_float(env, "HEALTH_CACHE_SECONDS", 5.0, minimum=0.0, maximum=60.0),
        heartbeat_stale_seconds=env_int(env, "HEARTBEAT_STALE_SECONDS", 90, minimum=1),
        log_format=env_choice(env, "LOG_FORMAT", "text", LOG_FORMATS),
        log_level=env_str(env, "LOG_LEVEL", "INFO").upper(),
        log_dir=Path(log_dir) if log_dir else None,
    )


SMTP_SECURITY = ("starttls", "ssl", "none")


def _outbound(env) -> dict:
    """Webhook deliveries and the campaign-closed mail (SMTP; an empty host turns mail off)."""
    public_url = env_str(env, "PUBLIC_URL", "")
    if public_url and (urlparse(public_url).scheme not in ("http", "https")
                       or not urlparse(public_url).hostname):
        raise ConfigError(f"PUBLIC_URL must be an http(s) URL, got {public_url[:80]!r}")
    return dict(
        webhook_timeout=env_float(env, "WEBHOOK_TIMEOUT_SECONDS", 5.0, minimum=0.1, maximum=60.0),
        webhook_max_attempts=env_int(env, "WEBHOOK_MAX_ATTEMPTS", 8, minimum=1, maximum=30),
        webhook_backoff_ms=env_int(env, "WEBHOOK_BACKOFF_MS", 10_000, minimum=1),
        webhook_backoff_max_ms=env_int(env, "WEBHOOK_BACKOFF_MAX_MS", 3_600_000, minimum=1),
        webhook_batch_seconds=env_int(env, "WEBHOOK_BATCH_SECONDS", 10, minimum=1, maximum=3600),
        public_url=public_url.rstrip("/"),
        smtp_host=env_str(env, "SMTP_HOST", ""),
        smtp_port=env_port(env, "SMTP_PORT", 587),
        smtp_security=env_choice(env, "SMTP_SECURITY", "starttls", SMTP_SECURITY),
        smtp_user=env_str(env, "SMTP_USER", ""),
        smtp_password=env_str(env, "SMTP_PASSWORD", ""),
        smtp_timeout=env_float(env, "SMTP_TIMEOUT", 10.0, minimum=0.1, maximum=300.0),
        mail_from=env_addresses(env, "MAIL_FROM", "callcast@localhost")[0],
        mail_to=env_addresses(env, "MAIL_TO"),
        mail_attach_max_bytes=env_int(env, "MAIL_ATTACH_MAX_BYTES", 5_000_000, minimum=0),
        mail_attach_pdf=env_bool(env, "MAIL_ATTACH_PDF", False),
        mail_max_attempts=env_int(env, "MAIL_MAX_ATTEMPTS", 8, minimum=1, maximum=30),
    )


def secret_key_problem(secret: str) -> str | None:
    """Why ``secret`` must not sign production sessions, or None when it may."""
    if secret in PUBLISHED_SECRET_KEYS:
        return "SECRET_KEY is a default published with Callcast"
    if len(secret) < MIN_SECRET_KEY_LENGTH:
        return f"SECRET_KEY must have at least {MIN_SECRET_KEY_LENGTH} characters, got {len(secret)}"
    return None


def call_token_secret_problem(secret: str) -> str | None:
    """Why ``secret`` must not sign production call tokens, or None when it may.

    Whoever knows the secret can report outcomes of any call; the AGI daemons
    and the UserEvent recorder refuse to start on a bad one unless DEMO is on.
    """
    if secret in PUBLISHED_CALL_TOKEN_SECRETS:
        return "CALL_TOKEN_SECRET is a default published with Callcast"
    if len(secret) < MIN_SECRET_KEY_LENGTH:
        return (f"CALL_TOKEN_SECRET must have at least {MIN_SECRET_KEY_LENGTH} characters, "
                f"got {len(secret)}")
    return None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once. Tests call ``get_settings.cache_clear()``."""
    return load_settings()


def settings_or_exit() -> Settings:
    """get_settings() for a process entry point: a bad setting ends the process
    with one line naming the variable instead of a traceback."""
    try:
        return get_settings()
    except ConfigError as exc:
        raise SystemExit(f"callcast: configuration error: {exc}") from None
