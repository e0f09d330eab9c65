"""The FastAGI client side of pbxsim: what Asterisk sends for ``AGI(agi://...)``.

Asterisk 22 ``res/res_agi.c``:

* ``launch_netscript``: ``agi://host[:port][/script]``, port 4573 by default;
  connect (non-blocking connect, failure → ``AGI_RESULT_FAILURE`` →
  ``AGISTATUS=FAILURE``); send ``agi_network: yes`` and, when a script part
  exists, ``agi_network_script: <script>``.
* ``setup_env``: ``agi_request`` (the whole URL), ``agi_channel``,
  ``agi_language``, ``agi_type``, ``agi_uniqueid``, ``agi_version``,
  ``agi_callerid``, ``agi_calleridname``, ``agi_callingpres``,
  ``agi_callingani2``, ``agi_callington``, ``agi_callingtns``, ``agi_dnid``,
  ``agi_rdnis``, ``agi_context``, ``agi_extension``, ``agi_priority``,
  ``agi_enhanced``, ``agi_accountcode``, ``agi_threadid``, then
  ``agi_arg_1..n`` (every argument after the URL, empty ones included), then a
  blank line. Every line ends in a bare ``\\n``.
* ``run_agi``: reads commands until the server closes; EOF with nothing read
  ends the script and ``AGISTATUS`` is ``SUCCESS``. There is no timeout: a
  server that never closes pins the channel (pbxsim gives up after
  ``pin_limit`` seconds and records it). Each command line is run
  (``agi_handle_command``) and answered before the next read: pbxsim knows
  ``SET VARIABLE name value`` (``handle_setvariable``: sets the channel
  variable, ``200 result=1``; allowed on a dead channel too) — Callcast's daemon
  sends it to confirm a stored event — and answers
  ``510 Invalid or unknown command`` to anything else.
"""

from __future__ import annotations

import asyncio
import shlex
import socket
import time
from urllib.parse import urlsplit

AGI_PORT = 4573
VERSION = "22.5.2"


def parse_url(url):
    """``agi://host[:port]/script`` → (host, port, script)."""
    rest = url[len("agi://"):]
    hostport, _, script = rest.partition("/")
    parts = urlsplit("//" + hostport)
    return parts.hostname or "", parts.port or AGI_PORT, script


def env_block(chan, url, args, context, exten, priority, threadid) -> bytes:
    """The exact bytes Asterisk writes on a fresh FastAGI connection."""
    _host, _port, script = parse_url(url)
    lines = ["agi_network: yes"]
    if script:
        lines.append(f"agi_network_script: {script}")
    cid_num = chan.cid_num or "unknown"
    cid_name = chan.cid_name or "unknown"
    # ast_party_id_presentation: 0 (allowed) when a number is set, else 67
    # (AST_PRES_NUMBER_NOT_AVAILABLE)
    pres = 0 if chan.cid_num else 67
    lines += [
        f"agi_request: {url}",
        f"agi_channel: {chan.name}",
        f"agi_language: {chan.language}",
        f"agi_type: {chan.tech}",
        f"agi_uniqueid: {chan.uniqueid}",
        f"agi_version: {VERSION}",
        f"agi_callerid: {cid_num}",
        f"agi_calleridname: {cid_name}",
        f"agi_callingpres: {pres}",
        "agi_callingani2: 0",
        "agi_callington: 0",
        "agi_callingtns: 0",
        "agi_dnid: unknown",
        "agi_rdnis: unknown",
        f"agi_context: {context}",
        f"agi_extension: {exten}",
        f"agi_priority: {priority}",
        "agi_enhanced: 0.0",
        f"agi_accountcode: {chan.accountcode}",
        f"agi_threadid: {threadid}",
    ]
    lines += [f"agi_arg_{i}: {a}" for i, a in enumerate(args, 1)]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def run_command(line: str, variables: dict) -> bytes:
    """Carry out one AGI command line as res_agi.c would; return the answer."""
    try:
        argv = shlex.split(line)
    except ValueError:
        argv = line.split()
    if len(argv) >= 2 and [a.lower() for a in argv[:2]] == ["set", "variable"]:
        if len(argv) != 4:
            return b"520 Invalid command syntax.  Proper usage follows:\n"
        variables[argv[2]] = argv[3]
        return b"200 result=1\n"
    return b"510 Invalid or unknown command\n"


async def run_fastagi(url, block, connect_timeout=2.0, pin_limit=30.0):
    """Connect, send ``block``, run the server's commands until it closes.

    Returns ``(status, detail, variables)``: ``SUCCESS`` when the server
    closed, ``FAILURE`` when it could not be reached, ``PINNED`` when it kept
    the connection past ``pin_limit`` (real Asterisk would wait forever);
    ``variables`` are the channel variables its commands set.
    Raw non-blocking sockets rather than streams: pbxsim makes thousands of
    these a second in the benchmark.
    """
    host, port, _script = parse_url(url)
    variables = {}
    status, detail = await _converse(host, port, block, connect_timeout, pin_limit, variables)
    return status, detail, variables


async def _converse(host, port, block, connect_timeout, pin_limit, variables):
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            return "FAILURE", f"resolve: {exc}"
    family, _type, proto, _canon, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM, proto)
    sock.setblocking(False)
    try:
        try:
            await asyncio.wait_for(loop.sock_connect(sock, addr), connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            return "FAILURE", f"connect: {exc or type(exc).__name__}"
        try:
            await loop.sock_sendall(sock, block)
        except OSError as exc:
            return "FAILURE", f"send: {exc}"
        deadline = started + pin_limit
        pending = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "PINNED", f"server kept the connection {pin_limit:.0f}s"
            try:
                data = await asyncio.wait_for(loop.sock_recv(sock, 4096), remaining)
            except asyncio.TimeoutError:
                return "PINNED", f"server kept the connection {pin_limit:.0f}s"
            except OSError:
                return "SUCCESS", "reset by server"
            if not data:
                return "SUCCESS", "closed by server"
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                answer = run_command(line.decode("utf-8", "replace").strip(), variables)
                try:
                    await loop.sock_sendall(sock, answer)
                except OSError:
                    # the server closed right after its last command: Asterisk
                    # ran that command before writing the answer (res_agi.c)
                    return "SUCCESS", "reset by server"
    finally:
        sock.close()
