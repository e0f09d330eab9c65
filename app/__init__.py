"""Callcast: voice-broadcast campaigns on Asterisk.

Importing ``app`` costs only the core; the web layer loads inside create_app.
"""


def create_app(test_config=None):
    """Build the Flask application (back office, /health, /metrics)."""
    from app.web import build_app

    return build_app(test_config)
