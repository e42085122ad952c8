"""The network package's errors; each maps to one HTTP status at the API edge.

::

    NetworkError                  500  a kernel/netlink/nftables step failed
    ├── InvalidParameter          400  bad CIDR, gateway outside subnet, bad port spec,
    │   │                              unknown driver, bad option: names field and value
    │   └── PortSpecError         400  a ``-p`` spec that does not parse
    ├── NotFound                  404  no such network / endpoint
    │   └── NetworkNotFound       404  "network X not found" (Docker's wording)
    ├── Conflict                  409  name taken, overlapping subnets, network has
    │   │                              active endpoints, address already in use
    │   └── PoolExhausted         409  no free subnet / address left
    ├── Forbidden                 403  operation not allowed on a predefined network
    └── PortAllocated             500  host port already in use (Docker answers 500 with
                                       "Bind for 0.0.0.0:8080 failed: port is already allocated")

Every error leaves the system as it found it: the service undoes any
half-made bridge, veth or rule before raising.
"""

from __future__ import annotations


class NetworkError(Exception):
    status = 500


class InvalidParameter(NetworkError):
    status = 400


class PortSpecError(InvalidParameter):
    pass


class NotFound(NetworkError):
    status = 404


class NetworkNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"network {name} not found")
        self.name = name


class Conflict(NetworkError):
    status = 409


class PoolExhausted(Conflict):
    pass


class Forbidden(NetworkError):
    status = 403


class PortAllocated(NetworkError):
    status = 500
