"""Network benchmark: dockyard's network service against Docker's engine, in one run.

Measured for each contender, interleaved round by round (dockyard, docker,
dockyard, …):

- **create**: create a bridge network (``NetworkService.create_network``
  in-process; ``POST /networks/create`` through docker-py for Docker);
- **attach**: attach a running sandbox to it (``connect`` of a network
  namespace; ``POST /networks/ID/connect`` of a running container);
- **c2c**: TCP throughput between two sandboxes on one bridge;
- **published**: TCP throughput from the host to ``127.0.0.1:<published
  port>`` (dockyard: kernel DNAT; Docker: its default ``docker-proxy``, which
  serves 127.0.0.1 even when its iptables rules are on).

Traffic comes from one small Python sender/receiver (``python3 -c``) run
inside each network namespace with ``nsenter --net=…`` for both
contenders, so the tool is the same and only the network path differs.
(busybox ``nc`` stops after a few KiB on this host: see the network
report.) The sender times from connect to the receiver's byte count.

Docker runs as Debian's ``dockerd`` with a private ``--data-root``,
``--exec-root`` and socket, ``--bridge=none`` and ``--iptables=false``:
the host is shared, and Docker's iptables setup would turn the host's
FORWARD policy to DROP for everyone. With iptables off, Docker's
container-to-container path is unchanged (bridge + veth) and its
127.0.0.1 path is docker-proxy, as by default. The image is the busybox
rootfs of ``dockyard.busybox``, ``docker import``-ed.

Usage: ``.venv/bin/python bench/network.py [--rounds 5] [--mib 1024] [--no-docker]
[--write-doc]`` (as root).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import benchdoc  # bench/ is on sys.path when a benchmark runs as a script

from dockyard.busybox import make_rootfs
from dockyard.network import IPAM, IPAMConfig, NetworkService, parse_publish

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(os.path.dirname(HERE), "docs", "benchmarks.md")
BEGIN, END = "<!-- bench/network.py: begin -->", "<!-- bench/network.py: end -->"

RECEIVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1)
print("ready", flush=True)
c, _ = s.accept(); n = 0
buf = bytearray(1 << 20)
while True:
    k = c.recv_into(buf)
    if not k:
        break
    n += k
c.sendall(str(n).encode()); c.close()
"""

SENDER = """
import socket, sys, time

host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
buf = b"\\0" * (1 << 20)
s = socket.create_connection((host, port))
t = time.perf_counter(); left = total
while left > 0:
    s.sendall(buf if left >= len(buf) else buf[:left]); left -= len(buf)
s.shutdown(socket.SHUT_WR)
got = int(s.recv(64)); dt = time.perf_counter() - t
assert got == total, (got, total)
print(total / dt / (1 << 20))
"""


def sh(*args: str, **kw: object) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True,
                          **kw).stdout  # type: ignore[call-overload, no-any-return]


def throughput(server_ns: str, client_ns: str | None, host: str, port: int, mib: int,
               listen_port: int) -> float:
    """MiB/s from ``client_ns`` (None = the host) to ``host:port``; the receiver listens
    on ``listen_port`` in ``server_ns``."""
    rx = subprocess.Popen(["nsenter", f"--net={server_ns}", sys.executable, "-c", RECEIVER,
                           str(listen_port)], stdout=subprocess.PIPE, text=True)
    try:
        assert rx.stdout is not None and rx.stdout.readline().strip() == "ready"
        pre = ["nsenter", f"--net={client_ns}"] if client_ns else []
        out = sh(*pre, sys.executable, "-c", SENDER, host, str(port), str(mib << 20),
                 timeout=300)
        return float(out)
    finally:
        rx.wait(30)


class Dockyard:
    name = "dockyard"

    def __init__(self, work: str) -> None:
        self.prefix = "dyb" + os.urandom(3).hex()
        self.svc = NetworkService(os.path.join(work, "dy"), os.path.join(work, "dy-run"),
                                  link_prefix=self.prefix, table=self.prefix, dns=False)
        self.ns = []
        for i in range(2):
            name = f"{self.prefix}-{i}"
            sh("ip", "netns", "add", name)
            sh("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
            self.ns.append(f"/var/run/netns/{name}")
        self.n = 0

    def create_attach(self, subnet: str) -> tuple[float, float]:
        self.n += 1
        t0 = time.perf_counter()
        self.svc.create_network(f"b{self.n}", ipam_=IPAM(Config=[IPAMConfig(Subnet=subnet)]))
        t1 = time.perf_counter()
        self.svc.connect(f"b{self.n}", "x" * 64, self.ns[0])
        t2 = time.perf_counter()
        self.svc.disconnect(f"b{self.n}", "x" * 64)
        self.svc.remove_network(f"b{self.n}")
        return t1 - t0, t2 - t1

    def setup_traffic(self, subnet: str) -> None:
        self.svc.create_network("tp", ipam_=IPAM(Config=[IPAMConfig(Subnet=subnet)]))
        self.srv = self.svc.connect("tp", "s" * 64, self.ns[0]).IPv4Address.split("/")[0]
        self.svc.connect("tp", "c" * 64, self.ns[1])
        self.pub = self.svc.publish("tp", "s" * 64, parse_publish("127.0.0.1::5001"))[0].host_port

    def c2c(self, mib: int) -> float:
        return throughput(self.ns[0], self.ns[1], self.srv, 5000, mib, 5000)

    def published(self, mib: int) -> float:
        return throughput(self.ns[0], None, "127.0.0.1", self.pub, mib, 5001)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.svc.destroy()
        for p in self.ns:
            subprocess.run(["ip", "netns", "del", os.path.basename(p)], check=False)


class Docker:
    name = "docker"

    def __init__(self, work: str) -> None:

        self.dir = os.path.join(work, "docker")
        self.exec_root = tempfile.mkdtemp(prefix="dyb-", dir="/tmp")  # short socket paths
        sock = os.path.join(self.exec_root, "d.sock")
        self.log = open(os.path.join(work, "dockerd.log"), "w")
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", self.dir, "--exec-root", os.path.join(self.exec_root, "x"),
             "--pidfile", os.path.join(self.exec_root, "d.pid"), "-H", f"unix://{sock}",
             "--iptables=false", "--ip6tables=false", "--bridge=none"],
            stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self._start(sock, work)
        except BaseException:
            self.close()
            raise

    def _start(self, sock: str, work: str) -> None:
        import docker

        for _ in range(600):
            if os.path.exists(sock):
                break
            if self.proc.poll() is not None:
                raise SystemExit(f"dockerd exited; see {self.log.name}")
            time.sleep(0.1)
        self.client = docker.DockerClient(base_url=f"unix://{sock}", timeout=120)
        rootfs = os.path.join(work, "rootfs")
        make_rootfs(rootfs)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "-H", f"unix://{sock}", "import", "-", "dybench/busybox"],
                       stdin=tar.stdout, check=True, capture_output=True)
        tar.wait()
        # A container in "none" mode cannot join other networks: give it a home network.
        self.client.networks.create("home", driver="bridge", ipam=self._ipam(next(SUBNETS)))
        self.ctr = [self.client.containers.run("dybench/busybox", ["sleep", "3600"], detach=True,
                                               network="home")]
        self.n = 0

    @staticmethod
    def _ipam(subnet: str) -> object:
        import docker.types

        return docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])

    def _netns(self, ctr: object) -> str:
        ctr.reload()  # type: ignore[attr-defined]
        return f"/proc/{ctr.attrs['State']['Pid']}/ns/net"  # type: ignore[attr-defined]

    def create_attach(self, subnet: str) -> tuple[float, float]:
        self.n += 1
        ipam = self._ipam(subnet)
        t0 = time.perf_counter()
        net = self.client.networks.create(f"b{self.n}", driver="bridge", ipam=ipam)
        t1 = time.perf_counter()
        net.connect(self.ctr[0])
        t2 = time.perf_counter()
        net.disconnect(self.ctr[0])
        net.remove()
        return t1 - t0, t2 - t1

    def setup_traffic(self, subnet: str) -> None:
        ipam = self._ipam(subnet)
        self.net = self.client.networks.create("tp", driver="bridge", ipam=ipam)
        self.s = self.client.containers.run("dybench/busybox", ["sleep", "3600"], detach=True,
                                            network="tp", ports={"5001/tcp": ("127.0.0.1", None)})
        self.c = self.client.containers.run("dybench/busybox", ["sleep", "3600"], detach=True,
                                            network="tp")
        self.s.reload()
        self.srv = self.s.attrs["NetworkSettings"]["Networks"]["tp"]["IPAddress"]
        self.pub = int(self.s.attrs["NetworkSettings"]["Ports"]["5001/tcp"][0]["HostPort"])

    def c2c(self, mib: int) -> float:
        return throughput(self._netns(self.s), self._netns(self.c), self.srv, 5000, mib, 5000)

    def published(self, mib: int) -> float:
        return throughput(self._netns(self.s), None, "127.0.0.1", self.pub, mib, 5001)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            for c in self.client.containers.list(all=True):
                c.remove(force=True)
            for n in self.client.networks.list():
                if n.name not in ("none", "host"):
                    n.remove()
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()
        subprocess.run(["umount", "-R", self.dir], check=False, capture_output=True)
        shutil.rmtree(self.exec_root, ignore_errors=True)


def _free_subnets() -> Iterator[str]:
    from dockyard.network.links import host_routes

    taken = [n for n in host_routes() if n.version == 4]
    import ipaddress

    for i in range(0, 256):
        n = ipaddress.IPv4Network(f"10.214.{i}.0/24")
        if not any(n.overlaps(t) for t in taken):  # type: ignore[arg-type]
            yield str(n)


SUBNETS = _free_subnets()


def med(xs: list[float]) -> str:
    return f"{statistics.median(xs):.1f}" if xs else "—"


def rng(xs: list[float]) -> str:
    return f"{min(xs):.1f}–{max(xs):.1f}" if xs else "—"


def table(results: dict[str, dict[str, list[float]]]) -> str:
    rows = [("create network", "create", "ms", 1000.0), ("attach a sandbox", "attach", "ms",
                                                          1000.0),
            ("TCP container → container", "c2c", "MiB/s", 1.0),
            ("TCP host → 127.0.0.1:published", "published", "MiB/s", 1.0)]
    names = list(results)
    lines = ["| measure | " + " | ".join(f"{n} median (min–max)" for n in names)
             + (" | dockyard / docker |" if len(names) == 2 else " |"),
             "| --- |" + " ---: |" * len(names) + (" ---: |" if len(names) == 2 else "")]
    for label, key, unit, scale in rows:
        cells = []
        for n in names:
            xs = [x * scale for x in results[n][key]]
            cells.append(f"{med(xs)} {unit} ({rng(xs)})")
        line = f"| {label} | " + " | ".join(cells) + " |"
        if len(names) == 2 and results[names[0]][key] and results[names[1]][key]:
            r = statistics.median(results[names[0]][key]) / statistics.median(results[names[1]][key])
            line += f" {r:.2f}× |"
        lines.append(line)
    return "\n".join(lines) + "\n"


def write_doc(text_table: str, command: str, mib: int) -> None:
    machine = (f"{os.cpu_count()} cores, kernel {platform.release()}, "
               f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    section = (f"{BEGIN}\n## Networks: create, attach, TCP throughput\n\n"
               f"Command: `{command}` ({machine}); {mib} MiB per transfer. For times lower "
               f"is better, for MiB/s higher. Docker runs with `--iptables=false` (shared "
               f"host), so its 127.0.0.1 path is docker-proxy, as it is by default.\n\n"
               f"{text_table}{END}\n")
    benchdoc.write_section(BEGIN, END, section)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--no-docker", action="store_true")
    ap.add_argument("--write-doc", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/network.py needs root")
    work = tempfile.mkdtemp(prefix="dy-bench-net-", dir="/tmp")
    subnets = SUBNETS
    contenders: list[Dockyard | Docker] = []
    try:
        contenders.append(Dockyard(work))
        if not args.no_docker and shutil.which("dockerd"):
            contenders.append(Docker(work))
        results = {c.name: {"create": [], "attach": [], "c2c": [], "published": []}
                   for c in contenders}
        for c in contenders:
            c.create_attach(next(subnets))  # warm-up
        for _ in range(args.rounds):
            for c in contenders:
                create, attach = c.create_attach(next(subnets))
                results[c.name]["create"].append(create)
                results[c.name]["attach"].append(attach)
        for c in contenders:
            c.setup_traffic(next(subnets))
        for _ in range(args.rounds):
            for c in contenders:
                results[c.name]["c2c"].append(c.c2c(args.mib))
                results[c.name]["published"].append(c.published(args.mib))
        out = table(results)
        print(out)
        if args.write_doc:
            write_doc(out, "sudo .venv/bin/python bench/network.py --write-doc", args.mib)
    finally:
        for c in contenders:
            c.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
