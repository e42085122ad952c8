"""Service cluster IPs: allocation from the service range, through the store.

Each allocated IP is one key, ``/registry/ranges/serviceips/<ip>``, created
with the store's create (which fails if the key exists): two API servers
on one etcd can never hand out the same address, and no bitmap has to be
kept consistent. Released when the Service is deleted.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from dockyard.cluster.store import KeyExistsError, KeyNotFoundError, Store

from .errors import APIError, cause, invalid

Obj = dict[str, Any]
SERVICE_CIDR = ipaddress.ip_network("10.43.0.0/16")  # k3s's default service range
SERVICE_IP_PREFIX = "/registry/ranges/serviceips/"


async def allocate(store: Store, obj: Obj) -> None:
    """Give a Service its cluster IP (the one asked for, or a free one)."""
    spec = obj.setdefault("spec", {})
    if spec.get("type") == "ExternalName":
        return
    wanted = spec.get("clusterIP")
    if wanted in ("None",):
        spec["clusterIPs"] = ["None"]
        return
    name = obj["metadata"]["name"]
    if wanted:
        try:
            ip = ipaddress.ip_address(wanted)
        except ValueError:
            raise invalid("Service", "", name, [cause("spec.clusterIP", f'Invalid value: "{wanted}": must be a valid IP address')]) from None
        if ip not in SERVICE_CIDR:
            raise invalid("Service", "", name, [cause("spec.clusterIP", f'Invalid value: "{wanted}": provided IP is not in the valid range. The range of valid IPs is {SERVICE_CIDR}')])
        try:
            await store.create(SERVICE_IP_PREFIX + wanted, name.encode())
        except KeyExistsError:
            raise invalid("Service", "", name, [cause("spec.clusterIP", f'Invalid value: "{wanted}": provided IP is already allocated')]) from None
        spec["clusterIPs"] = [wanted]
        return
    hosts = SERVICE_CIDR.num_addresses - 2
    for _ in range(64):
        candidate = str(SERVICE_CIDR.network_address + random.randint(10, hosts))
        try:
            await store.create(SERVICE_IP_PREFIX + candidate, name.encode())
        except KeyExistsError:
            continue
        spec["clusterIP"], spec["clusterIPs"] = candidate, [candidate]
        return
    raise APIError("failed to allocate a serviceIP: range is full")


async def release(store: Store, obj: Obj) -> None:
    ip = (obj.get("spec") or {}).get("clusterIP")
    if ip and ip != "None":
        try:
            await store.delete(SERVICE_IP_PREFIX + ip)
        except KeyNotFoundError:
            pass


def keep_cluster_ip(old: Obj, new: Obj) -> None:
    """An update that leaves the cluster IP out keeps the allocated one."""
    old_spec, new_spec = old.get("spec") or {}, new.setdefault("spec", {})
    for key in ("clusterIP", "clusterIPs"):
        if key in old_spec and not new_spec.get(key):
            new_spec[key] = old_spec[key]
