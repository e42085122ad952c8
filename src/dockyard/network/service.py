"""``NetworkService``: networks, endpoints, published ports and DNS in one process.

The engine daemon makes one at start (``NetworkService(root, run_root)``),
calls ``restore()`` (bridges, rules, port reservations and DNS listeners
back from the records, without touching running sandboxes), then
``connect``/``publish`` per container. The API's ``/networks`` routes call
``create_network``/``list_networks``/``inspect``/``remove_network``/``prune``.

Every mutation follows one shape, so a failure leaves nothing behind: take
the lock, work on a copy of the records, make the kernel objects (undoing
them if a later step fails), render and apply the firewall, then save the
records. Firewall rules are re-derived from all records each time
(``Backend.apply``), never patched rule by rule.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import re
import secrets
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from . import files, firewall, ipam, links
from .dns import DNSServer, Resolution, host_resolvers
from .drivers import BUILTINS, Context
from .drivers import get as get_driver
from .errors import Conflict, Forbidden, InvalidParameter, NetworkError, NetworkNotFound, NotFound
from .ipam import DEFAULT_BRIDGE_SUBNET, DEFAULT_POOLS, AddressPool
from .model import IPAM, Endpoint, IPAMConfig, Network, PortMapping
from .portmap import PortReservations
from .store import Store

PREDEFINED = ("bridge", "host", "none")
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _matches(n: Network, filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if not values:
            continue
        if key == "name":
            ok = any(v in n.Name for v in values)
        elif key == "id":
            ok = any(n.Id.startswith(v) for v in values)
        elif key == "driver":
            ok = n.Driver in values
        elif key == "label":
            ok = all((n.Labels.get(v.partition("=")[0]) == v.partition("=")[2])
                     if "=" in v else v in n.Labels for v in values)
        elif key == "type":
            bad = [v for v in values if v not in ("custom", "builtin")]
            if bad:
                raise InvalidParameter(f"invalid filter 'type={bad[0]}': expected custom or "
                                       f"builtin")
            ok = ("builtin" if n.predefined else "custom") in values
        elif key == "dangling":
            want = values[-1].lower() in ("true", "1")
            ok = (not n.endpoints) == want and not n.predefined
        else:
            raise InvalidParameter(f"invalid filter '{key}'")
        if not ok:
            return False
    return True


def _check_link(spec: str) -> str:
    """``target[:alias]`` (``--link``) → ``target:alias``; a name each side."""
    target, _, alias = spec.partition(":")
    target, alias = target.strip("/"), alias.rpartition("/")[2] or target.strip("/")
    for part in (target, alias):
        if not NAME_RE.match(part):
            raise InvalidParameter(f"invalid --link {spec!r}: expected name[:alias] with "
                                   f"names of [a-zA-Z0-9][a-zA-Z0-9_.-]")
    return f"{target}:{alias}"


class NetworkService:
    """Networks for one daemon. See the module docstring for the life cycle.

    ``link_prefix`` starts every host link we create (bridges ``<p>b…``,
    veths ``<p>v…``); ``table`` names our nftables tables (iptables: our ``<TABLE>-*``
    chains). Tests pass per-test values so services run side by side; the daemon keeps
    the defaults. ``firewall_backend`` forces ``nft`` or ``iptables`` (default: nft where
    it works, see ``firewall.select``).
    """

    def __init__(self, root: str, run_root: str, *, link_prefix: str = "dy-",
                 table: str = "dockyard", default_bridge: str = "dockyard0",
                 default_pools: Iterable[AddressPool] = DEFAULT_POOLS,
                 dns_upstreams: list[str] | None = None, dns: bool = True,
                 dns_port: int = 53, firewall_backend: str = "") -> None:
        if len(link_prefix) > 11:
            raise InvalidParameter(f"link prefix {link_prefix!r} is too long (max 11 characters)")
        self.root, self.run_root = root, run_root
        self.ctx = Context(link_prefix=link_prefix, default_bridge=default_bridge)
        self.table = table
        self.firewall = firewall.select(table, firewall_backend)
        self.pools = list(default_pools)
        self.dns_upstreams = dns_upstreams
        self._store = Store(root)
        self._lock = threading.RLock()
        self._nets: dict[str, Network] = self._store.load()
        self._ports = PortReservations()
        self._dns = DNSServer(self._resolve, port=dns_port) if dns else None
        self._dns_index: dict[str, str] = {}  # listen address → network id
        self._fw_applied: firewall.RuleSet | None = None  # what our last apply put in place
        self.dns_failures: dict[str, str] = {}  # listen address → why it is not served

    # -- lookup ---------------------------------------------------------
    def _find(self, nets: dict[str, Network], ref: str) -> Network:
        """By full id, exact name, then unique id prefix (Docker's order)."""
        if ref in nets:
            return nets[ref]
        for n in nets.values():
            if n.Name == ref:
                return n
        hits = [n for n in nets.values() if n.Id.startswith(ref)] if ref else []
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise Conflict(f"network {ref} is ambiguous ({len(hits)} matches found based on ID "
                           f"prefix)")
        raise NetworkNotFound(ref)

    def get(self, ref: str) -> Network:
        with self._lock:
            return copy.deepcopy(self._find(self._nets, ref))

    def list_networks(self, filters: dict[str, list[str]] | None = None) -> list[Network]:
        """``docker network ls`` with Docker's filters: ``name`` (substring), ``id`` (prefix),
        ``driver``, ``label`` (``k`` or ``k=v``), ``type`` (``custom``/``builtin``),
        ``dangling`` (``true``: no endpoints)."""
        with self._lock:
            nets = [copy.deepcopy(n) for n in sorted(self._nets.values(), key=lambda n: n.Name)]
        return [n for n in nets if _matches(n, filters or {})]

    def inspect(self, ref: str) -> dict[str, object]:
        return self.get(ref).inspect()

    # -- create / remove --------------------------------------------------
    def create_network(self, name: str, driver: str = "bridge", ipam_: IPAM | None = None, *,
                       options: dict[str, str] | None = None,
                       labels: dict[str, str] | None = None, internal: bool = False,
                       attachable: bool = False, enable_ipv6: bool = False,
                       _predefined: bool = False) -> Network:
        """Create a network (``docker network create``); returns its record.

        Errors: InvalidParameter (name, driver, CIDR, gateway, options),
        Conflict (name taken, overlapping subnet), PoolExhausted.
        """
        if not NAME_RE.match(name or ""):
            raise InvalidParameter(f"invalid network name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                                   f"are allowed")
        if name in PREDEFINED and not _predefined:
            raise Forbidden(f"operation is not permitted on predefined {name} network")
        drv = get_driver(driver)
        ipam_ = ipam_ or IPAM()
        if ipam_.Driver not in ("", "default"):
            raise InvalidParameter(f'plugin "{ipam_.Driver}" not found: unknown IPAM driver')
        configs = [ipam.validate_config(c) for c in ipam_.Config]
        with self._lock, self._store.locked():
            nets = self._store.load()  # another process sharing the root may have written
            if any(n.Name == name for n in nets.values()):
                raise Conflict(f"network with name {name} already exists")
            net = Network(Name=name, Id=secrets.token_hex(32), Created=_now(), Driver=drv.name,
                          EnableIPv6=enable_ipv6, Internal=internal, Attachable=attachable,
                          Options=dict(options or {}), Labels=dict(labels or {}),
                          predefined=_predefined)
            net.IPAM = IPAM(Driver="default", Options=dict(ipam_.Options), Config=configs)
            drv.validate(net)
            if drv.uses_ipam:
                self._assign_subnets(nets, net, enable_ipv6)
            if drv.name == "bridge":
                net.bridge = BUILTINS["bridge"].bridge_name(self.ctx, net)  # type: ignore[attr-defined]
            drv.create(self.ctx, net)
            nets[net.Id] = net
            old = self._nets
            try:
                self._apply_firewall(nets)
                self._nets = nets
                self._sync_dns(require=net.Id)
                self._store.save(nets)
            except BaseException:
                del nets[net.Id]
                self._nets = old
                self._sync_dns()
                drv.delete(self.ctx, net)
                self._apply_firewall(nets)
                raise
            return copy.deepcopy(net)

    def _assign_subnets(self, nets: dict[str, Network], net: Network, v6: bool) -> None:
        taken = [(n.Name, ipaddress.ip_network(c.Subnet))
                 for n in nets.values() for c in n.subnets()]
        for c in net.IPAM.Config:
            # macvlan/ipvlan networks may share their parent's LAN with each
            # other only on distinct parents; overlap is refused as Docker does.
            ipam.check_no_overlap(c, taken)
            taken.append((net.Name, ipaddress.ip_network(c.Subnet)))
        have4 = any(ipaddress.ip_network(c.Subnet).version == 4 for c in net.IPAM.Config)
        have6 = any(ipaddress.ip_network(c.Subnet).version == 6 for c in net.IPAM.Config)
        if not have4:
            host = links.host_routes()
            sub = ipam.pick_subnet(self.pools, [t for _, t in taken] + host)
            net.IPAM.Config.insert(0, IPAMConfig(Subnet=str(sub)))
        if v6 and not have6:
            net.IPAM.Config.append(IPAMConfig(Subnet=str(ipam.random_ula())))
        if have6 and not v6:
            raise InvalidParameter("an IPv6 --subnet needs --ipv6 (EnableIPv6)")
        for c in net.IPAM.Config:
            if not c.Gateway:
                c.Gateway = str(ipam.gateway_of(c))
            # The gateway must not be an aux address or a network/broadcast one.
            gw = ipaddress.ip_address(c.Gateway)
            sn = ipaddress.ip_network(c.Subnet)
            if gw == sn.network_address or (sn.version == 4 and gw == sn.broadcast_address):
                raise InvalidParameter(f"invalid Gateway: {gw} is the network or broadcast "
                                       f"address of {sn}")

    def ensure_predefined(self, bridge_subnet: str = DEFAULT_BRIDGE_SUBNET) -> None:
        """The ``bridge`` (on ``default_bridge``), ``host`` and ``none`` networks, as dockerd
        creates at start. The default bridge has no DNS and keeps legacy behaviour."""
        with self._lock:
            names = {n.Name for n in self._nets.values()}
        if "bridge" not in names:
            self.create_network("bridge", "bridge", IPAM(Config=[IPAMConfig(Subnet=bridge_subnet)]),
                                options={"com.docker.network.bridge.name": self.ctx.default_bridge,
                                         "com.docker.network.bridge.default_bridge": "true"},
                                _predefined=True)
        if "host" not in names:
            self.create_network("host", "host", _predefined=True)
        if "none" not in names:
            self.create_network("none", "null", _predefined=True)

    def remove_network(self, ref: str) -> None:
        """``docker network rm``. Conflict while endpoints remain; Forbidden for predefined."""
        with self._lock, self._store.locked():
            nets = self._store.load()
            net = self._find(nets, ref)
            if net.predefined:
                raise Forbidden(f"{net.Name} is a pre-defined network and cannot be removed")
            if net.endpoints:
                raise Conflict(f"error while removing network: network {net.Name} id {net.Id} "
                               f"has active endpoints")
            del nets[net.Id]
            self._apply_firewall(nets)
            self._store.save(nets)
            self._nets = nets
            get_driver(net.Driver).delete(self.ctx, net)
            self._sync_dns()

    def prune(self, labels: dict[str, str] | None = None) -> list[str]:
        """Remove user-defined networks without endpoints; returns their names."""
        gone = []
        for n in self.list_networks():
            if n.predefined or n.endpoints:
                continue
            if labels and any(n.Labels.get(k) != v for k, v in labels.items()):
                continue
            self.remove_network(n.Id)
            gone.append(n.Name)
        return gone

    # -- endpoints --------------------------------------------------------
    def connect(self, ref: str, container_id: str, netns_path: str, *, name: str = "",
                aliases: list[str] | None = None, ipv4_address: str = "",
                ipv6_address: str = "", mac: str = "", hostname: str = "",
                dns: list[str] | None = None, default_route: bool | None = None,
                links: list[str] | None = None) -> Endpoint:
        """Attach a sandbox (its netns path) to a network: a link named ``eth<N>`` inside,
        addressed from the network's IPAM (or ``ipv4_address``), routes, MTU.

        ``default_route`` defaults to "this is the sandbox's first network". ``links``
        (``--link target[:alias]``, Docker's ``EndpointSettings.Links``) make ``alias``
        resolve to ``target`` in our DNS for this sandbox only (user-defined networks; on
        the default bridge links are ``/etc/hosts`` lines, see :meth:`sandbox_files`).
        """
        with self._lock, self._store.locked():
            nets = self._store.load()
            net = self._find(nets, ref)
            drv = get_driver(net.Driver)
            if container_id in net.endpoints:
                raise Conflict(f"endpoint with name {name or container_id} already exists in "
                               f"network {net.Name}")
            if (ipv4_address or ipv6_address) and not net.subnets():
                raise InvalidParameter("user specified IP address is supported only when "
                                       "connecting to networks with user configured subnets")
            if (ipv4_address or ipv6_address) and net.predefined and net.Driver == "bridge":
                raise InvalidParameter("user specified IP address is supported on user defined "
                                       "networks only")
            # host/none endpoints have no link (ifname ""), so they take no ethN.
            mine = [e for n in nets.values() for e in n.endpoints.values()
                    if e.ContainerID == container_id and e.ifname]
            used_if = {e.ifname for e in mine}
            ifname = next(f"eth{i}" for i in range(len(used_if) + 1) if f"eth{i}" not in used_if)
            ep = Endpoint(EndpointID=secrets.token_hex(32), ContainerID=container_id,
                          Name=name or container_id[:12], network_id=net.Id,
                          netns_path=netns_path, ifname=ifname if drv.uses_ipam else "",
                          Aliases=list(aliases or []),
                          Hostname=hostname, DNS=list(dns or []),
                          Links=[_check_link(x) for x in links or []])
            if drv.uses_ipam:
                self._assign_addresses(net, ep, ipv4_address, ipv6_address, mac)
            if default_route is None:
                default_route = not mine
            drv.join(self.ctx, net, ep, default_route)
            net.endpoints[container_id] = ep
            try:
                self._apply_firewall(nets)
                self._listen_dns(nets, net)
                self._store.save(nets)
            except BaseException:
                del net.endpoints[container_id]
                drv.leave(self.ctx, net, ep)
                self._apply_firewall(nets)
                raise
            self._nets = nets
            return copy.deepcopy(ep)

    def _assign_addresses(self, net: Network, ep: Endpoint, want4: str, want6: str,
                          mac: str) -> None:
        for c in net.subnets():
            sn = ipaddress.ip_network(c.Subnet)
            used = [ipaddress.ip_interface(a).ip for e in net.endpoints.values()
                    for a in (e.IPv4Address, e.IPv6Address) if a]
            # macvlan/ipvlan gateways live on the LAN, still never ours to hand out.
            want = want4 if sn.version == 4 else want6
            addr = ipam.allocate(c, used, want)
            cidr = f"{addr}/{sn.prefixlen}"
            if sn.version == 4:
                ep.IPv4Address = cidr
            else:
                ep.IPv6Address = cidr
        for want, have in ((want4, ep.IPv4Address), (want6, ep.IPv6Address)):
            if want and not have:
                raise InvalidParameter(f"invalid IPAddress: {want}: network {net.Name} has no "
                                       f"subnet of that family")
        if mac:
            if not re.fullmatch(r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}", mac):
                raise InvalidParameter(f"invalid MacAddress {mac!r}: expected xx:xx:xx:xx:xx:xx")
            ep.MacAddress = mac.lower()
        elif ep.IPv4Address:
            ep.MacAddress = links.mac_for(ep.IPv4Address.split("/")[0])

    def disconnect(self, ref: str, container_id: str, force: bool = False) -> None:
        """Detach (``docker network disconnect``); releases its address and ports."""
        with self._lock, self._store.locked():
            nets = self._store.load()
            net = self._find(nets, ref)
            ep = net.endpoints.pop(container_id, None)
            if ep is None:
                if force:
                    return
                raise NotFound(f"container {container_id} is not connected to network {net.Name}")
            for m in ep.Ports:
                self._ports.release(m)
            self._apply_firewall(nets)
            self._store.save(nets)
            self._nets = nets
            get_driver(net.Driver).leave(self.ctx, net, ep)

    def endpoints_of(self, container_id: str) -> list[Endpoint]:
        with self._lock:
            return [copy.deepcopy(e) for n in self._nets.values() for e in n.endpoints.values()
                    if e.ContainerID == container_id]

    # -- ports ------------------------------------------------------------
    def publish(self, ref: str, container_id: str, ports: list[PortMapping]) -> list[PortMapping]:
        """Publish ``ports`` of a connected container; returns them with host ports chosen.
        All or nothing: a port in use releases the ones reserved before it."""
        with self._lock, self._store.locked():
            nets = self._store.load()
            net = self._find(nets, ref)
            ep = net.endpoints.get(container_id)
            if ep is None:
                raise NotFound(f"container {container_id} is not connected to network {net.Name}")
            if net.Driver != "bridge":
                raise InvalidParameter(f"ports can be published only on bridge networks, "
                                       f"not {net.Driver} network {net.Name}")
            for m in ports:
                fam = 6 if ":" in m.host_ip else 4
                if m.host_ip and not (ep.IPv6Address if fam == 6 else ep.IPv4Address):
                    raise InvalidParameter(f"cannot publish {m.host_ip}:{m.host_port or ''}:"
                                           f"{m.container_port}: the container has no IPv{fam} "
                                           f"address on network {net.Name}")
            done: list[PortMapping] = []
            try:
                for m in ports:
                    done.append(self._ports.reserve(m))
                ep.Ports = ep.Ports + done
                self._apply_firewall(nets)
                self._store.save(nets)
            except BaseException:
                for m in done:
                    self._ports.release(m)
                raise
            self._nets = nets
            return done

    def unpublish(self, ref: str, container_id: str) -> None:
        with self._lock, self._store.locked():
            nets = self._store.load()
            net = self._find(nets, ref)
            ep = net.endpoints.get(container_id)
            if ep is None or not ep.Ports:
                return
            for m in ep.Ports:
                self._ports.release(m)
            ep.Ports = []
            self._apply_firewall(nets)
            self._store.save(nets)
            self._nets = nets

    # -- firewall -----------------------------------------------------------
    def _rules(self, nets: dict[str, Network]) -> firewall.RuleSet:
        rs = firewall.RuleSet()
        for n in sorted(nets.values(), key=lambda n: n.Created):
            r = get_driver(n.Driver).rules(n)
            if r is not None:
                rs.bridges.append(r)
            for ep in n.endpoints.values():
                for m in ep.Ports:
                    for a in (ep.IPv4Address, ep.IPv6Address):
                        if a:
                            rs.dnats.append(firewall.DNAT(m.proto, m.host_ip, m.host_port,
                                                          a.split("/")[0], m.container_port))
        return rs

    def _apply_firewall(self, nets: dict[str, Network], *, force: bool = False) -> None:
        rs = self._rules(nets)
        if self._dns is not None:
            rs.dns = sorted(self._dns_targets(nets))
        # Most joins and leaves change no rule (the default bridge's rules name
        # no endpoint unless it publishes ports); an ``nft -f`` is ~30 ms of
        # each. Skipped only when this service applied the same set last and no
        # other process has written the records since (it may have applied its own).
        if not force and rs == self._fw_applied and self._store.unchanged():
            return
        self._fw_applied = None
        self.firewall.apply(rs)
        self._fw_applied = rs

    # -- DNS ----------------------------------------------------------------
    def dns_address(self, ref: str) -> str:
        """The nameserver a sandbox on this network puts in resolv.conf ("" = none of ours)."""
        net = self.get(ref)
        if net.predefined or not get_driver(net.Driver).has_dns or not net.subnets():
            return ""
        return net.subnets()[0].Gateway

    def sandbox_files(self, container_id: str, *, hostname: str, domainname: str = "",
                      extra_hosts: list[str] | None = None, dns: list[str] | None = None,
                      dns_search: list[str] | None = None,
                      dns_options: list[str] | None = None,
                      links: list[tuple[str, str]] | None = None) -> dict[str, str]:
        """The text of ``/etc/hosts``, ``/etc/resolv.conf`` and ``/etc/hostname`` for a
        container, from its endpoints (call after ``connect``). On a user-defined network
        the nameserver is our DNS (its gateway) and ``--dns`` becomes its upstream; on the
        default bridge it is ``--dns`` or the host's resolvers, as Docker does.

        ``links`` are legacy ``--link``s as ``(target container id, alias)``: each adds
        ``<target ip>\t<alias> <target hostname> <target name>`` (Docker's line) from a
        network both share, the default bridge first. A target sharing no network is an
        InvalidParameter."""
        eps = self.endpoints_of(container_id)
        link_lines = [self._link_line(eps, target, alias) for target, alias in links or []]
        first = eps[0] if eps else None
        ours = self.dns_address(first.network_id) if first else ""
        gateway = ""
        with self._lock:
            for n in self._nets.values():
                if n.predefined and n.Driver == "bridge" and n.subnets():
                    gateway = n.subnets()[0].Gateway
            if not gateway and first is not None and self._nets[first.network_id].subnets():
                gateway = self._nets[first.network_id].subnets()[0].Gateway
        servers = [ours] if ours else files.default_bridge_resolvers(list(dns or []))
        addrs = [a for e in eps for a in (e.IPv4Address, e.IPv6Address) if a]
        return {
            "/etc/hosts": files.render_hosts(hostname, addrs, list(extra_hosts or []), gateway,
                                             domainname, link_lines),
            "/etc/resolv.conf": files.render_resolv_conf(servers, list(dns_search or []),
                                                         list(dns_options or [])),
            "/etc/hostname": files.render_hostname(hostname),
        }

    def _link_line(self, mine: list[Endpoint], target: str,
                   alias: str) -> tuple[str, list[str]]:
        theirs = {e.network_id: e for e in self.endpoints_of(target) if e.IPv4Address}
        with self._lock:
            shared = sorted((n for n in self._nets.values() if n.Id in theirs
                             and any(e.network_id == n.Id for e in mine)),
                            key=lambda n: not n.predefined)
        if not shared:
            raise InvalidParameter(f"cannot link to container {target[:12]}: it shares no "
                                   f"network with this container (legacy links need both on "
                                   f"the default bridge)")
        ep = theirs[shared[0].Id]
        names = [alias or ep.Name, ep.Hostname or ep.ContainerID[:12], ep.Name]
        return ep.IPv4Address.split("/")[0], list(dict.fromkeys(n for n in names if n))

    @staticmethod
    def _dns_targets(nets: dict[str, Network]) -> dict[str, str]:
        """Listen address → network id, for every network our DNS serves."""
        want: dict[str, str] = {}
        for n in nets.values():
            if not n.predefined and get_driver(n.Driver).has_dns:
                for c in n.subnets():
                    want[c.Gateway] = n.Id
        return want

    def _sync_dns(self, require: str = "") -> None:
        """Listen on every served network's gateway, and nowhere else. A failure for the
        network with id ``require`` raises (create rolls back on it); others are kept in
        ``dns_failures`` (restore: containers keep running; the next connect retries)."""
        if self._dns is None:
            return
        want = self._dns_targets(self._nets)
        self._dns_index = want
        if not want and not self._dns.addresses:
            return
        self._dns.start()
        for a in self._dns.addresses:
            if a not in want:
                self._dns.unlisten(a)
        self.dns_failures = {}
        for a in want:
            try:
                self._dns.listen(a)
            except NetworkError as e:
                if want[a] == require:
                    raise
                self.dns_failures[a] = str(e)

    def _listen_dns(self, nets: dict[str, Network], net: Network) -> None:
        """Make sure ``net``'s DNS listener runs (it may have failed at restore)."""
        if self._dns is None:
            return
        for a, nid in self._dns_targets(nets).items():
            if nid == net.Id and a not in self._dns.addresses:
                self._dns.start()
                self._dns.listen(a)
                self._dns_index[a] = nid
                self.dns_failures.pop(a, None)

    def _resolve(self, listen: str, client: str, name: str) -> Resolution:
        net = self._nets.get(self._dns_index.get(listen, ""))
        upstreams = self.dns_upstreams if self.dns_upstreams is not None else host_resolvers()
        if net is None:
            return Resolution(False, upstreams=upstreams)
        # "web.mynet" means "web" asked on mynet only (Docker strips the network's name).
        wanted = {name}
        suffix = "." + net.Name.lower()
        if name.endswith(suffix) and len(name) > len(suffix):
            wanted.add(name[:-len(suffix)])
        asker = next((ep for ep in net.endpoints.values()
                      if client in (ep.IPv4Address.split("/")[0], ep.IPv6Address.split("/")[0])),
                     None)
        if asker is not None:
            if asker.DNS:
                upstreams = asker.DNS
            # --link target:alias on a user-defined network: the alias is the asker's alone.
            for link in asker.Links:
                target, _, alias = link.partition(":")
                if (alias or target).lower() in wanted:
                    wanted.add(target.lower())
        found, addrs = False, []
        for ep in net.endpoints.values():
            names = {ep.Name.lower(), ep.Hostname.lower(), ep.ContainerID[:12].lower(),
                     *(a.lower() for a in ep.Aliases)} - {""}
            if names & wanted:
                found = True
                addrs += [a.split("/")[0] for a in (ep.IPv4Address, ep.IPv6Address) if a]
        return Resolution(found, addrs, upstreams)

    # -- restart ------------------------------------------------------------
    def restore(self) -> None:
        """After a daemon (re)start: bridges, firewall, port reservations and DNS back from
        the records. Sandboxes and their veths are left as they are; endpoints whose
        sandbox is gone are released. Idempotent."""
        with self._lock, self._store.locked():
            nets = self._store.load()
            for n in nets.values():
                for cid, ep in list(n.endpoints.items()):
                    if ep.netns_path and not os.path.exists(ep.netns_path):
                        if ep.host_ifname:
                            links.delete_link(ep.host_ifname)
                        del n.endpoints[cid]
                get_driver(n.Driver).restore(self.ctx, n)
            self._sweep(nets)
            self._ports.close()
            for n in nets.values():
                for ep in n.endpoints.values():
                    for m in ep.Ports:
                        self._ports.reserve(m)
            self._apply_firewall(nets, force=True)  # the kernel's rules may be gone (reboot)
            self._store.save(nets)
            self._nets = nets
            self._sync_dns()

    def _sweep(self, nets: dict[str, Network]) -> None:
        """Delete host links with our prefix that no record names: what a crash between
        "make the link" and "save the record" left behind. Only our prefix is looked at."""
        known = {n.bridge for n in nets.values()}
        known |= {e.host_ifname for n in nets.values() for e in n.endpoints.values()}
        for kind in "bvmp":
            for name in links.links_named(self.ctx.link_prefix + kind):
                if name not in known:
                    links.delete_link(name)

    def close(self) -> None:
        """Stop DNS and drop port reservations; kernel state stays (live restore)."""
        if self._dns is not None:
            self._dns.stop()
        self._ports.close()

    def destroy(self) -> None:
        """Tear everything down: endpoints, networks, firewall tables (tests, uninstall)."""
        for n in self.list_networks():
            for cid in list(n.endpoints):
                self.disconnect(n.Id, cid, force=True)
        with self._lock, self._store.locked():
            nets = self._store.load()
            for n in nets.values():
                get_driver(n.Driver).delete(self.ctx, n)
            self._store.save({})
            self._nets = {}
        self._fw_applied = None
        self.firewall.remove()
        self.close()
