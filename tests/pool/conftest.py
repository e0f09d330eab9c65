"""The console's signed-in clients, shared with tests/admin."""

from tests.admin.conftest import admin_client, no_csrf, operator_client, viewer_client  # noqa: F401
