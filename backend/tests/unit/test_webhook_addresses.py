"""Where a webhook may be sent: the URL's form, public addresses only, and the request pinned to
the address that was checked."""

import ipaddress

import pytest

from app.services.webhooks.addresses import (
    AddressRefusedError,
    checked_target,
    non_public_kind,
    url_form_problem,
)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4 written as IPv6
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("192.0.0.192", "IETF protocol assignments"),  # public to Python 3.11's ipaddress
        ("192.0.0.9", "IETF protocol assignments"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.200", "documentation"),
        ("192.88.99.1", "6to4 relay anycast"),  # public to Python 3.11's ipaddress
        ("198.19.255.1", "benchmarking"),
        ("64:ff9b:1::a00:1", "local-use NAT64"),
        ("100::1", "discard-only"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
        ("2001:2::1", "IETF protocol assignments"),
        ("2001:1::1", "IETF protocol assignments"),  # globally reachable, yet no receiver's
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),  # public to Python 3.11's ipaddress
        ("5f00::1", "segment routing (SRv6)"),
        ("fec0::1", "reserved"),  # site-local, deprecated: outside 2000::/3
        ("::7f00:1", "reserved"),  # IPv4-compatible (deprecated): outside 2000::/3
        ("8.8.8.8", None),
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_only_public_addresses_pass(address: str, kind: str | None) -> None:
    assert non_public_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        # 6to4 (2002::/16): the IPv4 address in the next 32 bits decides. All of these pass
        # as public on Python 3.11.7's ipaddress.
        ("2002:7f00:1::", "loopback, inside a 6to4 address"),
        ("2002:a9fe:a9fe::1", "link-local, inside a 6to4 address"),
        ("2002:a00:5::", "private, inside a 6to4 address"),
        ("2002:808:808::", None),
        # NAT64 (64:ff9b::/96): the IPv4 address in the last 32 bits decides.
        ("64:ff9b::7f00:1", "loopback, inside a NAT64 address"),
        ("64:ff9b::a9fe:a9fe", "link-local, inside a NAT64 address"),
        ("64:ff9b::c000:c0", "IETF protocol assignments, inside a NAT64 address"),
        ("64:ff9b::808:808", None),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_ipv4_addresses_inside_ipv6_ones_are_checked_as_ipv4(
    address: str, kind: str | None
) -> None:
    assert non_public_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    ("url", "allow_http", "problem"),
    [
        ("https://example.com/hooks?x=1", False, None),
        ("http://example.com/hooks", True, None),
        ("http://example.com/hooks", False, "must start with https://"),
        ("ftp://example.com/", True, "must be an http(s) URL"),
        ("https://", False, "must name a host"),
        ("https://me:pw@example.com/", False, "must not carry a user name or password"),
        ("https://example.com/#top", False, "must not have a #fragment"),
        ("https://[::1/", False, "is not a valid URL"),
        ("https://xn--/h", False, "is not a valid URL"),  # an IDN label that decodes to nothing
        ("https://93.184.216.34:0/h", False, "must use port 443 or 80, not 0"),
        ("https://example.com:443/", False, None),
        ("http://example.com:80/", True, None),
        ("https://example.com:80/", False, None),  # a port allowed, whatever the scheme
        ("https://example.com:8443/", False, "must use port 443 or 80, not 8443"),
        ("http://example.com:8080/", True, "must use port 443 or 80, not 8080"),
    ],
)
def test_the_url_form(url: str, allow_http: bool, problem: str | None) -> None:
    found = url_form_problem(url, allow_http=allow_http, allowed_ports=[443, 80])
    assert (found if found is None else found[: len(problem or "")]) == problem


async def test_a_name_resolving_to_loopback_is_refused_unless_allowed() -> None:
    with pytest.raises(
        AddressRefusedError, match=r"^localhost resolves to a non-public address \(loopback\)$"
    ):
        await checked_target("https://localhost/x", allow_private=False, lookup_seconds=5)

    allowed = await checked_target("https://localhost/x", allow_private=True, lookup_seconds=5)
    assert {str(a) for a in allowed.addresses} <= {"127.0.0.1", "::1"}


async def test_a_request_goes_to_the_checked_address_in_the_names_name() -> None:
    target = await checked_target(
        "https://93.184.215.14:8443/a?b=c", allow_private=False, lookup_seconds=5
    )
    address = target.addresses[0]

    assert str(target.url_at(address)) == "https://93.184.215.14:8443/a?b=c"
    assert target.headers == {"Host": "93.184.215.14:8443"}
    assert target.extensions == {"sni_hostname": "93.184.215.14"}
    ipv6 = await checked_target("http://[::1]:9/", allow_private=True, lookup_seconds=5)
    assert str(ipv6.url_at(ipv6.addresses[0])) == "http://[::1]:9/"
    assert ipv6.headers == {"Host": "[::1]:9"}
    assert ipv6.extensions == {}


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(AddressRefusedError, match="could not be resolved"):
        await checked_target("https://no-such-host.invalid/", allow_private=True, lookup_seconds=5)
