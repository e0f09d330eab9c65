"""One logging set-up for every process: text in development, JSON in production.

Ids (campaign, contact, attempt, channel) passed as ``extra=`` or through a
LoggerAdapter become JSON fields. Every line names its process (``service``:
web, dialer, lifecycle, scheduler, agi, ...).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import datetime, timezone

ID_FIELDS = ("campaign_id", "contact_id", "attempt", "channel_id", "uniqueid", "peer")
ROTATE_BYTES = 10 * 1024 * 1024
ROTATE_COUNT = 5


class ServiceFilter(logging.Filter):
    """Stamp every record with the process it comes from."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def filter(self, record):
        if not hasattr(record, "service"):
            record.service = self.service
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        doc = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "service": getattr(record, "service", None),
            "logger": record.name,
            "process": record.processName if record.processName != "MainProcess" else None,
            "pid": record.process,
            "thread": record.threadName if record.threadName != "MainThread" else None,
            "msg": record.getMessage(),
        }
        for field in ID_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                doc[field] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(
            {k: v for k, v in doc.items() if v is not None}, ensure_ascii=False, default=str
        )


TEXT_FORMAT = "%(asctime)s %(levelname)s %(service)s[%(process)d] %(name)s: %(message)s"


def build_handler(settings, process: str) -> logging.Handler:
    """The handler ``configure_logging`` installs: stderr, or a rotating file in LOG_DIR."""
    formatter = JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    if settings.log_dir:
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            settings.log_dir / f"{process}.log", maxBytes=ROTATE_BYTES, backupCount=ROTATE_COUNT,
            encoding="utf-8",
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(ServiceFilter(process))
    return handler


def configure_logging(settings, process: str) -> None:
    """Configure the root logger for ``process`` (web, dialer, agi, ...)."""
    handler = build_handler(settings, process)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    logging.getLogger("pika").setLevel(logging.WARNING)
