"""Settings for the outbound tests: short timeouts and backoffs, read afresh."""

from __future__ import annotations

import pytest

from app.config import get_settings


@pytest.fixture
def outbound_env(monkeypatch):
    """Set environment variables for the test and make get_settings() read them."""

    def setenv(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))
        get_settings.cache_clear()
        return get_settings()

    setenv(WEBHOOK_TIMEOUT_SECONDS="0.5", WEBHOOK_BACKOFF_MS="50", WEBHOOK_BACKOFF_MAX_MS="400",
           WEBHOOK_MAX_ATTEMPTS="4", WEBHOOK_BATCH_SECONDS="10")
    yield setenv
    monkeypatch.undo()
    get_settings.cache_clear()
