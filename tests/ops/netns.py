"""Hosts as network namespaces for the cluster drill (``test_cluster.py``).

One bridge in the root namespace carries a /24 of ``10.77.X.0`` (X picked free);
each host is a namespace with a veth pair on that bridge, its own address and no
default route, so a host reaches nothing but the bridge's addresses. The root
namespace holds ``10.77.X.1``: it is the db/broker host, where a relay
(``tests/ops/relay.py``) listens on that address only and forwards to the
PostgreSQL and RabbitMQ of this machine on 127.0.0.1. Processes are started with
``ip netns exec`` in their own session (``tests.tasks.stack.Proc``) so a drill
can ``kill -9`` one. ``close`` stops every process, deletes the namespaces and
the bridge, whatever failed before.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

from tests.tasks.stack import ROOT, Proc
from tests.waiting import wait_until


def ip(*args, check=True):
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def free_subnet() -> str:
    """``10.77.X`` not on any interface of this machine."""
    used = ip("-4", "-o", "addr").stdout
    for x in [0, *range(1, 255)]:
        if f"10.77.{x}." not in used:
            return f"10.77.{x}"
    raise RuntimeError("no free 10.77.X.0/24")


class Cluster:
    """A bridge, namespaces on it and the processes started in them."""

    def __init__(self, tmp: Path):
        self.tmp = Path(tmp)
        self.tag = secrets.token_hex(3)
        self.bridge = f"ccb{self.tag}"
        self.net = free_subnet()
        self.gateway = f"{self.net}.1"  # the root namespace: db/broker host
        self.hosts = {}  # name -> (namespace, address)
        self.procs = []

    def up(self):
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        return self

    def add_host(self, name: str) -> str:
        """A namespace ``cc<tag>-<name>`` on the bridge; returns its address."""
        index = len(self.hosts) + 1
        ns, address = f"cc{self.tag}-{name}", f"{self.net}.{10 + index}"
        outer, inner = f"cc{self.tag}o{index}", f"cc{self.tag}i{index}"
        ip("netns", "add", ns)
        self.hosts[name] = (ns, address)
        ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        ip("link", "set", outer, "master", self.bridge)
        ip("link", "set", outer, "up")
        ip("link", "set", inner, "netns", ns)
        ip("-n", ns, "addr", "add", f"{address}/24", "dev", inner)
        ip("-n", ns, "link", "set", inner, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        return address

    def address(self, host: str) -> str:
        return self.hosts[host][1]

    def spawn(self, host: str, name: str, argv: list, env: dict) -> Proc:
        """``argv`` in ``host``'s namespace (the root namespace for host "db")."""
        prefix = [] if host == "db" else ["ip", "netns", "exec", self.hosts[host][0]]
        proc = Proc(f"{host}/{name}", prefix + list(argv), env,
                    self.tmp / f"{host}-{name}-{len(self.procs)}.log")
        self.procs.append(proc)
        return proc

    def relay(self, pairs: dict, env: dict) -> Proc:
        """The relay on the gateway address: {listen port: (target host, port)}."""
        specs = [f"{self.gateway}:{lport}={thost}:{tport}" for lport, (thost, tport) in pairs.items()]
        proc = self.spawn("db", "relay", [sys.executable, str(ROOT / "tests/ops/relay.py"), *specs], env)
        wait_until(lambda: "relay listening" in Path(proc.log_path).read_text() or not proc.alive() and
                   _raise(f"the relay exited: {proc.tail()}"), 15, "the relay")
        return proc

    def logs(self, lines=30) -> str:
        return "\n\n".join(f"--- {p.name} ---\n{p.tail(lines)}" for p in self.procs)

    def close(self):
        for proc in reversed(self.procs):
            try:
                proc.stop(timeout=10)
            except Exception as exc:  # go on: the namespaces must go
                print(f"stopping {proc.name}: {exc}")
        for ns, _ in self.hosts.values():
            for pid in ip("netns", "pids", ns, check=False).stdout.split():
                subprocess.run(["kill", "-9", pid], check=False)  # ours: started in this ns
            ip("netns", "del", ns, check=False)
        ip("link", "del", self.bridge, check=False)


def _raise(message):
    raise RuntimeError(message)
