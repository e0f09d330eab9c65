"""The client's address behind a reverse proxy, believed only from proxies we trust.

Behind nginx every request comes from 127.0.0.1: without this, sign-in
throttling and logs would see one client. ``X-Forwarded-For`` is honoured only
when the peer is in ``TRUSTED_PROXIES``; from anyone else it is ignored, so a
client cannot pick its own address.
"""

from __future__ import annotations

import ipaddress

from werkzeug.middleware.proxy_fix import ProxyFix


def is_trusted(address: str | None, networks) -> bool:
    """True when ``address`` lies in one of ``networks``."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in networks)


class TrustedProxies:
    """WSGI middleware: ProxyFix (one hop: X-Forwarded-For, -Proto) for trusted peers only."""

    def __init__(self, wsgi_app, networks):
        self.wsgi_app = wsgi_app
        self.networks = tuple(networks)
        self.behind_proxy = ProxyFix(wsgi_app, x_for=1, x_proto=1)

    def __call__(self, environ, start_response):
        if is_trusted(environ.get("REMOTE_ADDR"), self.networks):
            return self.behind_proxy(environ, start_response)
        return self.wsgi_app(environ, start_response)
