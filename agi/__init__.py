"""Standalone FastAGI daemon: sans-I/O parser, asyncio server, batched event writer.

Run it as ``python -m agi`` (options default to the environment, see
``python -m agi --help``); a second instance for the dialplan's fallback path
is ``python -m agi --source fallback`` (port AGI_FALLBACK_PORT, metrics port
AGI_METRICS_PORT+1 and its own journal unless given).

One request, ``AGI(agi://host:port/<campaign>/<contact>/<attempt>/<event>[,arg])``,
becomes one ``call_event`` row, idempotent on (campaign, contact, attempt,
event). The daemon answers with a single command once the row is committed or
journaled, ``SET VARIABLE CALLCAST_AGI_STATUS STORED``, and closes. Asterisk
sets ``AGISTATUS=SUCCESS`` on *any* close, including the kernel's close of a
killed daemon, so the dialplan must clear ``CALLCAST_AGI_STATUS`` before the
``AGI()`` and treat anything but ``STORED`` afterwards as "not recorded".

Modules: ``protocol`` (bytes → request → event, no I/O), ``server`` (asyncio),
``writer`` (the thread that group-commits), ``journal`` (the fsync'd local
spool used while the database is away), ``metrics`` (Prometheus), ``daemon``
(wiring, heartbeat ``kind='agi'``, ``name='agi@<host>:<pid>'``), ``client``
(an Asterisk-like FastAGI client for the benchmark and the tests).
"""
