"""Where a webhook may be sent: the URL's form, and the addresses its host resolves to.

A webhook URL is chosen by a user but requested by this server, from inside its network: left
unchecked, it could reach the cloud's metadata service (169.254.169.254), the database, or an
admin page on localhost (server-side request forgery). So every address the host resolves to
must be public (not private, loopback, link-local, multicast, reserved or unspecified), unless
WEBHOOK_ALLOW_PRIVATE_ADDRESSES is on. The check runs at registration and again before each
delivery, and the delivery connects to an address that was checked (`PinnedTarget`), so a name
that resolves to another address a moment later (DNS rebinding) gains nothing.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Checked in this order: loopback and link-local addresses are "private" too, and the more
# precise word says more.
_KINDS = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_private", "private"),
    ("is_reserved", "reserved"),
)


class AddressRefusedError(ValueError):
    """The URL may not be requested; the message says why, for the endpoint's owner."""


def url_form_problem(url: str, *, allow_http: bool) -> str | None:
    """What is wrong with the URL's form, or None."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as error:
        return f"is not a valid URL ({error})"
    schemes = ("https", "http") if allow_http else ("https",)
    if parsed.scheme not in schemes:
        return "must start with https://" if not allow_http else "must be an http(s) URL"
    if not parsed.host:
        return "must name a host"
    if parsed.userinfo:
        return "must not carry a user name or password: deliveries are signed instead"
    if parsed.fragment:
        return "must not have a #fragment"
    return None


def non_public_kind(address: IPAddress) -> str | None:
    """Why the address is not public ("loopback", "private", …), or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for attribute, kind in _KINDS:
        if getattr(address, attribute):
            return kind
    return None if address.is_global else "non-public"


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
        raise AddressRefusedError(f"{host} could not be resolved ({error})") from error
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
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = await resolve(host, port, lookup_seconds)
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
