"""supervisord alerts on the deployed copy: superlance's crashmail and memmon, and our
transition recorder (python -m supervision), as the playbook configures them.

Drills (docs/runbook.md): a program killed with kill -9 sends a crash mail and its
transitions are recorded (database, /health, Operations page); a program over its memory
limit is restarted by memmon.
"""

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from .conftest import changed_tasks, wait_until
from .test_drills import db_rows

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

LISTENERS = ("callcast-crashmail", "callcast-memmon", "callcast-supervision")


def mailbox(deployment) -> Path:
    return deployment.prefix / "var" / "mail"


def mails(deployment) -> dict:
    return {p.name: p.read_text() for p in sorted(mailbox(deployment).glob("*.eml"))}


def running_pid(deployment, name, not_pid=None):
    """The pid of ``name`` once RUNNING (and not ``not_pid``)."""
    def ready():
        state, pid = deployment.status().get(name, ("", None))
        return pid if state == "RUNNING" and pid not in (None, not_pid) else None

    return wait_until(ready, 90, f"{name} RUNNING" + (f" again, not pid {not_pid}" if not_pid
                                                      else ""))


def transitions(deployment, program, after_id=0):
    return db_rows(deployment, "SELECT id, from_state, to_state, pid, expected FROM "
                   "process_transition WHERE program = ? AND id > ? ORDER BY id",
                   program, after_id)


def last_id(deployment):
    return db_rows(deployment, "SELECT coalesce(max(id), 0) FROM process_transition")[0][0]


def test_it_applies_the_superlance_configuration(deployment):
    conf = (Path(deployment.vars["supervisor_include_dir"]) / "callcast.conf").read_text()
    sections = re.findall(r"^\[eventlistener:(.*)\]$", conf, re.M)
    assert sections == list(LISTENERS)
    listener = {name: conf.split(f"[eventlistener:{name}]")[1].split("\n[")[0]
                for name in LISTENERS}
    venv_bin = f"{deployment.venv}/bin"
    sendmail = deployment.vars["callcast_sendmail"]
    assert (f"command={venv_bin}/crashmail -a -m ops@example.net -s '{sendmail}' "
            "-o 'callcast ops-test'") in listener["callcast-crashmail"]
    assert "events=PROCESS_STATE_EXITED" in listener["callcast-crashmail"]
    assert (f"command={venv_bin}/memmon -c -g callcast-dialer=1GB -g callcast-memhog=100MB "
            f"-s '{sendmail}' -n ops-test -m ops@example.net") in listener["callcast-memmon"]
    assert "events=TICK_5" in listener["callcast-memmon"]
    assert "\nuser=" not in listener["callcast-memmon"]  # root in production: the 0700 socket
    assert (f"command={deployment.vars['callcast_root']}/bin/callcast-run python -m "
            "supervision --prefix callcast-") in listener["callcast-supervision"]
    for name in LISTENERS:
        for line in ("priority=10", "buffer_size=1024", "stdout_logfile=NONE",
                     f"stderr_logfile={deployment.vars['callcast_log_dir']}/%(program_name)s"
                     ".stderr.log"):
            assert line in listener[name].splitlines(), (name, line)
    for name in LISTENERS:
        running_pid(deployment, name)


def viewer_session(deployment):
    """An opener signed in to the deployed console as a viewer."""
    run = Path(deployment.vars["callcast_root"]) / "bin" / "callcast-run"
    password = "ops-drill-viewer-password-1"
    subprocess.run([str(run), "flask", "--app", "app", "user", "create", "ops-viewer",
                    "--role", "viewer"], capture_output=True, text=True, timeout=120,
                   env={**deployment.env, "CALLCAST_USER_PASSWORD": password})
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(deployment.web_url + "/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": "ops-viewer", "password": password,
                                   "csrf_token": token, "next": ""}).encode()
    opener.open(deployment.web_url + "/login", data=form, timeout=30).read()
    return opener


def test_it_drills_a_crash_mail_and_the_recorded_restarts(deployment):
    """kill -9 of callcast-agi, three times: three crash mails, every transition recorded,
    /health and the Operations page tell the restarts."""
    deployment.wait_health(200, timeout=120)
    for name in LISTENERS:
        running_pid(deployment, name)
    start_id, mailed_before = last_id(deployment), set(mails(deployment))
    killed = []
    pid = running_pid(deployment, "callcast-agi")
    for _ in range(3):
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
        pid = running_pid(deployment, "callcast-agi", not_pid=pid)

    def crash_mails():
        new = [text for name, text in mails(deployment).items() if name not in mailed_before]
        return new if len(new) >= 3 else None

    new = wait_until(crash_mails, 60, "three crash mails")
    for old_pid, text in zip(killed, new):
        headers, _, body = text.partition("\n\n")
        assert headers.splitlines()[0] == "To: ops@example.net"
        assert headers.splitlines()[1].startswith(
            "Subject: callcast ops-test: callcast-agi crashed at ")
        assert body == (f"Process callcast-agi in group callcast-agi exited unexpectedly "
                        f"(pid {old_pid}) from state RUNNING")

    def recorded():
        rows = transitions(deployment, "callcast-agi", start_id)
        return rows if len(rows) >= 9 else None  # EXITED, STARTING, RUNNING per kill

    rows = wait_until(recorded, 60, "the restarts recorded")
    assert [(r[1], r[2]) for r in rows] == [
        ("RUNNING", "EXITED"), ("EXITED", "STARTING"), ("STARTING", "RUNNING")] * 3
    assert [(r[3], r[4]) for r in rows if r[2] == "EXITED"] == [(p, 0) for p in killed]
    assert rows[-1][3] == pid
    check_the_restarts_are_told(deployment)


def check_the_restarts_are_told(deployment):
    """/health's supervisor detail and the Operations page give the same count as the table."""
    [(restarts, unexpected)] = db_rows(
        deployment, "SELECT sum(to_state = 'STARTING' AND from_state IN ('EXITED', 'STOPPED')), "
        "sum(to_state = 'EXITED' AND expected = 0) FROM process_transition WHERE "
        "program = 'callcast-agi' AND at >= datetime('now', '-1 hour')")
    assert restarts >= 3 and unexpected >= 3
    sentence = (f"callcast-agi restarted {restarts} times in the last hour "
                f"({unexpected} unexpected exits)")
    body = deployment.wait_health(200, timeout=120)
    assert sentence in body["checks"]["supervisor"]["detail"]
    page = viewer_session(deployment).open(
        deployment.web_url + "/admin/operations/", timeout=30).read().decode()
    assert f"<li>{sentence} on " in page.split('id="restarts"')[1]


def test_it_drills_memmon_restarting_a_program_over_its_memory_limit(deployment):
    """callcast-memhog grows past its 100MB limit: memmon stops and starts it (and mails)."""
    name = "callcast-memhog"
    pid = running_pid(deployment, name)
    start_id, mailed_before = last_id(deployment), set(mails(deployment))
    mb = 1024 * 1024
    os.kill(pid, signal.SIGUSR1)  # +64 MB: under the limit
    wait_until(lambda: psutil.Process(pid).memory_info().rss > 64 * mb, 30, "memhog at 64 MB+")
    os.kill(pid, signal.SIGUSR1)  # +64 MB more: over it
    new_pid = running_pid(deployment, name, not_pid=pid)
    assert psutil.Process(new_pid).memory_info().rss < 100 * mb
    log = Path(deployment.vars["callcast_log_dir"]) / "callcast-memmon.stderr.log"
    assert f"Restarting {name}:{name}" in log.read_text()

    def recorded():
        rows = transitions(deployment, name, start_id)
        return rows if len(rows) >= 4 else None

    rows = wait_until(recorded, 60, "memmon's restart recorded")
    # a graceful stop and a start (stopProcess, startProcess), no crash: no crash mail
    assert [(r[1], r[2]) for r in rows] == [
        ("RUNNING", "STOPPING"), ("STOPPING", "STOPPED"), ("STOPPED", "STARTING"),
        ("STARTING", "RUNNING")]
    assert (rows[0][3], rows[-1][3]) == (pid, new_pid)

    def memmon_mail():
        new = [text for n, text in mails(deployment).items() if n not in mailed_before]
        return new or None

    [text] = wait_until(memmon_mail, 30, "memmon's mail")
    assert f"Subject: memmon [ops-test]: process {name}:{name} restarted\n" in text
    rss = int(re.search(r"too much memory \((\d+) bytes RSS\)", text).group(1))
    assert rss > 100 * mb


def test_it_restarts_the_listeners_with_the_programs_when_the_environment_changes(deployment):
    """A changed .env: the handler restarts every program and listener of the host."""
    def pids():
        return {name: pid for name, (state, pid) in deployment.status().items()
                if state == "RUNNING"}

    deployment.wait_health(200, timeout=120)
    before = wait_until(lambda: (lambda p: p if set(LISTENERS) <= set(p) else None)(pids()),
                        60, "the listeners RUNNING")
    extra = {**deployment.vars["callcast_env_extra"], "CALLCAST_OPS_MARK": "restart-drill"}
    try:
        recap = deployment.playbook("-e", json.dumps({"callcast_env_extra": extra}))
        assert "supervisor : Restart the Callcast programs" in changed_tasks(recap.output)
        after = wait_until(lambda: (lambda p: p if set(p) == set(before) else None)(pids()),
                           120, "every program and listener RUNNING again")
        assert sorted(n for n in before if after[n] == before[n]) == []
    finally:
        deployment.playbook()  # the inventory's .env again (another restart)
    deployment.wait_health(200, timeout=120)
