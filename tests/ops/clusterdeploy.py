"""The cluster drill's hosts deployed by the Ansible playbook (``site.yml``) instead of
started by hand: one inventory whose hosts are the namespaces of ``tests/ops/netns.py``.

Every host is applied with a local connection into its own prefix (as the single-host
ops deployment, ``tests/ops/conftest.py``), with the addresses of its namespace: the
web host binds gunicorn on its address, each PBX host its AGI daemons, and its
``callcast_pbx_name`` gives it the ``callcast-pbxagent`` program; pbxsim is a
``supervisor_extra_programs`` entry of each PBX host. Then one supervisord per host
is started inside its namespace (``ip netns exec``). Only the app, supervisor and
asterisk plays apply (no host is in the rabbitmq or postgresql group).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from app.config import get_settings
from tests.ops.clusterhosts import AMI_PORT, HEALTH_TOKEN, WEB_PORT, health, listening
from tests.ops.conftest import ANSIBLE_DIR, VENV_BIN, build_vars, minimal_env, snapshot_repo
from tests.waiting import free_port, wait_until

RECAP = re.compile(r"^(\S+)\s*:\s*ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
GROUPS = {"web": ["web"], "dialer1": ["workers"], "dialer2": ["workers"]}
LIFECYCLE_HOSTS = [host for host, groups in GROUPS.items() if "workers" in groups]


class Deployed:
    """The playbook applied to every namespace host; a supervisord per host."""

    def __init__(self, cluster, pbxs: dict, pg_name: str):
        self.cluster, self.pbxs, self.pg_name = cluster, pbxs, pg_name
        self.pg_port, self.amqp_port = free_port(), free_port()
        for host in [*GROUPS, *pbxs]:
            cluster.add_host(host)
        self.confs = {}

    def urls(self):
        gw = self.cluster.gateway
        broker = urlparse(os.environ["BROKER_URL"])
        creds = broker.netloc.rsplit("@", 1)[0] + "@" if "@" in broker.netloc else ""
        return (f"postgresql://postgres@{gw}:{self.pg_port}/{self.pg_name}",
                urlunparse(broker._replace(netloc=f"{creds}{gw}:{self.amqp_port}")))

    def host_vars(self, host, repo, commit) -> dict:
        s, addr, prefix = get_settings(), self.cluster.address(host), self.cluster.tmp / host
        database_url, broker_url = self.urls()
        ports = {"ami": AMI_PORT, "agi": 4573, "agi_fallback": 4574, "agi_metrics": 9101,
                 "agi_fallback_metrics": 9102, "web": WEB_PORT, "dialer_metrics": 9100,
                 "lifecycle_metrics": 9200}
        v = build_vars(prefix, repo, commit, broker_url, ports)
        for key in ("callcast_sendmail", "supervisor_memmon_tick"):
            v.pop(key, None)
        v.update(
            ansible_connection="local", ansible_python_interpreter=sys.executable,
            callcast_database_url=database_url, callcast_demo_pbx=False,
            callcast_crashmail_to="", callcast_memory_limits={}, supervisor_extra_programs={},
            callcast_ami_user=s.ami_user, callcast_ami_secret=s.ami_secret,
            callcast_asterisk_host=addr, callcast_agi_bind=addr, callcast_agi_host=addr,
            callcast_agi_fallback_host=addr, callcast_web_bind=addr,
            callcast_agi_allowed_peers=["127.0.0.1", f"{self.cluster.net}.0/24"],
            callcast_health_token=HEALTH_TOKEN, supervisor_dialer_numprocs=1,
            callcast_env_extra={"DIAL_TICK_MS": "250", "AMI_TIMEOUT": "2",
                                "dramatiq_worker_timeout": "100"},
        )
        if host in self.pbxs:
            v["callcast_pbx_name"] = host
            v["supervisor_extra_programs"] = {"pbxsim": {
                "command": f"python -m pbxsim --host {addr} --port {AMI_PORT} --dialplan "
                           f"{v['callcast_dialplan_path']} --speed 20 --model lastdigit "
                           f"--max-channels {self.pbxs[host]}",
                "priority": 130, "startsecs": 2, "stopwaitsecs": 10}}
        return v

    def inventory(self, repo, commit) -> dict:
        groups = {"web": {}, "workers": {}, "agi": {}}
        for host, names in {**GROUPS, **{p: ["agi"] for p in self.pbxs}}.items():
            for name in names:
                # "<host>.drill": the host "web" would be taken for the group "web"
                groups[name][f"{host}.drill"] = self.host_vars(host, repo, commit)
            prefix = self.cluster.tmp / host / "etc" / "asterisk"
            prefix.mkdir(parents=True, exist_ok=True)
            (prefix / "manager.conf").write_text("[general]\nenabled = no\nport = 5038\n")
            (prefix / "extensions.conf").write_text("[general]\nstatic=yes\n")
        children = {g: {"hosts": h} for g, h in groups.items()}
        return {"all": {"children": {
            "callcast": {"children": children},
            "asterisk": {"hosts": {f"{p}.drill": {} for p in self.pbxs}}}}}

    def apply(self):
        """Relay up, the playbook applied to every host, then each host's supervisord."""
        c = self.cluster
        c.relay({self.pg_port: ("127.0.0.1", 5432),
                 self.amqp_port: ("127.0.0.1", urlparse(os.environ["BROKER_URL"]).port or 5672)},
                dict(os.environ))
        repo = c.tmp / "repo"
        commit = snapshot_repo(repo)
        inventory = self.inventory(repo, commit)
        path = c.tmp / "hosts.json"
        path.write_text(json.dumps(inventory, indent=1))
        self.playbook(path)
        for group in inventory["all"]["children"]["callcast"]["children"].values():
            for host, v in group["hosts"].items():
                self.confs[host.removesuffix(".drill")] = v
        for host, v in self.confs.items():
            subprocess.run(["ip", "netns", "exec", c.hosts[host][0],
                            f"{v['callcast_venv_dir']}/bin/supervisord", "-c",
                            v["supervisor_config_file"]],
                           check=True, env=minimal_env(), cwd=c.tmp / host, timeout=30,
                           stdin=subprocess.DEVNULL)
        web = f"http://{c.address('web')}:{WEB_PORT}"
        for name in self.pbxs:
            wait_until(lambda: listening(c.address(name), AMI_PORT), 90, f"{name}'s pbxsim")
        wait_until(lambda: health(web)[0], 90, "/health on the web host")
        # the close waits for close_campaigns() (the drill checks the rows it purges)
        for host in LIFECYCLE_HOSTS:
            self.supervisorctl(host, "stop", "callcast-lifecycle")
        for name in self.pbxs:  # each agent consuming its queue before any activation
            log = Path(self.confs[name]["callcast_log_dir"]) / "callcast-pbxagent.stderr.log"
            wait_until(lambda: log.exists() and "dialplan agent of" in log.read_text(), 90,
                       f"{name}'s dialplan agent")
        return self

    def playbook(self, inventory: Path):
        home = self.cluster.tmp / "ansible-home"
        env = minimal_env(ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"), ANSIBLE_HOME=str(home),
                          ANSIBLE_LOCAL_TEMP=str(home / "tmp"), ANSIBLE_NOCOLOR="1",
                          ANSIBLE_REMOTE_TEMP=str(home / "remote-tmp"),
                          ANSIBLE_RETRY_FILES_ENABLED="0")
        # one run at a time on this machine: they share the cached virtual environment
        with open(Path(tempfile.gettempdir()) / "callcast-ops-ansible.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = subprocess.run(
                [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), "site.yml"],
                cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=900,
                stdin=subprocess.DEVNULL)
        output = done.stdout + done.stderr
        (self.cluster.tmp / "ansible.log").write_text(output)
        recaps = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in RECAP.finditer(done.stdout)}
        assert done.returncode == 0 and len(recaps) == 3 + len(self.pbxs) and all(
            r == (0, 0) for r in recaps.values()), (
            f"ansible-playbook rc={done.returncode} {recaps}:\n{output[-6000:]}")

    def supervisorctl(self, host, *args):
        v = self.confs[host]
        return subprocess.run([f"{v['callcast_venv_dir']}/bin/supervisorctl", "-c",
                               v["supervisor_config_file"], *args], check=True, timeout=60,
                              capture_output=True, env=minimal_env(), stdin=subprocess.DEVNULL)

    def close_campaigns(self):
        """The lifecycle programs back: finished campaigns drain and close."""
        for host in LIFECYCLE_HOSTS:
            self.supervisorctl(host, "start", "callcast-lifecycle")

    @property
    def web_url(self):
        return f"http://{self.cluster.address('web')}:{WEB_PORT}"

    def close(self):
        for host, v in self.confs.items():
            subprocess.run([f"{v['callcast_venv_dir']}/bin/supervisorctl", "-c",
                            v["supervisor_config_file"], "shutdown"], capture_output=True,
                           env=minimal_env(), timeout=60, stdin=subprocess.DEVNULL)
