"""Standalone FastAGI daemon: sans-I/O parser, asyncio server, batched event writer.

Run it as ``python -m agi`` (options default to the environment, see
``python -m agi --help``); a second instance for the dialplan's fallback path
is ``python -m agi --source fallback`` (port AGI_FALLBACK_PORT, metrics port
AGI_METRICS_PORT+1 and its own journal unless given).

One request, ``AGI(agi://host:port/<campaign>/<contact>/<attempt>/<event>,<arg>,<token>)``,
becomes one ``call_event`` row, idempotent on (campaign, contact, attempt,
event), when ``<token>`` is the call token the dialer set on that attempt
(``app.calltokens``); a report without it is quarantined, never stored. The
daemon answers with a single command once the row is committed or journaled,
``SET VARIABLE CALLCAST_AGI_STATUS STORED``, and closes. Asterisk sets
``AGISTATUS=SUCCESS`` on *any* close, including the kernel's close of a killed
daemon, so the dialplan must clear ``CALLCAST_AGI_STATUS`` before the ``AGI()``
and treat anything but ``STORED`` afterwards as "not recorded".

Modules: ``protocol`` (bytes → request → event, no I/O), ``admission`` (allow-list,
per-peer cap, read deadlines, no I/O), ``connection`` and ``server`` (asyncio),
``quarantine`` (reports without their token), ``writer`` (the thread that
group-commits), ``journal`` (the fsync'd local spool used while the database is
away), ``metrics`` (Prometheus), ``daemon`` (wiring, heartbeat ``kind='agi'``,
``name='agi@<host>:<pid>'``), ``liveness`` (the loop heartbeat file) and
``watchdog`` (``python -m agi.watchdog``: kills a daemon whose loop stopped),
``amievents`` (the UserEvent recorder), ``client`` (an Asterisk-like FastAGI
client for the benchmarks and the tests) and ``fuzz`` (hostile inputs).
"""
