"""rtnetlink(7): a small NETLINK_ROUTE client on an ``AF_NETLINK`` socket.

What the network package needs and no more: look a link up by name; make
a bridge, a veth pair (its peer possibly straight in another namespace), a
macvlan or ipvlan link; change a link (name, MAC, MTU, up, namespace) in one
request; delete a link; add an address; add a route; dump a routing table.

The wire format (netlink(7)): every message is an ``nlmsghdr`` (length,
type, flags, sequence number, port id), a fixed family header
(``ifinfomsg`` for links, ``ifaddrmsg`` for addresses, ``rtmsg`` for
routes), then attributes: ``rtattr`` records (length, type, value) padded to
4 bytes, whose value may itself be a list of attributes (``IFLA_LINKINFO``
holds ``IFLA_INFO_KIND`` and ``IFLA_INFO_DATA``). Every change is sent with
``NLM_F_ACK``, so the kernel always answers: an ``NLMSG_ERROR`` whose error
is 0 (done) or ``-errno``; we raise ``NetlinkError`` for the latter, with the
kernel's own explanation when it gives one (extended ack,
``NLMSGERR_ATTR_MSG``: "Unknown device type", "Attribute failed policy
validation"...). A dump (``NLM_F_DUMP``) answers in several datagrams of
``NLM_F_MULTI`` messages closed by ``NLMSG_DONE``.

The socket is the caller's when it passes one: a netlink socket belongs to
the network namespace its creator was in, so ``network.links`` opens one on
a thread that joined a sandbox's namespace and hands it here. One
``RtNetlink`` is used by one thread at a time (requests are sequential:
send, then read the answer to that sequence number).

Constants carry the names of the kernel's headers (``linux/netlink.h``,
``linux/rtnetlink.h``, ``linux/if_link.h``, ``linux/if_addr.h``,
``linux/veth.h``) so a reader can hold them side by side. Stdlib only:
pyroute2 did this for us before, at ~13 MiB of modules in an idle daemon.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

# linux/netlink.h
NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10  # errors do not echo our whole request back
NETLINK_EXT_ACK = 11  # errors carry the kernel's text (NLMSGERR_ATTR_MSG)

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4

NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_DUMP_INTR = 0x10  # the dumped table changed while it was read: read it again
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
# for "new" requests
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
# on an NLMSG_ERROR
NLM_F_CAPPED = 0x100  # the echoed request is its header only
NLM_F_ACK_TLVS = 0x200  # extended-ack attributes follow it

NLMSGERR_ATTR_MSG = 1

NLA_F_NESTED = 0x8000
NLA_F_NET_BYTEORDER = 0x4000
NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)

# linux/rtnetlink.h
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_SETLINK = 19
RTM_NEWADDR = 20
RTM_NEWROUTE = 24
RTM_GETROUTE = 26

RT_TABLE_MAIN = 254
RTPROT_STATIC = 4  # what `ip route` shows as "proto static": routes we added
RT_SCOPE_UNIVERSE = 0
RTN_UNICAST = 1

RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_TABLE = 15  # the table id when it does not fit rtm_table's byte

# linux/if.h
IFF_UP = 0x1

# linux/if_link.h
IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_LINK = 5
IFLA_MASTER = 10
IFLA_LINKINFO = 18
IFLA_NET_NS_FD = 28

IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2

IFLA_MACVLAN_MODE = 1
MACVLAN_MODE = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8, "source": 16}
IFLA_IPVLAN_MODE = 1
IPVLAN_MODE = {"l2": 0, "l3": 1, "l3s": 2}

# linux/veth.h
VETH_INFO_PEER = 1

# linux/if_addr.h
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_F_NODAD = 0x02

IFNAMSIZ = 16  # with the terminating NUL: names are at most 15 bytes

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_RTATTR = struct.Struct("=HH")  # len, type
_IFINFOMSG = struct.Struct("=BxHiII")  # family, (pad), type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol,
#                                       scope, type, flags
_ERRNO = struct.Struct("=i")

_HEX = set("0123456789abcdefABCDEF")
_RECV_SIZE = 1 << 16  # the kernel fills a dump datagram to at most 32 KiB


class NetlinkError(OSError):
    """The kernel refused a request: ``errno`` is its error, ``extack`` its own text, if any."""

    def __init__(self, code: int, extack: str = "") -> None:
        text = os.strerror(code) + (f" ({extack})" if extack else "")
        super().__init__(code, text)
        self.extack = extack


# -- attributes ---------------------------------------------------------------------------

def _align(n: int) -> int:
    return (n + 3) & ~3


def attr(kind: int, value: bytes) -> bytes:
    """One attribute, padded to 4 bytes (the length field counts the value, not the pad)."""
    head = _RTATTR.pack(_RTATTR.size + len(value), kind)
    return head + value + b"\0" * (_align(len(value)) - len(value))


def attr_u16(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=H", value))


def attr_u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=I", value))


def attr_str(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def nested(kind: int, *attrs: bytes) -> bytes:
    """An attribute whose value is attributes (marked NLA_F_NESTED, as the kernel asks of
    new nests)."""
    return attr(kind | NLA_F_NESTED, b"".join(attrs))


def parse_attrs(data: bytes) -> dict[int, bytes]:
    """Attribute type → value (the last one wins; nesting flags masked off)."""
    out: dict[int, bytes] = {}
    off = 0
    while off + _RTATTR.size <= len(data):
        length, kind = _RTATTR.unpack_from(data, off)
        if length < _RTATTR.size:
            break  # malformed: stop rather than loop forever
        out[kind & NLA_TYPE_MASK] = data[off + _RTATTR.size:off + length]
        off += _align(length)
    return out


def mac_bytes(mac: str) -> bytes:
    """"02:42:0a:00:00:02" → 6 bytes (ValueError naming the value otherwise)."""
    parts = mac.split(":")
    if len(parts) != 6 or not all(0 < len(p) <= 2 and set(p) <= _HEX for p in parts):
        raise ValueError(f"invalid MAC address {mac!r}: expected six hex bytes like "
                         "02:42:ac:11:00:02")
    return bytes(int(p, 16) for p in parts)


def ifinfomsg(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, flags, change)


def veth_peer(ifname: str, mtu: int = 0, net_ns_fd: int | None = None) -> bytes:
    """The ``VETH_INFO_PEER`` of a veth's ``IFLA_INFO_DATA``: the peer as a whole link
    request of its own (an ``ifinfomsg`` and its attributes), so it is no plain nest."""
    attrs = [attr_str(IFLA_IFNAME, ifname)]
    if mtu:
        attrs.append(attr_u32(IFLA_MTU, mtu))
    if net_ns_fd is not None:
        attrs.append(attr_u32(IFLA_NET_NS_FD, net_ns_fd))
    return attr(VETH_INFO_PEER, ifinfomsg() + b"".join(attrs))


# -- answers ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    type: int
    flags: int
    seq: int
    payload: bytes  # the family header, then the attributes


@dataclass(frozen=True)
class Link:
    index: int
    ifname: str
    flags: int


@dataclass(frozen=True)
class Route:
    family: int
    dst_len: int
    table: int
    dst: str | None  # RTA_DST; None for a default route
    gateway: str | None  # RTA_GATEWAY
    oif: int  # RTA_OIF; 0 when absent


def _ip(family: int, raw: bytes) -> str:
    return str(ipaddress.ip_address(raw)) if family in (socket.AF_INET, socket.AF_INET6) else ""


def parse_link(msg: Message) -> Link:
    _, _, index, flags, _ = _IFINFOMSG.unpack_from(msg.payload)
    attrs = parse_attrs(msg.payload[_IFINFOMSG.size:])
    name = attrs.get(IFLA_IFNAME, b"").split(b"\0", 1)[0].decode(errors="replace")
    return Link(index=index, ifname=name, flags=flags)


def parse_route(msg: Message) -> Route:
    family, dst_len, _, _, table, _, _, _, _ = _RTMSG.unpack_from(msg.payload)
    attrs = parse_attrs(msg.payload[_RTMSG.size:])
    if RTA_TABLE in attrs:
        table = struct.unpack("=I", attrs[RTA_TABLE][:4])[0]
    dst = _ip(family, attrs[RTA_DST]) if RTA_DST in attrs else None
    gw = _ip(family, attrs[RTA_GATEWAY]) if RTA_GATEWAY in attrs else None
    oif = struct.unpack("=I", attrs[RTA_OIF][:4])[0] if RTA_OIF in attrs else 0
    return Route(family=family, dst_len=dst_len, table=table, dst=dst, gateway=gw, oif=oif)


def _error_of(msg: Message) -> NetlinkError | None:
    """None for an ack (error 0), else the error with its extended-ack text."""
    (err,) = _ERRNO.unpack_from(msg.payload)
    if err == 0:
        return None
    text = ""
    if msg.flags & NLM_F_ACK_TLVS:
        # After the error: the request's header (and, unless capped, its body),
        # then the extended-ack attributes.
        skip = _ERRNO.size + _NLMSGHDR.size
        if not msg.flags & NLM_F_CAPPED:
            skip = _ERRNO.size + _align(_NLMSGHDR.unpack_from(msg.payload, _ERRNO.size)[0])
        raw = parse_attrs(msg.payload[skip:]).get(NLMSGERR_ATTR_MSG, b"")
        text = raw.split(b"\0", 1)[0].decode(errors="replace")
    return NetlinkError(-err, text)


def valid_ifname(name: str) -> bool:
    """Could a link be called ``name``? (1-15 bytes, no NUL, "/", ":" or whitespace.)"""
    raw = name.encode()
    return (0 < len(raw) < IFNAMSIZ and name not in (".", "..")
            and not any(c in raw for c in b"\0/: \t\n\r\x0b\x0c"))


# -- the socket ---------------------------------------------------------------------------

def open_socket() -> socket.socket:
    """A NETLINK_ROUTE socket in the calling thread's network namespace."""
    return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC,
                         NETLINK_ROUTE)


class RtNetlink:
    """Requests on one NETLINK_ROUTE socket (``sock``, or a new one in this thread's
    namespace); closes it on ``close()`` or at the end of a ``with`` block::

        with RtNetlink() as nl:
            lo = nl.link("lo")
            nl.set_link(lo.index, up=True)
    """

    def __init__(self, sock: socket.socket | None = None) -> None:
        self.sock = sock if sock is not None else open_socket()
        try:
            for opt in (NETLINK_CAP_ACK, NETLINK_EXT_ACK):
                self.sock.setsockopt(SOL_NETLINK, opt, 1)
            self.sock.bind((0, 0))  # port id 0: the kernel picks a free one
        except BaseException:
            self.sock.close()
            raise
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RtNetlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the exchange -----------------------------------------------------------------

    def request(self, msg_type: int, payload: bytes, flags: int = NLM_F_ACK) -> list[Message]:
        """Send one request and read its whole answer: the replies (a dump's every part),
        ending at the ack, the error (raised) or ``NLMSG_DONE``."""
        self.seq += 1
        seq = self.seq
        head = _NLMSGHDR.pack(_NLMSGHDR.size + len(payload), msg_type, NLM_F_REQUEST | flags,
                              seq, 0)
        self.sock.send(head + payload)
        replies: list[Message] = []
        interrupted = False
        while True:
            for msg in self._receive():
                if msg.seq != seq:
                    continue  # a late answer to a request abandoned by an exception
                if msg.type == NLMSG_ERROR:
                    err = _error_of(msg)
                    if err is not None:
                        raise err
                    return replies
                if msg.type == NLMSG_DONE:
                    # A dump's end carries an error of its own when the dump failed.
                    (code,) = _ERRNO.unpack_from(msg.payload) if msg.payload else (0,)
                    if code < 0:
                        raise NetlinkError(-code)
                    if interrupted or msg.flags & NLM_F_DUMP_INTR:
                        # Raised only now, the dump read to its end: the kernel
                        # refuses a new dump (EBUSY) while one is still running.
                        raise NetlinkError(errno.EINTR, "dump interrupted by a change")
                    return replies
                if msg.type == NLMSG_OVERRUN:
                    raise NetlinkError(errno.ENOBUFS, "netlink overrun")
                if msg.type == NLMSG_NOOP:
                    continue
                interrupted |= bool(msg.flags & NLM_F_DUMP_INTR)
                replies.append(msg)
                if not msg.flags & NLM_F_MULTI and not flags & NLM_F_ACK:
                    return replies  # a single answer, and no ack asked for

    def _receive(self) -> list[Message]:
        data, _, msg_flags, _ = self.sock.recvmsg(_RECV_SIZE)
        if msg_flags & socket.MSG_TRUNC:
            raise NetlinkError(errno.EMSGSIZE, "netlink answer larger than the buffer")
        out: list[Message] = []
        off = 0
        while off + _NLMSGHDR.size <= len(data):
            length, mtype, mflags, seq, _ = _NLMSGHDR.unpack_from(data, off)
            if length < _NLMSGHDR.size or off + length > len(data):
                break
            out.append(Message(mtype, mflags, seq, data[off + _NLMSGHDR.size:off + length]))
            off += _align(length)
        return out

    def dump(self, msg_type: int, payload: bytes) -> list[Message]:
        """A whole table; read again when the kernel says it changed mid-dump."""
        for _ in range(4):
            try:
                return self.request(msg_type, payload, NLM_F_DUMP)
            except NetlinkError as e:
                if e.errno != errno.EINTR:
                    raise
        return self.request(msg_type, payload, NLM_F_DUMP)

    # -- links --------------------------------------------------------------------------

    def link(self, ifname: str) -> Link | None:
        """The link called ``ifname`` in this socket's namespace, or None."""
        if not valid_ifname(ifname):
            return None  # no link can have that name (the kernel would say EINVAL)
        try:
            (msg,) = self.request(RTM_GETLINK, ifinfomsg() + attr_str(IFLA_IFNAME, ifname),
                                  flags=0)
        except NetlinkError as e:
            if e.errno == errno.ENODEV:
                return None
            raise
        return parse_link(msg)

    def new_link(self, ifname: str, kind: str, *, mtu: int = 0, address: str = "",
                 master: int = 0, link: int = 0, up: bool = False,
                 info_data: Iterable[bytes] = ()) -> None:
        """RTM_NEWLINK: create ``ifname`` of ``kind`` (EEXIST if the name is taken).
        ``info_data``: the kind's own attributes (``veth_peer(...)``,
        ``attr_u32(IFLA_MACVLAN_MODE, ...)``)."""
        attrs = [attr_str(IFLA_IFNAME, ifname)]
        if address:
            attrs.append(attr(IFLA_ADDRESS, mac_bytes(address)))
        if mtu:
            attrs.append(attr_u32(IFLA_MTU, mtu))
        if master:
            attrs.append(attr_u32(IFLA_MASTER, master))
        if link:
            attrs.append(attr_u32(IFLA_LINK, link))
        info = [attr_str(IFLA_INFO_KIND, kind)]
        data = b"".join(info_data)
        if data:
            info.append(nested(IFLA_INFO_DATA, data))
        attrs.append(nested(IFLA_LINKINFO, *info))
        flags = IFF_UP if up else 0
        self.request(RTM_NEWLINK, ifinfomsg(flags=flags, change=flags) + b"".join(attrs),
                     NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)

    def set_link(self, index: int, *, ifname: str = "", address: str = "", mtu: int = 0,
                 up: bool | None = None, net_ns_fd: int | None = None) -> None:
        """RTM_SETLINK: change link ``index`` in one request. The kernel moves it to
        ``net_ns_fd`` first, renames it before the flags, and brings it up last, so a rename
        plus "up" is safe in one go."""
        attrs = []
        if ifname:
            attrs.append(attr_str(IFLA_IFNAME, ifname))
        if address:
            attrs.append(attr(IFLA_ADDRESS, mac_bytes(address)))
        if mtu:
            attrs.append(attr_u32(IFLA_MTU, mtu))
        if net_ns_fd is not None:
            attrs.append(attr_u32(IFLA_NET_NS_FD, net_ns_fd))
        change = 0 if up is None else IFF_UP
        flags = IFF_UP if up else 0
        self.request(RTM_SETLINK, ifinfomsg(index, flags, change) + b"".join(attrs))

    def del_link(self, index: int = 0, ifname: str = "") -> None:
        """RTM_DELLINK by index, or by name (ENODEV when there is none)."""
        body = ifinfomsg(index) + (attr_str(IFLA_IFNAME, ifname) if ifname and not index
                                   else b"")
        self.request(RTM_DELLINK, body)

    # -- addresses and routes ---------------------------------------------------------------

    def add_address(self, index: int, cidr: str, flags: int = 0) -> None:
        """RTM_NEWADDR: ``cidr`` ("10.0.0.2/24", "fd00::2/64") on link ``index``
        (EEXIST if it is there). ``flags``: IFA_F_* (IFA_F_NODAD)."""
        iface = ipaddress.ip_interface(cidr)
        fam = socket.AF_INET6 if iface.version == 6 else socket.AF_INET
        ip = iface.ip.packed
        # IFA_LOCAL is the address itself; IFA_ADDRESS the peer's on point-to-point
        # links and the same address elsewhere (what `ip addr add` sends).
        body = (_IFADDRMSG.pack(fam, iface.network.prefixlen, flags, RT_SCOPE_UNIVERSE, index)
                + attr(IFA_LOCAL, ip) + attr(IFA_ADDRESS, ip))
        self.request(RTM_NEWADDR, body, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)

    def add_route(self, family: int, oif: int, gateway: str = "", dst: str = "",
                  table: int = RT_TABLE_MAIN) -> None:
        """RTM_NEWROUTE: ``dst`` (a CIDR; "" for the default route) out of link ``oif``,
        via ``gateway`` if given (EEXIST if the same route is there)."""
        dst_len, attrs = 0, []
        if dst:
            net = ipaddress.ip_network(dst, strict=False)
            dst_len = net.prefixlen
            attrs.append(attr(RTA_DST, net.network_address.packed))
        if gateway:
            attrs.append(attr(RTA_GATEWAY, ipaddress.ip_address(gateway).packed))
        attrs.append(attr_u32(RTA_OIF, oif))
        attrs.append(attr_u32(RTA_TABLE, table))  # rtm_table holds only ids below 256
        body = _RTMSG.pack(family, dst_len, 0, 0, table if table < 256 else 0, RTPROT_STATIC,
                           RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
        self.request(RTM_NEWROUTE, body + b"".join(attrs), NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)

    def routes(self, family: int, table: int = RT_TABLE_MAIN) -> list[Route]:
        """The routes of ``table`` (a dump of all tables, filtered here: the kernel filters
        by table only with strict checking on)."""
        body = _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
        out = [parse_route(m) for m in self.dump(RTM_GETROUTE, body)
               if m.type == RTM_NEWROUTE]
        return [r for r in out if r.table == table]
