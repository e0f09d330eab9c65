"""The cluster drill's hosts (``test_cluster.py``): the processes of each role, started
with ``ip netns exec`` in the namespaces of ``tests/ops/netns.py``.

Hosts: ``db`` (the root namespace: PostgreSQL and RabbitMQ on 127.0.0.1, reached
through the relay on the bridge address), ``web`` (gunicorn, the scheduler, the
lifecycle worker and the AMI UserEvent recorder, which watches every PBX of the
pool), ``dialer1`` and ``dialer2`` (a dramatiq dialer each), and one host per PBX
(pbxsim on its own address, its AGI daemon and fallback daemon, its dialplan
agent ``python -m tasks.pbxagent NAME``). Every host gets only the bridge
addresses: DATABASE_URL and BROKER_URL name the relay.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import urllib.error
import urllib.request
from urllib.parse import urlparse, urlunparse

from tests.ops.netns import Cluster
from tests.tasks.stack import VENV_BIN
from tests.waiting import free_port, wait_until

AMI_PORT, AGI_PORT, FALLBACK_PORT, WEB_PORT = 5038, 4573, 4574, 8000
HEALTH_TOKEN = "cluster-drill-token"


def listening(address, port) -> bool:
    try:
        socket.create_connection((address, port), timeout=0.3).close()
        return True
    except OSError:
        return False


def health(web_url):
    """(status, body) of the web host's /health with monitoring's token; (None, error)."""
    request = urllib.request.Request(web_url + "/health",
                                     headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except OSError as exc:
        return None, str(exc)


class Hosts:
    """The processes of the drill on a ``Cluster``; ``pbxs`` is {name: capacity}."""

    def __init__(self, cluster: Cluster, pbxs: dict, pg_name: str, speed: float):
        self.cluster, self.pbxs, self.speed = cluster, pbxs, speed
        self.pg_port, self.amqp_port = free_port(), free_port()
        for host in ["web", "dialer1", "dialer2", *pbxs]:
            cluster.add_host(host)
        gw = cluster.gateway
        broker = urlparse(os.environ["BROKER_URL"])
        creds = broker.netloc.rsplit("@", 1)[0] + "@" if "@" in broker.netloc else ""
        self.env = dict(
            os.environ, LOG_LEVEL="INFO", PYTHONUNBUFFERED="1", METRICS_PORT="0",
            dramatiq_worker_timeout="100", DIAL_TICK_MS="250", AMI_TIMEOUT="2",
            DATABASE_URL=f"postgresql://postgres@{gw}:{self.pg_port}/{pg_name}",
            BROKER_URL=urlunparse(broker._replace(netloc=f"{creds}{gw}:{self.amqp_port}")),
            AGI_ALLOWED_PEERS=f"127.0.0.1, {cluster.net}.0/24", HEALTH_TOKEN=HEALTH_TOKEN,
            SECRET_KEY=secrets.token_hex(32),
            AGI_PORT=str(AGI_PORT), AGI_FALLBACK_PORT=str(FALLBACK_PORT), AMI_PORT=str(AMI_PORT),
        )
        self.agents, self.sims = {}, {}

    def start(self):
        c = self.cluster
        c.relay({self.pg_port: ("127.0.0.1", 5432),
                 self.amqp_port: ("127.0.0.1", urlparse(os.environ["BROKER_URL"]).port or 5672)},
                dict(os.environ))
        for name in self.pbxs:
            self.start_pbx(name)
        self.start_web()
        for host in ("dialer1", "dialer2"):
            c.spawn(host, "dialer", [str(VENV_BIN / "dramatiq"), "tasks.dialing", "-Q", "dialing",
                                     "-p", "1", "-t", "8"], self.env)
        return self

    def pbx_env(self, name) -> dict:
        addr = self.cluster.address(name)
        return dict(self.env, AMI_HOST=addr, AGI_HOST=addr, AGI_BIND=addr,
                    AGI_FALLBACK_HOST=addr,
                    DIALPLAN_PATH=str(self.cluster.tmp / name / "callcast.conf"))

    def start_pbx(self, name):
        """The PBX host's AGI daemons, its agent (which writes the dialplan file), then pbxsim."""
        c, addr, env = self.cluster, self.cluster.address(name), self.pbx_env(name)
        journal = c.tmp / name
        journal.mkdir(exist_ok=True)
        if name not in self.sims:  # a restart keeps the AGI daemons that were not killed
            c.spawn(name, "agi", [sys.executable, "-m", "agi", "--no-metrics", "--journal",
                                  str(journal / "agi.jsonl")], env)
            c.spawn(name, "agi-fallback", [sys.executable, "-m", "agi", "--source", "fallback",
                                           "--port", str(FALLBACK_PORT), "--no-metrics",
                                           "--journal", str(journal / "fallback.jsonl")], env)
        dialplan = journal / "callcast.conf"
        dialplan.unlink(missing_ok=True)
        self.agents[name] = c.spawn(name, "pbxagent", [sys.executable, "-m", "tasks.pbxagent", name], env)
        wait_until(dialplan.exists, 60, f"{name}'s agent to write its dialplan file")
        self.sims[name] = c.spawn(name, "pbxsim", [
            sys.executable, "-m", "pbxsim", "--host", addr, "--port", str(AMI_PORT),
            "--dialplan", str(dialplan), "--speed", str(self.speed), "--model", "lastdigit",
            "--max-channels", str(self.pbxs[name]), "--user", env.get("AMI_USER", "callcast"),
            "--secret", env.get("AMI_SECRET", "callcast")], env)
        for port in (AMI_PORT, AGI_PORT, FALLBACK_PORT):
            wait_until(lambda: listening(addr, port), 30, f"{name} port {port}")

    def kill_pbx(self, name):
        """``kill -9`` of the PBX's pbxsim and its agent (its AGI daemons stay)."""
        self.sims[name].kill9()
        self.agents[name].kill9()

    def start_web(self):
        from app.models import Heartbeat

        c, addr = self.cluster, self.cluster.address("web")
        c.spawn("web", "gunicorn", [str(VENV_BIN / "gunicorn"), "--bind", f"{addr}:{WEB_PORT}",
                                    "--workers", "1", "app:create_app()"], self.env)
        c.spawn("web", "scheduler", [sys.executable, "-m", "tasks.scheduler"], self.env)
        # the drain and the close wait for close_campaigns(): the drill checks the working
        # rows (events, attempts) that the close archives and purges
        c.spawn("web", "lifecycle", [str(VENV_BIN / "dramatiq"), "tasks", "-Q", "default",
                                     "webhooks", "mail", "tts", "-p", "1", "-t", "2"], self.env)
        c.spawn("web", "ami-events", [sys.executable, "-m", "agi.amievents"],
                dict(self.env, AGI_JOURNAL_PATH=str(c.tmp / "ami-journal.jsonl")))
        wait_until(lambda: listening(addr, WEB_PORT) and health(self.web_url)[0], 60,
                   "/health on the web host")
        wait_until(lambda: Heartbeat.select().where(Heartbeat.kind == "ami-events").exists(),
                   60, "the AMI UserEvent recorder to log in")

    def close_campaigns(self):
        """The lifecycle's drain and finalize queues consumed: finished campaigns close."""
        self.cluster.spawn("web", "closer", [str(VENV_BIN / "dramatiq"), "tasks", "-Q", "drain",
                                             "finalize", "-p", "1", "-t", "2"], self.env)

    @property
    def web_url(self):
        return f"http://{self.cluster.address('web')}:{WEB_PORT}"
