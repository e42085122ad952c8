"""Networks of a container: the network service's calls, in the engine's order.

A container with a network of its own (``bridge`` by default, or a
user-defined one) is connected after the runtime created its namespaces and
before its program runs: the supervisor reports ``created`` with the init's
pid, the engine connects ``/proc/<pid>/ns/net``, publishes ``-p`` ports,
rewrites ``/etc/hosts``, ``/etc/resolv.conf`` and ``/etc/hostname`` in place
(they are bind-mounted, so the inode must stay), and only then says
``start``. ``none`` keeps only ``lo``; ``host`` and ``container:X`` share
another namespace and connect nothing. Networks added by ``docker network
connect`` are kept in the record and joined at every start after the first;
connecting a running container joins at once. At exit every endpoint is
disconnected (which unpublishes its ports).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from .base import EngineBase
from .errors import Conflict, EngineError, InvalidParameter, NotFound

_NO_ENDPOINT = ("none", "host")


def network_name(mode: str, default: str = "bridge") -> str | None:
    """The network to connect for ``--network MODE`` (None: nothing to connect)."""
    if mode in ("", "default"):
        mode = default
    if mode in _NO_ENDPOINT or mode.startswith("container:"):
        return None
    return mode


def port_specs(bindings: dict[str, list[dict[str, str]] | None] | None) -> list[str]:
    """HostConfig.PortBindings → ``-p`` strings (``ip:hostport:port/proto``)."""
    out = []
    for port, binds in (bindings or {}).items():
        for b in binds or [{}]:
            ip, hport = (b or {}).get("HostIp", ""), (b or {}).get("HostPort", "")
            out.append(f"{ip}:{hport}:{port}" if ip else (f"{hport}:{port}" if hport else port))
    return out


def _with_short_id(rec: Any, aliases: list[str] | None, predefined: bool) -> list[str] | None:
    """On a user-defined network dockerd adds the container's short id to its
    aliases at every join (a DNS name; docker-compose 1.29 looks for it)."""
    if predefined or rec.Id[:12] in (aliases or []):
        return aliases
    return [*(aliases or []), rec.Id[:12]]


@functools.cache
def _host_has_ipv6() -> bool:
    from dockyard.network.portmap import host_has_ipv6

    return host_has_ipv6()


def _host_ips(host_ip: str) -> list[str]:
    """A port published on every address is held on both wildcards where the
    host has IPv6; dockerd lists it twice then (``0.0.0.0`` and ``::``)."""
    if host_ip:
        return [host_ip]
    return ["0.0.0.0", "::"] if _host_has_ipv6() else ["0.0.0.0"]


class NetworkMixin(EngineBase):
    def _net_check(self, mode: str) -> None:
        """At create: a user-defined network must exist."""
        name = network_name(mode, self.opts.default_network)
        if name is None or self.networks is None:
            return
        from dockyard.network import NetworkError

        try:
            self.networks.get(name)
        except NetworkError:
            raise NotFound(f"network {name} not found") from None

    def _host_gateway(self, hc: Any) -> str:
        """``--add-host NAME:host-gateway`` at create: Docker's ``host-gateway-ip``
        default, the default bridge's gateway. A container joining a network
        gets its files rewritten at start with that network's gateway, so a
        placeholder only stands until then; without any network there is no
        such address and the add-host is refused."""
        if self.networks is not None:
            from dockyard.network import NetworkError

            try:
                net = self.networks.get("bridge")
                gw = next((c.Gateway for c in (net.IPAM.Config or []) if c.Gateway), "")
                if gw:
                    return str(gw)
            except NetworkError:
                pass
            if network_name(hc.NetworkMode, self.opts.default_network) is not None:
                return "0.0.0.0"
        return ""

    def _net_setup(self, rec: Any, pid: int) -> None:
        name = network_name(rec.HostConfig.NetworkMode, self.opts.default_network)
        if name is None or self.networks is None or rec.NetworkDetached:
            return
        from dockyard.network import NetworkError, parse_publish
        from dockyard.network.ports import exposed_to_mappings

        svc = self.networks
        hostname = rec.Config.Hostname or rec.Id[:12]
        links = self._links(rec)
        try:
            predefined = svc.get(name).predefined
            # Legacy --link: on the default bridge an /etc/hosts line; on a
            # user-defined network a name our DNS answers for this sandbox only.
            svc.connect(name, rec.Id, f"/proc/{pid}/ns/net", name=rec.Name.lstrip("/"),
                        hostname=hostname,
                        aliases=_with_short_id(rec, rec.NetworkAliases, predefined),
                        links=None if predefined else [f"{t}:{a}" for t, a, _ in links])
            mappings = [m for s in port_specs(rec.HostConfig.PortBindings)
                        for m in parse_publish(s)]
            if rec.HostConfig.PublishAllPorts:  # -P: every EXPOSEd port not bound by -p
                bound = {(m.container_port, m.proto) for m in mappings}
                mappings += [m for m in exposed_to_mappings(rec.Config.ExposedPorts or {})
                             if (m.container_port, m.proto) not in bound]
            if mappings:
                svc.publish(name, rec.Id, mappings)
            files = svc.sandbox_files(rec.Id, hostname=hostname,
                                      domainname=rec.Config.Domainname,
                                      extra_hosts=rec.HostConfig.ExtraHosts,
                                      dns=rec.HostConfig.Dns, dns_search=rec.HostConfig.DnsSearch,
                                      dns_options=rec.HostConfig.DnsOptions,
                                      links=[(tid, a) for _, a, tid in links] if predefined
                                      else None)
            for extra, aliases in (rec.ExtraNetworks or {}).items():
                svc.connect(extra, rec.Id, f"/proc/{pid}/ns/net", name=rec.Name.lstrip("/"),
                            hostname=hostname,
                            aliases=_with_short_id(rec, aliases, svc.get(extra).predefined))
            if rec.ExtraNetworks:
                files = self._sandbox_files(rec)
        except NetworkError as ex:
            self._net_teardown(rec)
            raise EngineError(f"failed to set up the network {name}: {ex}") from None
        self._write_sandbox_files(rec, files)

    def _links(self, rec: Any) -> list[tuple[str, str, str]]:
        """``HostConfig.Links`` (``target[:alias]``) as (target name, alias, target id);
        a target that does not exist is Docker's "could not get container" error."""
        out = []
        for spec in rec.HostConfig.Links or []:
            target, _, alias = spec.partition(":")
            target = target.strip("/")
            alias = alias.rpartition("/")[2] or target
            try:
                tid = self.get(target).record.Id
            except NotFound:
                raise InvalidParameter(f"could not get container for {target}: No such "
                                       f"container: {target}") from None
            out.append((target, alias, tid))
        return out

    def _sandbox_files(self, rec: Any) -> dict[str, str]:
        assert self.networks is not None
        from dockyard.network import NetworkError

        hc = rec.HostConfig
        legacy: list[tuple[str, str]] | None = None
        primary = network_name(hc.NetworkMode, self.opts.default_network)
        try:
            if primary is not None and self.networks.get(primary).predefined:
                legacy = [(tid, a) for _, a, tid in self._links(rec)]
        except (NetworkError, InvalidParameter):
            legacy = None  # a link target gone since start: its line goes too
        return self.networks.sandbox_files(
            rec.Id, hostname=rec.Config.Hostname or rec.Id[:12],
            domainname=rec.Config.Domainname, extra_hosts=hc.ExtraHosts, dns=hc.Dns,
            dns_search=hc.DnsSearch, dns_options=hc.DnsOptions, links=legacy)

    def _write_sandbox_files(self, rec: Any, files: dict[str, str]) -> None:
        for fname, text in files.items():
            path = os.path.join(self.container_dir(rec.Id), os.path.basename(fname))
            if os.path.exists(path):
                with open(path, "w") as f:  # in place: the bind mount holds this inode
                    f.write(text)

    async def network_connect(self, ref: str, network: str,
                              aliases: list[str] | None = None) -> None:
        """``docker network connect``: record the network on the container and,
        if it runs, join it now (a new ``eth<N>``, its files rewritten)."""
        import asyncio

        from dockyard.network import NetworkError

        if self.networks is None:
            raise InvalidParameter("this daemon runs without the network service")
        e = self.get(ref)
        async with e.lock:
            rec = e.record
            try:
                net = await asyncio.to_thread(self.networks.get, network)
            except NetworkError:
                raise NotFound(f"network {network} not found") from None
            mode = rec.HostConfig.NetworkMode
            if mode in _NO_ENDPOINT or mode.startswith("container:"):
                raise InvalidParameter(
                    f"container sharing network namespace with another container or host "
                    f"cannot be connected to any other network (network mode {mode})")
            primary = network_name(mode, self.opts.default_network)
            if (net.Name == primary and not rec.NetworkDetached) or \
                    net.Name in (rec.ExtraNetworks or {}):
                if not rec.State.Running:
                    return  # dockerd keeps the first config of a stopped container's network
                raise Conflict(f"endpoint with name {rec.Name.lstrip('/')} already exists in "
                               f"network {net.Name}")
            if rec.State.Running:
                try:
                    await asyncio.to_thread(
                        self.networks.connect, net.Name, rec.Id, f"/proc/{rec.State.Pid}/ns/net",
                        name=rec.Name.lstrip("/"),
                        hostname=rec.Config.Hostname or rec.Id[:12],
                        aliases=_with_short_id(rec, aliases, net.predefined))
                    files = await asyncio.to_thread(self._sandbox_files, rec)
                except NetworkError as ex:
                    raise EngineError(f"failed to connect to network {net.Name}: {ex}") from None
                self._write_sandbox_files(rec, files)
            if rec.NetworkDetached:  # the first network joined again is the main one
                rec.HostConfig.NetworkMode = net.Name
                rec.NetworkAliases = list(aliases or []) or None
                rec.NetworkDetached = False
            else:
                rec.ExtraNetworks = {**(rec.ExtraNetworks or {}), net.Name: list(aliases or [])}
            await asyncio.to_thread(self.save, rec)

    async def network_disconnect(self, ref: str, network: str, force: bool = False) -> None:
        """``docker network disconnect``: leave now (if running) and forget the
        network (as Docker drops it from NetworkSettings.Networks)."""
        import asyncio

        from dockyard.network import NetworkError

        if self.networks is None:
            raise InvalidParameter("this daemon runs without the network service")
        e = self.get(ref)
        async with e.lock:
            rec = e.record
            try:
                net = await asyncio.to_thread(self.networks.get, network)
            except NetworkError:
                raise NotFound(f"network {network} not found") from None
            primary = network_name(rec.HostConfig.NetworkMode, self.opts.default_network)
            if rec.NetworkDetached:
                primary = None
            extra = dict(rec.ExtraNetworks or {})
            if net.Name != primary and net.Name not in extra:
                raise InvalidParameter(f"container {rec.Id[:12]} is not connected to network "
                                       f"{net.Name}")
            if rec.State.Running:
                try:
                    await asyncio.to_thread(self.networks.disconnect, net.Name, rec.Id, force)
                    files = await asyncio.to_thread(self._sandbox_files, rec)
                except NetworkError as ex:
                    raise EngineError(f"failed to disconnect from network {net.Name}: "
                                      f"{ex}") from None
                self._write_sandbox_files(rec, files)
            extra.pop(net.Name, None)
            if net.Name == primary:
                # Another joined network becomes the main one; with none left
                # the container has no network until the next connect.
                promoted = next(iter(extra), None)
                if promoted is not None:
                    rec.HostConfig.NetworkMode = promoted
                    rec.NetworkAliases = extra.pop(promoted) or None
                else:
                    rec.NetworkDetached = True
            rec.ExtraNetworks = extra or None
            await asyncio.to_thread(self.save, rec)

    def _net_teardown(self, rec: Any) -> None:
        if self.networks is None:
            return
        from dockyard.network import NetworkError

        for ep in self.networks.endpoints_of(rec.Id):
            try:
                self.networks.disconnect(ep.network_id, rec.Id, force=True)
            except NetworkError:
                pass

    def network_settings(self, rec: Any) -> dict[str, Any]:
        """``NetworkSettings`` of inspect: endpoints and published ports."""
        nets: dict[str, Any] = {}
        ports: dict[str, Any] = {}
        if self.networks is not None:
            for ep in self.networks.endpoints_of(rec.Id):
                try:
                    net = self.networks.get(ep.network_id)
                except Exception:
                    continue
                addr, _, plen = ep.IPv4Address.partition("/")
                gw = next((c.Gateway for c in (net.IPAM.Config or []) if c.Gateway), "")
                nets[net.Name] = {"NetworkID": net.Id, "EndpointID": ep.EndpointID,
                                  "IPAddress": addr, "IPPrefixLen": int(plen or 0),
                                  "Gateway": gw, "MacAddress": ep.MacAddress,
                                  "Aliases": ep.Aliases or None}
                for m in ep.Ports:
                    for ip in _host_ips(m.host_ip):
                        ports.setdefault(f"{m.container_port}/{m.proto}", []).append(
                            {"HostIp": ip, "HostPort": str(m.host_port)})
        for name, aliases in self._configured_networks(rec).items():
            if name not in nets:  # not joined (created, stopped): Docker lists it, empty
                nets[name] = self._unjoined_endpoint(rec, name, aliases)
        for port in rec.Config.ExposedPorts or {}:
            ports.setdefault(port, None)
        first: dict[str, Any] = next(iter(nets.values()), {})
        return {"Bridge": "", "SandboxID": "", "SandboxKey": "", "HairpinMode": False,
                "Ports": ports, "Networks": nets, "IPAddress": first.get("IPAddress", ""),
                "Gateway": first.get("Gateway", ""), "MacAddress": first.get("MacAddress", "")}

    def _configured_networks(self, rec: Any) -> dict[str, list[str]]:
        """The networks the record says the container joins at start, with
        their aliases: the main one, then those ``network connect`` added."""
        out: dict[str, list[str]] = {}
        name = network_name(rec.HostConfig.NetworkMode, self.opts.default_network)
        if name is not None and not rec.NetworkDetached:
            out[name] = list(rec.NetworkAliases or [])
        for extra, aliases in (rec.ExtraNetworks or {}).items():
            out.setdefault(extra, list(aliases or []))
        return out

    def _unjoined_endpoint(self, rec: Any, name: str, aliases: list[str]) -> dict[str, Any]:
        """A configured network without a live endpoint, as dockerd shows it:
        the aliases kept, no address; after a first start it also carries the
        NetworkID and, on a user-defined network, the short-id alias (docker-compose
        1.29 decides from that alias whether to reconnect a stopped container)."""
        from dockyard.network import NetworkError

        started = not rec.State.StartedAt.startswith("0001-")
        net_id = ""
        if started and self.networks is not None:
            try:
                net = self.networks.get(name)
            except NetworkError:
                net = None  # removed since: listed by name only, as dockerd does
            if net is not None:
                net_id = net.Id
                if not net.predefined and rec.Id[:12] not in aliases:
                    aliases = [*aliases, rec.Id[:12]]
        return {"NetworkID": net_id, "EndpointID": "", "IPAddress": "", "IPPrefixLen": 0,
                "Gateway": "", "MacAddress": "", "Aliases": aliases or None}

    def ports_summary(self, rec: Any) -> list[dict[str, Any]]:
        """``Ports`` of the list: Docker's ``{IP, PrivatePort, PublicPort, Type}``."""
        out: list[dict[str, Any]] = []
        if self.networks is None or not rec.State.Running:
            return out
        for ep in self.networks.endpoints_of(rec.Id):
            for m in ep.Ports:
                for ip in _host_ips(m.host_ip):
                    out.append({"IP": ip, "PrivatePort": m.container_port,
                                "PublicPort": m.host_port, "Type": m.proto})
        return out
