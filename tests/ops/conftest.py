"""The deployed system for the operations tests: the Ansible playbook applied to
this machine (local connection) into an isolated prefix, and supervisord started
from the configuration it rendered.

Isolation from everything else on the machine:
- the prefix is a fresh temporary folder (code, venv link, .env, supervisord.conf,
  its own socket and pidfile, logs, SQLite database, Asterisk snippets);
- every TCP port is picked free at run time;
- RabbitMQ gets a throwaway vhost (deleted at the end); the shared broker and
  PostgreSQL are never reconfigured: only the app, supervisor and asterisk roles
  are applied (the rabbitmq/postgresql roles run in --check mode, see
  test_ansible.py);
- the code deployed is a snapshot of this work tree (tracked and untracked, not
  ignored files) committed into a temporary git repository, so the test deploys
  what is on disk, as the git checkout of the app role does in production;
- the virtual environment is built by the app role once per requirements.txt
  content and kept in the temp folder (first run ~1-2 min, later runs reuse it).
"""

from __future__ import annotations

import base64
import fcntl
import functools
import grp
import hashlib
import json
import os
import pwd
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import psutil
import pytest

from tests import waiting
from tests.waiting import free_port

# The namespace cluster drill deployed by the playbook (test_cluster_deployed.py, about
# 5 minutes more than the hand-started one in test_cluster.py) is collected only when
# asked for: `make drill-cluster`.
collect_ignore = ([] if os.environ.get("CALLCAST_CLUSTER_DRILL") == "1"
                  else ["test_cluster_deployed.py"])

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = ROOT / "deploy" / "ansible"
VENV_BIN = Path(sys.executable).parent
HOST = "ops-test"
RECAP = re.compile(
    rf"^{HOST}\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M
)


# the predicates here run supervisorctl, curl-like requests or psutil scans:
# poll them every 0.2 s, not the default 20 ms
wait_until = functools.partial(waiting.wait_until, interval=0.2)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_hundred(count: int, taken=()) -> int:
    """A base port ending in 00 with base..base+count-1 free (worker metrics ports)."""
    for _ in range(200):
        base = random.randrange(20000, 60000, 100)
        if base not in taken and all(port_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no free block of ports")


def minimal_env(**extra) -> dict:
    """The environment a service manager would give: none of the test session's settings."""
    env = {
        "PATH": f"{VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
    }
    env.update(extra)
    return env


# --- RabbitMQ vhost -------------------------------------------------------------


def _management(settings, method, path, body=None):
    parsed = urlparse(settings.broker_url)
    creds = f"{parsed.username or 'guest'}:{parsed.password or 'guest'}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        settings.rabbitmq_management_url.rstrip("/") + path, data=data, method=method
    )
    request.add_header("Authorization", "Basic " + base64.b64encode(creds.encode()).decode())
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


STALE_SECONDS = 6 * 3600


def sweep_stale_vhosts(settings) -> None:
    """Delete callcast-ops-<epoch>-* vhosts and users left by runs that were killed."""
    try:
        names = [v["name"] for v in _management(settings, "GET", "/api/vhosts") or []]
    except (OSError, urllib.error.URLError, ValueError):
        return
    for name in names:
        match = re.match(r"callcast-ops-(\d+)-", name)
        if match and time.time() - int(match.group(1)) > STALE_SECONDS:
            delete_vhost(settings, name)


def create_vhost(settings, name) -> str:
    """A fresh vhost and user (both ``name``) for the deployed processes; returns BROKER_URL.

    A user of its own lets a drill refuse the deployment's connections without
    touching anybody else's.
    """
    parsed = urlparse(settings.broker_url)
    password = secrets.token_hex(8)
    _management(settings, "PUT", f"/api/vhosts/{quote(name, safe='')}", {})
    _management(settings, "PUT", f"/api/users/{quote(name, safe='')}",
                {"password": password, "tags": ""})
    for user in (name, parsed.username or "guest"):
        _management(
            settings, "PUT", f"/api/permissions/{quote(name, safe='')}/{quote(user, safe='')}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )
    netloc = f"{quote(name, safe='')}:{password}@{parsed.hostname}:{parsed.port or 5672}"
    return urlunparse(parsed._replace(netloc=netloc, path="/" + quote(name, safe="")))


def delete_vhost(settings, name) -> None:
    for path in (f"/api/vhosts/{quote(name, safe='')}", f"/api/users/{quote(name, safe='')}"):
        try:
            _management(settings, "DELETE", path)
        except (OSError, urllib.error.URLError):
            pass


# --- the code snapshot ------------------------------------------------------------


def snapshot_repo(dest: Path) -> str:
    """Commit the work tree's files into a new git repository at ``dest``; return the commit."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "-co", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode()
    dest.mkdir(parents=True)
    for rel in filter(None, listing.split("\0")):
        src = ROOT / rel
        if not src.is_file():  # deleted but not yet committed
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    git = ["git", "-c", "user.name=ops-test", "-c", "user.email=ops-test@localhost",
           "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(git + args, cwd=dest, check=True, capture_output=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=dest, check=True, capture_output=True, text=True
    ).stdout.strip()


def venv_cache_dir() -> Path:
    digest = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()[:12]
    py = f"{sys.version_info.major}{sys.version_info.minor}"
    return Path(tempfile.gettempdir()) / f"callcast-ops-venv-py{py}-{digest}"


# --- ansible-playbook -----------------------------------------------------------------


def ansible_playbook(workdir, inventory, vars_file, *args, check=False, timeout=540) -> Recap:
    """Run site.yml with a local connection; return the PLAY RECAP of the test host.

    One run at a time on this machine: they share the cached virtual environment.

    Raises:
        AssertionError: the run failed or printed no recap (the output is in the message).
    """
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), "-e", f"@{vars_file}",
            "site.yml", *args]
    if check:
        argv.append("--check")
    home = Path(workdir) / "ansible-home"
    env = minimal_env(
        ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_REMOTE_TEMP=str(home / "remote-tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        PYTHONUNBUFFERED="1",
    )
    with open(Path(tempfile.gettempdir()) / "callcast-ops-ansible.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(
            argv, cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    output = done.stdout + done.stderr
    (Path(workdir) / f"ansible-{time.monotonic_ns()}.log").write_text(output)
    match = RECAP.search(done.stdout)
    assert match, f"no PLAY RECAP for {HOST} (rc={done.returncode}):\n{output[-6000:]}"
    recap = Recap(*map(int, match.groups()), output=output)
    assert done.returncode == 0 and recap.failed == 0 and recap.unreachable == 0, (
        f"ansible-playbook failed ({recap}):\n{output[-8000:]}"
    )
    return recap


def task_results(output: str) -> dict:
    """{"role : task name": [status, ...]} (ok, changed, skipping, failed) from a run's output."""
    results, task = {}, None
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            task = line.split("[", 1)[1].rsplit("]", 1)[0]
            results.setdefault(task, [])
        elif task and re.match(r"^(ok|changed|skipping|failed|fatal):", line):
            results[task].append(line.split(":", 1)[0])
    return results


def changed_tasks(output: str) -> list[str]:
    """The names of the tasks that reported "changed" in an ansible-playbook output."""
    names, task = [], None
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            task = line.split("[", 1)[1].rsplit("]", 1)[0]
        elif line.startswith("changed:") and task:
            names.append(task)
    return names


# --- the deployment ------------------------------------------------------------------


@dataclass
class Recap:
    ok: int
    changed: int
    unreachable: int
    failed: int
    output: str

    def __str__(self):
        return f"ok={self.ok} changed={self.changed} unreachable={self.unreachable} failed={self.failed}"


@dataclass
class Deployment:
    prefix: Path
    workdir: Path
    vars_file: Path
    inventory: Path
    ports: dict
    vars: dict
    settings: object = None  # the test session's settings (management API, admin user)
    first_apply: Recap | None = None
    supervisord_pid: int | None = None
    env: dict = field(default_factory=minimal_env)

    @property
    def venv(self) -> Path:
        return Path(self.vars["callcast_venv_dir"])

    @property
    def supervisor_conf(self) -> Path:
        return Path(self.vars["supervisor_config_file"])

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['web']}"

    def playbook(self, *args, check=False) -> Recap:
        """Apply site.yml to the test host again; return its PLAY RECAP."""
        return ansible_playbook(self.workdir, self.inventory, self.vars_file, *args, check=check)

    def ctl(self, *args, check=True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(self.venv / "bin" / "supervisorctl"), "-c", str(self.supervisor_conf), *args],
            capture_output=True, text=True, timeout=120, env=self.env, stdin=subprocess.DEVNULL,
        )
        if check:
            assert done.returncode == 0, f"supervisorctl {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def status(self) -> dict:
        """{process name: (state, pid or None)} from supervisorctl status."""
        out = self.ctl("status", check=False).stdout
        result = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                pid = re.search(r"pid (\d+)", line)
                result[parts[0]] = (parts[1], int(pid.group(1)) if pid else None)
        return result

    def start_supervisord(self):
        subprocess.run(
            [str(self.venv / "bin" / "supervisord"), "-c", str(self.supervisor_conf)],
            check=True, env=self.env, cwd=self.prefix, timeout=30, stdin=subprocess.DEVNULL,
        )
        pidfile = Path(self.vars["supervisor_pidfile"])
        wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 20, "supervisord pidfile", interval=0.2)
        self.supervisord_pid = int(pidfile.read_text())

    def stop_supervisord(self):
        if not self.supervisord_pid:
            return
        try:
            main = psutil.Process(self.supervisord_pid)
            procs = [main] + main.children(recursive=True)
        except psutil.NoSuchProcess:
            procs = []
        self.ctl("shutdown", check=False)
        _, alive = psutil.wait_procs(procs, timeout=60)
        for proc in alive:  # whatever ignored the graceful stop
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        self.supervisord_pid = None

    def health(self):
        """(status code, JSON body) of GET /health; (None, error) when nothing answers."""
        try:
            # monitoring's token: the details name what failed
            token = self.vars["callcast_health_token"]
            request = urllib.request.Request(
                self.web_url + "/health", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except (OSError, ValueError) as exc:
            return None, str(exc)

    def wait_health(self, want, timeout=120, failing=None):
        """Wait until /health answers ``want`` (and, for 503, names ``failing``)."""
        last = {}

        def ready():
            status, body = self.health()
            last["seen"] = (status, body)
            if status != want:
                return False
            return failing is None or sorted(body.get("failing", [])) == sorted(failing)

        try:
            wait_until(ready, timeout, f"/health {want}", interval=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last answer: {last.get('seen')}\n{self.tail_logs()}") from None
        return last["seen"][1]

    def tail_logs(self, lines=15) -> str:
        out = []
        for path in sorted(Path(self.vars["callcast_log_dir"]).glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            if text:
                out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)


def alert_vars(prefix: Path) -> dict:
    """supervisord alerts: crash and memmon mails land in a folder (a sendmail stand-in),
    memmon checks every 5 s and watches a test program that grows on SIGUSR1."""
    return {
        "callcast_crashmail_to": "ops@example.net",
        "callcast_sendmail": f"{sys.executable} {prefix}/opt/callcast/src/tests/ops/mailbox.py "
                             f"{prefix}/var/mail",
        "callcast_memory_limits": {"callcast-memhog": "100MB", "callcast-dialer": "1GB"},
        "supervisor_memmon_tick": 5,
        "supervisor_extra_programs": {"memhog": {
            "command": "python tests/ops/memhog.py", "priority": 400, "startsecs": 1,
            "stopwaitsecs": 5}},
    }


def build_vars(prefix: Path, repo: Path, commit: str, broker_url: str, ports: dict) -> dict:
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    data = prefix / "var" / "lib" / "callcast"
    return {
        "callcast_become": False,
        "callcast_manage_user": False,
        "callcast_user": user,
        "callcast_group": group,
        "callcast_root": str(prefix / "opt" / "callcast"),
        "callcast_venv_dir": str(venv_cache_dir()),
        "callcast_data_dir": str(data),
        "callcast_log_dir": str(prefix / "var" / "log" / "callcast"),
        "callcast_dialplan_path": str(prefix / "etc" / "asterisk" / "callcast" / "callcast.conf"),
        "callcast_repo": str(repo),
        "callcast_version": commit,
        "callcast_python": getattr(sys, "_base_executable", sys.executable),
        "callcast_demo_pbx": True,
        "callcast_database_url": f"sqlite:///{data}/callcast.db",
        "callcast_broker_url": broker_url,
        "callcast_asterisk_host": "127.0.0.1",
        "callcast_ami_port": ports["ami"],
        "callcast_ami_user": "callcast",
        "callcast_ami_secret": "ops-secret",
        "callcast_agi_bind": "127.0.0.1",
        "callcast_agi_host": "127.0.0.1",
        "callcast_agi_port": ports["agi"],
        "callcast_agi_fallback_host": "127.0.0.1",
        "callcast_agi_fallback_port": ports["agi_fallback"],
        "callcast_agi_metrics_port": ports["agi_metrics"],
        "callcast_agi_fallback_metrics_port": ports["agi_fallback_metrics"],
        "callcast_dial_template": "Local/{number}@pstn",
        "callcast_web_bind": "127.0.0.1",
        "callcast_web_port": ports["web"],
        "callcast_web_workers": 1,
        "callcast_secret_key": "ops-test-secret-ops-test-secret-ops-test-secret",
        # the test session's: its Asterisk-like client signs reports the deployed daemons check
        "callcast_call_token_secret": os.environ["CALL_TOKEN_SECRET"],
        "callcast_session_cookie_secure": False,
        "callcast_heartbeat_stale_seconds": 15,
        "callcast_health_token": "ops-test-monitoring-token",
        "callcast_dialer_metrics_base": ports["dialer_metrics"],
        "callcast_env_extra": {"PBXSIM_SPEED": "20"},
        "callcast_lifecycle_metrics_base": ports["lifecycle_metrics"],
        **alert_vars(prefix),
        "app_install_packages": False,
        "supervisor_install": "none",
        "supervisor_manage_service": False,
        "supervisor_render_main_config": True,
        "supervisor_config_file": str(prefix / "etc" / "supervisord.conf"),
        "supervisor_include_dir": str(prefix / "etc" / "supervisor.d"),
        "supervisor_socket": str(prefix / "run" / "supervisor.sock"),
        "supervisor_pidfile": str(prefix / "run" / "supervisord.pid"),
        "supervisor_log_dir": str(prefix / "var" / "log" / "supervisor"),
        "supervisor_ctl": str(venv_cache_dir() / "bin" / "supervisorctl"),
        "supervisor_dialer_numprocs": 2,
        "supervisor_worker_threads": 2,
        "supervisor_worker_shutdown_seconds": 10,
        "asterisk_config_dir": str(prefix / "etc" / "asterisk"),
        "asterisk_reload": False,
        "asterisk_user": user,
        "asterisk_group": group,
    }


INVENTORY = f"""\
[web]
{HOST} ansible_connection=local ansible_python_interpreter={sys.executable}

[workers]
{HOST}

[agi]
{HOST}

[callcast:children]
web
workers
agi

[asterisk]
{HOST}
"""


@pytest.fixture(scope="package")
def deployment():
    """The playbook applied once into a fresh prefix, supervisord running from it."""
    from app.config import load_settings

    settings = load_settings()
    workdir = Path(tempfile.mkdtemp(prefix="cc-ops-"))  # short: unix socket paths
    prefix = workdir / "p"
    vhost = f"callcast-ops-{int(time.time())}-{os.getpid()}"
    sweep_stale_vhosts(settings)
    broker_url = create_vhost(settings, vhost)
    deployed = None
    try:
        commit = snapshot_repo(workdir / "repo")
        ports = {name: free_port() for name in
                 ("web", "ami", "agi", "agi_fallback", "agi_metrics", "agi_fallback_metrics")}
        ports["dialer_metrics"] = free_hundred(2)
        ports["lifecycle_metrics"] = free_hundred(1, taken={ports["dialer_metrics"]})
        variables = build_vars(prefix, workdir / "repo", commit, broker_url, ports)
        vars_file = workdir / "vars.json"
        vars_file.write_text(json.dumps(variables, indent=1))
        inventory = workdir / "hosts.ini"
        inventory.write_text(INVENTORY)
        # an installed Asterisk's configuration, as its sample files ship it
        asterisk = Path(variables["asterisk_config_dir"])
        asterisk.mkdir(parents=True)
        (prefix / "var" / "mail").mkdir(parents=True)
        (asterisk / "manager.conf").write_text("[general]\nenabled = no\nport = 5038\n")
        (asterisk / "extensions.conf").write_text("[general]\nstatic=yes\n")
        deployed = Deployment(prefix, workdir, vars_file, inventory, ports, variables,
                              settings=settings)
        deployed.first_apply = deployed.playbook()
        deployed.start_supervisord()
        yield deployed
    finally:
        if deployed is not None:
            deployed.stop_supervisord()
        delete_vhost(settings, vhost)
        shutil.rmtree(workdir, ignore_errors=True)
