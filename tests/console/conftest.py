"""The console's tests use the back office's signed-in clients."""

from tests.admin.conftest import admin_client, no_csrf, operator_client, viewer_client  # noqa: F401
