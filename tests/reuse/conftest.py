"""The API's token fixtures, for the reuse tests that drive /api/v1 too."""

from tests.api.conftest import api, reader, tokens  # noqa: F401
