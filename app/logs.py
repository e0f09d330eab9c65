"""One logging set-up for every process: text in development, JSON in production.

Ids (campaign, contact, attempt, channel) passed as ``extra=`` or through a
LoggerAdapter become JSON fields.
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


class JsonFormatter(logging.Formatter):
    def format(self, record):
        doc = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "process": record.processName if record.processName != "MainProcess" else None,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        for field in ID_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                doc[field] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps({k: v for k, v in doc.items() if v is not None}, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d] %(message)s"


def configure_logging(settings, process: str) -> None:
    """Configure the root logger for ``process`` (web, dialer, agi, ...)."""
    formatter = JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    if settings.log_dir:
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            settings.log_dir / f"{process}.log", maxBytes=ROTATE_BYTES, backupCount=ROTATE_COUNT
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    logging.getLogger("pika").setLevel(logging.WARNING)
