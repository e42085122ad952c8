"""Fixtures for the network tests: a private NetworkService, namespaces, subnets.

Everything a test makes carries its ``unique`` prefix: the service's link
prefix and nftables table are ``unique`` itself, namespaces are
``<unique>-<n>``. Teardown removes the service's networks and tables, then
anything left with the prefix (a failed test must not leak links).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from net_helpers import NS, cleanup_prefix

from dockyard.network import NetworkService
from dockyard.network.links import host_routes


@pytest.fixture
def free_subnet() -> Callable[[], str]:
    """A random 10.x.y.0/24 no host route covers (parallel tests pick different ones)."""
    taken = host_routes()
    given: list[ipaddress.IPv4Network] = []

    def pick() -> str:
        while True:
            n = ipaddress.IPv4Network(f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24")
            if not any(n.overlaps(t) for t in taken + given if t.version == 4):  # type: ignore[arg-type]
                given.append(n)
                return str(n)

    return pick


@pytest.fixture
def svc(unique: str, short_tmp: Path) -> Iterator[NetworkService]:
    s = NetworkService(str(short_tmp / "root"), str(short_tmp / "run"), link_prefix=unique,
                       table=unique, default_bridge=unique + "d0", dns_upstreams=[])
    try:
        yield s
    finally:
        try:
            s.destroy()
        finally:
            cleanup_prefix(unique)


@pytest.fixture
def netns(unique: str) -> Iterator[Callable[[], NS]]:
    made: list[NS] = []

    def make() -> NS:
        ns = NS(f"{unique}-{len(made)}")
        made.append(ns)
        return ns

    try:
        yield make
    finally:
        for ns in made:
            ns.delete()


