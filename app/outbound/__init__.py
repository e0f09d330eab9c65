"""What Callcast sends out: signed webhooks and the campaign-closed mail.

The core only writes rows. A state change, a close or a fold writes one
``outbox_event`` row in its own transaction (``outbox``); the ``webhooks``
queue's actors turn pending rows into deliveries and mails (``dispatch``),
post each delivery with its signature (``delivery``, ``signing``) and send the
mail (``mail``). A slow or failing receiver costs the dialer nothing but that
one insert.

- ``tables``: the outbox, endpoints, deliveries, attempts and mails
- ``outbox``: the records the core writes
- ``endpoints``: URL rule, secrets, which endpoints want an event
- ``dispatch``: outbox rows into deliveries (contact batches at most every N s) and mails
- ``signing``: the ``Callcast-Signature`` header and its check
- ``delivery``: one HTTP attempt, its log, backoff and the cap
- ``mail``: the campaign-closed mail, composed and sent over SMTP

This package's ``__init__`` imports nothing: ``app.models`` imports ``tables``.
"""
