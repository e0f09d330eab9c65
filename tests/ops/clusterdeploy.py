"""The cluster drill's hosts deployed by the Ansible playbook (``site.yml``) instead of
started by hand, with the shipped multi-PBX inventory ``inventories/cluster/``.

That inventory's groups, group_vars and host_vars decide what runs where (the
scheduler on the first workers host, each PBX host's AGI daemons, recorder and
``callcast-pbxagent`` of its own ``callcast_pbx_name``). A second inventory source
written here gives each of its hosts, as host vars (which win over group_vars), the
namespace of ``tests/ops/netns.py`` it lives in: a local connection into its own
prefix (as the single-host ops deployment, ``tests/ops/conftest.py``), that
namespace's addresses, and pbxsim as a ``supervisor_extra_programs`` entry of each
PBX host. Then one supervisord per host is started inside its namespace (``ip netns
exec``). The mq1 and db1 hosts are left out (``--limit``): the drill's RabbitMQ and
PostgreSQL are this machine's, relayed into the namespaces.
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
CLUSTER_INVENTORY = ANSIBLE_DIR / "inventories" / "cluster" / "hosts.yml"
# each namespace host as inventories/cluster/hosts.yml names it
INVENTORY_NAMES = {"web": "web1.example.net", "dialer1": "dial1.example.net",
                   "dialer2": "dial2.example.net", "pbx1": "pbx1.example.net",
                   "pbx2": "pbx2.example.net", "pbx3": "pbx3.example.net"}


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
            ansible_host=addr, callcast_media_dir=f"{v['callcast_data_dir']}/media",
            callcast_ami_permit=[f"{self.cluster.net}.0/255.255.255.0",
                                 "127.0.0.1/255.255.255.255"],
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

    def inventory_names(self) -> list[str]:
        return [INVENTORY_NAMES[host] for host in [*GROUPS, *self.pbxs]]

    def inventory(self, repo, commit) -> dict:
        """The host vars that put each host of inventories/cluster in its namespace."""
        hosts = {}
        for host in [*GROUPS, *self.pbxs]:
            hosts[INVENTORY_NAMES[host]] = self.host_vars(host, repo, commit)
            prefix = self.cluster.tmp / host / "etc" / "asterisk"
            prefix.mkdir(parents=True, exist_ok=True)
            (prefix / "manager.conf").write_text("[general]\nenabled = no\nport = 5038\n")
            (prefix / "extensions.conf").write_text("[general]\nstatic=yes\n")
        return {"all": {"hosts": hosts}}

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
        names = {name: host for host, name in INVENTORY_NAMES.items()}
        for name, v in inventory["all"]["hosts"].items():
            self.confs[names[name]] = v
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
                [str(VENV_BIN / "ansible-playbook"), "-i", str(CLUSTER_INVENTORY), "-i",
                 str(inventory), "--limit", ",".join(self.inventory_names()), "site.yml"],
                cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=900,
                stdin=subprocess.DEVNULL)
        output = done.stdout + done.stderr
        (self.cluster.tmp / "ansible.log").write_text(output)
        recaps = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in RECAP.finditer(done.stdout)}
        assert done.returncode == 0 and set(recaps) == set(self.inventory_names()) and all(
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
