"""The Ansible deploy, for real: applied to this machine into an isolated prefix.

The app, supervisor and asterisk roles are applied (local connection); the
rabbitmq and postgresql roles run in --check mode against the shared services
(they detect them and would change nothing destructive) and are linted.
"""

import json
import os
import shlex
import signal
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from .conftest import (
    ANSIBLE_DIR, HOST, VENV_BIN, ansible_playbook, changed_tasks, free_hundred, task_results,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PROGRAMS = ("agi", "agi-fallback", "ami-events", "agi-watchdog", "dialer", "lifecycle",
            "scheduler", "web", "pbx", "memhog")
# supervisord's event listeners: supervisorctl status lists them with the programs
LISTENERS = ("callcast-crashmail", "callcast-memmon", "callcast-supervision")


def test_it_applies_the_playbook_into_an_isolated_prefix(deployment):
    assert deployment.first_apply.changed > 0
    v = deployment.vars
    conf_d = Path(v["supervisor_include_dir"])
    assert [p.name for p in conf_d.iterdir()] == ["callcast.conf"]
    programs = (conf_d / "callcast.conf").read_text()
    sections = [line for line in programs.splitlines() if line.startswith("[program:")]
    assert sections == [f"[program:callcast-{name}]" for name in
                        ("web", "dialer", "lifecycle", "scheduler", "agi", "agi-fallback",
                         "ami-events", "agi-watchdog", "pbx", "memhog")]
    dialer = programs.split("[program:callcast-dialer]")[1].split("[program:")[0]
    for line in ("numprocs=2", "autorestart=true", "startretries=5", "stopsignal=TERM",
                 "stopwaitsecs=25", "priority=200", "stopasgroup=true", "killasgroup=true",
                 "stdout_logfile_maxbytes=10MB", "stderr_logfile_backups=5",
                 "process_name=%(program_name)s_%(process_num)02d",
                 'environment=METRICS_PORT="'
                 f'{deployment.ports["dialer_metrics"] // 100}%(process_num)02d",'
                 'PYTHONUNBUFFERED="1",dramatiq_worker_timeout="250"'):
        assert line in dialer.splitlines(), line
    env_file = Path(v["callcast_root"]) / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o640
    env = dict(
        shlex.split(line)[0].split("=", 1)
        for line in env_file.read_text().splitlines() if line and not line.startswith("#")
    )
    assert env["BROKER_URL"] == v["callcast_broker_url"]
    assert env["LOG_FORMAT"] == "json"
    assert env["DIAL_TEMPLATE"] == "Local/{number}@pstn"
    assert "METRICS_PORT" not in env  # supervisord sets it per process
    manager = Path(v["asterisk_config_dir"]) / "manager.conf"
    assert f'#include "{v["asterisk_config_dir"]}/manager-callcast.conf"' in manager.read_text()
    ami_user = (Path(v["asterisk_config_dir"]) / "manager-callcast.conf").read_text()
    assert "[callcast]" in ami_user and "secret = ops-secret" in ami_user
    assert "write = originate,reporting,command,system" in ami_user
    amd_conf = (Path(v["asterisk_config_dir"]) / "amd.conf").read_text()
    assert "[general]" in amd_conf and "maximum_number_of_words = 2" in amd_conf
    extensions = (Path(v["asterisk_config_dir"]) / "extensions.conf").read_text()
    assert f'#include "{v["callcast_dialplan_path"]}"' in extensions
    assert "app : Upgrade the database schema" in changed_tasks(deployment.first_apply.output)


def test_it_runs_every_program_and_health_answers_200(deployment):
    expected = {"callcast-dialer:callcast-dialer_00", "callcast-dialer:callcast-dialer_01",
                *(f"callcast-{p}" for p in PROGRAMS if p != "dialer"), *LISTENERS}
    wait_until(
        lambda: {n for n, (state, _) in deployment.status().items() if state == "RUNNING"}
        >= expected,
        90, "every program RUNNING",
    )
    body = deployment.wait_health(200, timeout=120)
    assert all(check["ok"] for check in body["checks"].values())


def test_it_restarts_a_worker_killed_with_kill_9(deployment):
    name = "callcast-dialer:callcast-dialer_00"
    wait_until(lambda: deployment.status().get(name, ("", None))[0] == "RUNNING", 60, name)
    old_pid = deployment.status()[name][1]
    launcher = psutil.Process(old_pid)
    children = launcher.children(recursive=True)
    assert "dramatiq" in " ".join(launcher.cmdline())
    os.kill(old_pid, signal.SIGKILL)
    wait_until(
        lambda: (lambda s: s[0] == "RUNNING" and s[1] not in (None, old_pid))(
            deployment.status().get(name, ("", None))),
        60, "supervisord to restart the killed dialer",
    )
    # its worker and metrics processes went down with it (no orphan consumers)
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert alive == [], [p.cmdline() for p in alive]
    deployment.wait_health(200, timeout=90)


def test_it_changes_nothing_on_a_second_apply(deployment):
    recap = deployment.playbook()
    assert recap.changed == 0, changed_tasks(recap.output)


def test_it_restarts_only_the_program_whose_definition_changed(deployment):
    def pids():
        return {name: pid for name, (state, pid) in deployment.status().items()
                if state == "RUNNING"}

    wait_until(lambda: len(pids()) == len(PROGRAMS) + 1 + len(LISTENERS), 90,
               "every program RUNNING")
    before = pids()
    new_base = free_hundred(1, taken={deployment.ports["lifecycle_metrics"],
                                      deployment.ports["dialer_metrics"]})
    recap = deployment.playbook("-e", json.dumps({"callcast_lifecycle_metrics_base": new_base}))
    assert changed_tasks(recap.output) == [
        "supervisor : Write the Callcast programs of this host",
        "supervisor : Apply changed program definitions",
    ]
    after = wait_until(lambda: (lambda p: p if len(p) == len(before) else None)(pids()),
                       90, "every program RUNNING again")
    restarted = sorted(name for name in before if after[name] != before[name])
    assert restarted == ["callcast-lifecycle"]


def test_it_checks_the_rabbitmq_and_postgresql_roles_against_the_running_services(tmp_path):
    """--check on the shared broker and database: they are detected, nothing fails."""
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"[rabbitmq]\n{HOST} ansible_connection=local ansible_python_interpreter={python}"
        " ansible_become_method=su\n\n[postgresql]\n" + HOST + "\n"
    )
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(
        '{"callcast_broker_vhost": "callcast-ops-check", "callcast_broker_user": "callcast-ops-check",'
        ' "callcast_db_name": "callcast_ops_check", "callcast_db_user": "callcast_ops_check",'
        ' "rabbitmq_install": %s, "postgresql_install": %s}'
        % (("true", "true") if python == "/usr/bin/python3" else ("false", "false"))
    )
    recap = ansible_playbook(tmp_path, inventory, vars_file, check=True)
    results = task_results(recap.output)
    # the running services are detected, so the roles would not start (restart) them
    for role, service in (("rabbitmq", "RabbitMQ"), ("postgresql", "PostgreSQL")):
        assert results[f"{role} : See whether {'a broker' if role == 'rabbitmq' else service} "
                       "already answers"] == ["ok"]
        assert results[f"{role} : Start {service} now and at boot"] == ["skipping"]
    # read-only queries ran for real; what they found missing is only reported
    assert results["rabbitmq : List the virtual hosts"] == ["ok"]
    assert results["postgresql : Look for the Callcast role and database"] == ["ok", "ok"]
    assert recap.changed == 0


def test_it_passes_ansible_lint(tmp_path):
    done = subprocess.run(
        [str(VENV_BIN / "ansible-lint"), "--offline"], cwd=ANSIBLE_DIR, capture_output=True,
        text=True, timeout=300, stdin=subprocess.DEVNULL,
        env={"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
             "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
             "NO_COLOR": "1", "LANG": "C.UTF-8"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failure(s), 0 warning(s)" in done.stdout + done.stderr


@pytest.mark.parametrize("inventory, expected", [
    ("split", {
        "web1.example.net": "web",
        "work1.example.net": "dialer,lifecycle,scheduler",  # the one scheduler
        "work2.example.net": "dialer,lifecycle",
        "pbx1.example.net": "agi,agi-fallback,ami-events,agi-watchdog",
        "mq1.example.net": "",
        "db1.example.net": "",
    }),
    ("cluster", {
        "web1.example.net": "web",
        "dial1.example.net": "dialer,lifecycle,scheduler",  # the one scheduler
        "dial2.example.net": "dialer,lifecycle",
        # each PBX host: its own AGI daemons, recorder and dialplan agent
        "pbx1.example.net": "agi,agi-fallback,ami-events,agi-watchdog,pbxagent",
        "pbx2.example.net": "agi,agi-fallback,ami-events,agi-watchdog,pbxagent",
        "pbx3.example.net": "agi,agi-fallback,ami-events,agi-watchdog,pbxagent",
        "mq1.example.net": "",
        "db1.example.net": "",
    }),
    ("single", {
        "pbx1.example.net": "web,dialer,lifecycle,scheduler,agi,agi-fallback,ami-events,"
                            "agi-watchdog",
    }),
])
def test_it_places_each_process_on_its_hosts(tmp_path, inventory, expected):
    done = subprocess.run(
        [str(VENV_BIN / "ansible"), "-i", f"inventories/{inventory}/hosts.yml", "all",
         "-c", "local", "--playbook-dir", ".", "-m", "debug",
         "-a", '{"msg": "{{ inventory_hostname }}={{ callcast_processes | join(\',\') }}"}'],
        cwd=ANSIBLE_DIR, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
             "ANSIBLE_HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1", "LANG": "C.UTF-8"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    placed = dict(
        line.split('"msg": "', 1)[1].rstrip('"').split("=", 1)
        for line in done.stdout.splitlines() if '"msg": "' in line
    )
    assert placed == expected


def test_a_cluster_pbx_host_runs_the_dialplan_agent_of_its_own_pbx(tmp_path):
    """The supervisor role's program section on pbx2 of inventories/cluster, rendered."""
    dest = tmp_path / "programs.conf"
    play = [{
        "hosts": "pbx2.example.net", "connection": "local", "gather_facts": False,
        "vars_files": [str(ANSIBLE_DIR / p) for p in (
            "roles/app/defaults/main.yml", "roles/supervisor/defaults/main.yml",
            "group_vars/all.yml")],
        "tasks": [{"ansible.builtin.template": {
            "src": str(ANSIBLE_DIR / "roles/supervisor/templates/programs.conf.j2"),
            "dest": str(dest)}}],
    }]
    playbook = tmp_path / "render.yml"
    playbook.write_text(json.dumps(play))
    done = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", "inventories/cluster/hosts.yml", str(playbook)],
        cwd=ANSIBLE_DIR, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
             "ANSIBLE_HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1", "LANG": "C.UTF-8"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sections = dest.read_text().split("\n\n")
    agent = [s for s in sections if "[program:callcast-pbxagent]" in s]
    assert len(agent) == 1, dest.read_text()
    assert "bin/python -m tasks.pbxagent pbx2\n" in agent[0]
