"""app/logs.py: JSON lines with ids as fields, text lines naming the process, rotation."""

import dataclasses
import json
import logging

import pytest

from app.config import load_settings
from app.logs import ROTATE_BYTES, ROTATE_COUNT, build_handler


@pytest.fixture
def logger():
    log = logging.getLogger("callcast.test.logs")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def settings_with(tmp_path, **changes):
    return dataclasses.replace(load_settings({}), log_dir=tmp_path, **changes)


def test_it_writes_json_with_ids_as_fields(tmp_path, logger):
    logger.addHandler(build_handler(settings_with(tmp_path, log_format="json"), "dialer"))
    logger.info("dialed contact=%s", 3, extra={
        "campaign_id": 7, "contact_id": 3, "attempt": 1, "channel_id": "cc-7-3-1"})
    logging.LoggerAdapter(logger, {"uniqueid": "cc-7-3-1"}).info("agi request")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("tick failed", extra={"campaign_id": 7})
    lines = (tmp_path / "dialer.log").read_text().splitlines()
    first, adapted, second = (json.loads(line) for line in lines)
    assert adapted["uniqueid"] == "cc-7-3-1"
    assert first["msg"] == "dialed contact=3"
    assert first["service"] == "dialer"
    assert first["level"] == "INFO"
    assert first["logger"] == "callcast.test.logs"
    assert (first["campaign_id"], first["contact_id"], first["attempt"], first["channel_id"]) == (
        7, 3, 1, "cc-7-3-1")
    assert first["ts"].endswith("+00:00")
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exc"]


def test_it_writes_text_lines_naming_the_process(tmp_path, logger):
    logger.addHandler(build_handler(settings_with(tmp_path, log_format="text"), "lifecycle"))
    logger.warning("campaign=%s draining", 4)
    line = (tmp_path / "lifecycle.log").read_text().strip()
    assert " WARNING lifecycle[" in line
    assert line.endswith("callcast.test.logs: campaign=4 draining")


def test_it_rotates_at_10_mb_keeping_5_files(tmp_path, logger):
    handler = build_handler(settings_with(tmp_path, log_format="text"), "web")
    assert (handler.maxBytes, handler.backupCount) == (ROTATE_BYTES, ROTATE_COUNT) == (
        10 * 1024 * 1024, 5)
    handler.maxBytes = 2000  # same handler, small enough to rotate in a test
    logger.addHandler(handler)
    for i in range(200):
        logger.info("line %04d %s", i, "x" * 60)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["web.log", "web.log.1", "web.log.2", "web.log.3", "web.log.4", "web.log.5"]
    assert "line 0199" in (tmp_path / "web.log").read_text()
