"""The verification snippet of docs/webhooks.md accepts a real delivery and refuses a forgery."""

from __future__ import annotations

import re
from pathlib import Path

from app.outbound.delivery import deliver
from app.outbound.dispatch import fan_out
from app.outbound.endpoints import create_endpoint
from app.outbound.signing import HEADER
from app.outbound.tables import STATE_CHANGED
from app.clock import utcnow
from tests.outbound.receivers import WebhookReceiver

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_verify():
    (snippet,) = [block for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
                  if "def verify" in block]
    assert len(snippet.strip().splitlines()) <= 10
    namespace = {}
    exec(snippet, namespace)  # the documentation's own code
    return namespace["verify"]


def test_it_verifies_a_real_delivery_with_the_documented_ten_lines(db, outbound_env):
    verify = documented_verify()
    with WebhookReceiver() as receiver:
        endpoint = create_endpoint(receiver.url)
        (delivery_id,) = fan_out(STATE_CHANGED, 3, {"to": "PAUSED"}, utcnow())
        deliver(delivery_id, utcnow())

    (headers, body), = receiver.received
    assert verify(endpoint.secret, headers[HEADER], body)
    assert not verify(endpoint.secret, headers[HEADER], body.replace(b"PAUSED", b"ACTIVE"))
    assert not verify("whsec_someone_else", headers[HEADER], body)
    stale = re.sub(r"t=(\d+)", lambda m: f"t={int(m.group(1)) - 3600}", headers[HEADER])
    assert not verify(endpoint.secret, stale, body)
