"""Our supervisord event listener: records each PROCESS_STATE_* transition of the
``callcast-*`` programs in the database (``app.process_states``) for /health and the
Operations page.

A package of its own, not in ``tasks`` (importing ``tasks`` builds the Dramatiq broker,
which a listener has no use for) nor ``agi``: a child of supervisord that speaks its
eventlistener protocol on stdin/stdout. ``protocol.py`` is that protocol without I/O;
``__main__.py`` reads stdin, writes stdout and records.
"""
