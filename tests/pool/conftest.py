"""The console's signed-in clients, shared with tests/admin."""

from tests.admin.conftest import (  # noqa: F401
    admin_client, no_csrf, operator_client, viewer_client)
