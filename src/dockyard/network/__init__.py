"""Container networking: libnetwork's and the CNI plugins' role.

Owns IPAM (``ipam.py``: Docker's default pools, ``--subnet/--ip-range/
--gateway/--aux-address``, fixed addresses), the drivers (``drivers/``:
``bridge``, ``host``, ``none``, ``macvlan``, ``ipvlan``, listed in
``drivers.BUILTINS``; the contract leaves room for ``overlay``), netlink
steps (``links.py``, on ``dockyard.linux.rtnetlink``), the firewall (``firewall.py``: the rule
set and the backend contract, chosen in ``firewall.select``;
``firewall_nft.py``: our own nftables tables swapped whole in one
transaction, the default; ``firewall_iptables.py``: our own ``DOCKYARD-*``
chains via ``iptables-restore --noflush`` where nftables is unavailable),
port publishing (``ports.py`` parses ``-p``; ``portmap.py`` holds host
ports on ``0.0.0.0`` and ``[::]``; DNAT does the forwarding, no userland
proxy), the embedded DNS (``dns.py``: one server per user-defined network
on its gateway address, aardvark-dns style; answers names, aliases,
hostnames, short ids, ``<name>.<network>`` and per-container ``--link``
aliases) and the per-sandbox ``/etc/hosts``, ``/etc/resolv.conf``,
``/etc/hostname`` (``files.py``; legacy ``--link`` lines too). Records persist in ``<root>/network/networks.json``
(``store.py``, atomic).

Entry point: ``NetworkService(root, run_root)`` (``service.py``), then
``restore()`` and ``ensure_predefined()``; ``create_network``,
``remove_network``, ``list_networks(filters)``, ``inspect``, ``prune``,
``connect``, ``disconnect``, ``publish``, ``unpublish``, ``endpoints_of``,
``sandbox_files``, ``dns_address``. Port specs: ``ports.parse_publish``
(``-p``) and ``ports.exposed_to_mappings`` (``-P``). Errors: ``errors.py``
(each with an HTTP status). What the engine does per container::

    svc = NetworkService(root, run_root); svc.restore(); svc.ensure_predefined()
    ep = svc.connect("mynet", cid, "/proc/<pid>/ns/net", name="web", aliases=["www"])
    svc.publish("mynet", cid, parse_publish("8080:80"))
    files = svc.sandbox_files(cid, hostname="web", extra_hosts=["h:host-gateway"])
    ...                                   # on stop / rm:
    svc.disconnect("mynet", cid)          # also unpublishes its ports

The sandbox's netns must outlive ``connect`` (a bind-mounted netns file or
a live pid); ``host``/``none`` record the endpoint only.

Legacy links: on user-defined networks pass ``connect(..., links=["db:alias"])``
(the alias resolves for that container only); on the default bridge pass
``sandbox_files(..., links=[(db_container_id, "alias")])`` for Docker's
``/etc/hosts`` line. Environment variables (``DB_PORT_...``) are the engine's.

``--network container:X`` is engine-side: the engine starts the joiner in
X's netns (``setns``) and calls nothing here: the joiner has no endpoint
(``endpoints_of(joiner) == []``), publishes nothing, and bind-mounts X's
``/etc/hosts``, ``/etc/resolv.conf`` and ``/etc/hostname`` (the text of
``sandbox_files(X, ...)``), as Docker does. Its connectivity is X's: when X
connects, disconnects or stops, the joiner sees that. Connecting or
publishing for the joiner is refused by Docker ("conflicting options") and
must be by the engine; here it would act on X's namespace.

Imports ``linux`` (atomic writes, setns, rtnetlink) only; must never import ``engine``,
``api``, ``client``, ``cli`` or anything above it.
"""

from .errors import NetworkError
from .model import IPAM, Endpoint, IPAMConfig, Network, PortMapping
from .ports import parse_publish
from .service import NetworkService

__all__ = ["IPAM", "Endpoint", "IPAMConfig", "Network", "NetworkError", "NetworkService",
           "PortMapping", "parse_publish"]
