"""Where a webhook may be sent: the URL's form, and the addresses its host resolves to.

A webhook URL is chosen by a user but requested by this server, from inside its network: left
unchecked, it could reach the cloud's metadata service (169.254.169.254), the database, or an
admin page on localhost (server-side request forgery). So every address the host resolves to
must be outside the networks of `REFUSED_NETWORKS` (private, loopback, link-local, multicast,
reserved, …), unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES is on. The check runs at registration and
again before each delivery, and the delivery connects to an address that was checked
(`PinnedTarget`), so a name that resolves to another address a moment later (DNS rebinding)
gains nothing.

The table is written out here rather than taken from `ipaddress.is_private` / `is_global`,
whose answers change between Python releases: on 3.11.7, 192.0.0.192, 3fff::1, and 6to4 or
NAT64 addresses wrapping 127.0.0.1 or 169.254.169.254 all pass as global.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class RefusedNetwork:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    kind: str  # what the endpoint's owner is told, never the address itself


def _networks(*rows: tuple[str, str]) -> tuple[RefusedNetwork, ...]:
    return tuple(RefusedNetwork(ipaddress.ip_network(network), kind) for network, kind in rows)


# From the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890, updated by RFC 8190;
# iana.org/assignments/iana-ipv4-special-registry and iana-ipv6-special-registry, as updated in
# 2025), the multicast blocks (224.0.0.0/4, RFC 5771; ff00::/8, RFC 4291) and 255.255.255.255
# (RFC 919). Every block the registries mark not globally reachable is here, and a few marked
# reachable that no webhook receiver lives in: all of 192.0.0.0/24 and 2001::/23 (the exceptions
# inside them are anycast and protocol services), 192.88.99.0/24 (the 6to4 relays, deprecated).
# A more precise block comes before the block holding it: the first match names the kind.
REFUSED_NETWORKS = _networks(
    ("0.0.0.0/8", "unspecified"),  # "this network" (RFC 791): 0.0.0.0 reaches this host
    ("10.0.0.0/8", "private"),  # RFC 1918
    ("100.64.0.0/10", "shared (carrier-grade NAT)"),  # RFC 6598
    ("127.0.0.0/8", "loopback"),  # RFC 1122
    ("169.254.0.0/16", "link-local"),  # RFC 3927; the cloud metadata service
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),  # RFC 6890
    ("192.0.2.0/24", "documentation"),  # RFC 5737, TEST-NET-1
    ("192.88.99.0/24", "6to4 relay anycast"),  # RFC 7526
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),  # RFC 2544
    ("198.51.100.0/24", "documentation"),  # TEST-NET-2
    ("203.0.113.0/24", "documentation"),  # TEST-NET-3
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),  # before 240.0.0.0/4, which holds it
    ("240.0.0.0/4", "reserved"),  # RFC 1112
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    # ::ffff:0:0/96 (IPv4-mapped), 64:ff9b::/96 (NAT64) and 2002::/16 (6to4) carry an IPv4
    # address, which decides: `embedded_ipv4`.
    ("64:ff9b:1::/48", "local-use NAT64"),  # RFC 8215: translated inside someone's network
    ("100::/64", "discard-only"),  # RFC 6666
    ("2001::/32", "Teredo"),  # RFC 4380: a tunnel to an IPv4 address; refused, not unwrapped
    ("2001::/23", "IETF protocol assignments"),  # RFC 2928
    ("2001:db8::/32", "documentation"),  # RFC 3849
    ("3fff::/20", "documentation"),  # RFC 9637
    ("5f00::/16", "segment routing (SRv6)"),  # RFC 9602
    ("fc00::/7", "private"),  # unique local, RFC 4193
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
)
# Only 2000::/3 is global unicast (the IANA IPv6 Address Space registry): anything else left
# (the deprecated site-local fec0::/10 and IPv4-compatible ::/96, unassigned space) is refused.
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")  # RFC 4291: IPv4 written as IPv6
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: IPv4 in the last 32 bits
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")  # RFC 3056: IPv4 in the 32 bits after 2002
_IPV4_BITS = 0xFFFF_FFFF


class AddressRefusedError(ValueError):
    """The URL may not be requested; the message says why, for the endpoint's owner."""


def url_form_problem(url: str, *, allow_http: bool, allowed_ports: Sequence[int]) -> str | None:
    """What is wrong with the URL's form, or None."""
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # an IDN label is decoded here, and may be refused (`xn--`)
    except (httpx.InvalidURL, ValueError) as error:
        return f"is not a valid URL ({error})"
    schemes = ("https", "http") if allow_http else ("https",)
    if parsed.scheme not in schemes:
        return "must start with https://" if not allow_http else "must be an http(s) URL"
    if not host:
        return "must name a host"
    if parsed.userinfo:
        return "must not carry a user name or password: deliveries are signed instead"
    if parsed.fragment:
        return "must not have a #fragment"
    if port_of(parsed) not in allowed_ports:
        return f"must use port {either(allowed_ports)}, not {port_of(parsed)}"
    return None


def port_of(url: httpx.URL) -> int:
    """The port a request to the URL goes to, named or implied by the scheme."""
    if url.port is not None:  # 0 included: named, and refused
        return url.port
    return 443 if url.scheme == "https" else 80


def either(values: Sequence[int]) -> str:
    """The values as a sentence says them: "443", "443 or 80", "443, 80 or 8443"."""
    *others, last = [str(value) for value in values]
    return f"{', '.join(others)} or {last}" if others else last


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 one carries, and how ("" when it is the IPv4 address written
    as IPv6), or None."""
    if address in _IPV4_MAPPED:
        return ipaddress.IPv4Address(int(address) & _IPV4_BITS), ""
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & _IPV4_BITS), "NAT64"
    if address in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(address) >> 80) & _IPV4_BITS), "6to4"
    return None


def non_public_kind(address: IPAddress) -> str | None:
    """Why the address may not be reached ("loopback", "private", …), or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = embedded_ipv4(address)
        if carried is not None:
            ipv4, wrapper = carried
            kind = non_public_kind(ipv4)
            return f"{kind}, inside a {wrapper} address" if kind and wrapper else kind
    for refused in REFUSED_NETWORKS:
        if address in refused.network:  # False when the versions differ
            return refused.kind
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST:
        return "reserved"
    return None


async def resolve(host: str, port: int, lookup_seconds: float) -> list[IPAddress]:
    """The addresses `host` resolves to, looked up off the event loop."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), lookup_seconds
        )
    except (OSError, UnicodeError, ValueError, TimeoutError) as error:
        # Without the resolver's words: they are the system's, not the owner's.
        raise AddressRefusedError(f"{host} could not be resolved") from error
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    return list(dict.fromkeys(addresses))


@dataclass(frozen=True, slots=True)
class PinnedTarget:
    """The URL's checked addresses, and what keeps a request to one of them addressed to the
    name: the Host header and, for https, the TLS server name (SNI and the certificate check)."""

    url: httpx.URL
    addresses: list[IPAddress]
    headers: dict[str, str]
    extensions: dict[str, str]

    def url_at(self, address: IPAddress) -> httpx.URL:
        """The URL with its host replaced by the address: no second lookup can change it."""
        return self.url.copy_with(host=str(address))


async def checked_target(url: str, *, allow_private: bool, lookup_seconds: float) -> PinnedTarget:
    """The URL and the addresses its host resolves to; AddressRefusedError when any of them is
    not public (and such addresses are not allowed)."""
    parsed = httpx.URL(url)
    host = parsed.raw_host.decode("ascii")  # as DNS and TLS spell it (IDNA)
    addresses = await resolve(host, port_of(parsed), lookup_seconds)
    if not addresses:
        raise AddressRefusedError(f"{host} resolves to no address")
    if not allow_private:
        for address in addresses:
            kind = non_public_kind(address)
            if kind is not None:
                # The address is not named: a refusal must not map internal names to
                # addresses for whoever registers the URL.
                raise AddressRefusedError(f"{host} resolves to a non-public address ({kind})")
    host_header = parsed.netloc.decode("ascii")  # host[:port], IPv6 in brackets
    extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
    return PinnedTarget(parsed, addresses, {"Host": host_header}, extensions)
