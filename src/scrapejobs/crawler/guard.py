"""The SSRF guard (CONTRACT 8): which addresses a crawl may connect to.

Unless a deployment allows private networks, the crawler never connects to
loopback, private, link-local, shared (CGNAT), multicast, reserved or
unspecified addresses, nor to the cloud metadata endpoints, including IPv4
addresses embedded in IPv6 ones (IPv4-mapped, 6to4, Teredo, NAT64).

The check holds on the address actually connected to:

* host names go through :class:`GuardedResolver`, which drops blocked
  addresses from every DNS answer and fails when none is left (so
  ``localhost`` and ``0x7f000001``, which ``getaddrinfo`` turns into
  127.0.0.1, are refused);
* IP literals never reach a resolver, so :class:`HostGuard` checks them
  before each request, each redirect hop included; legacy numeric spellings
  (``2130706433``, ``0177.0.0.1``) are read the way ``inet_aton`` reads them.

``allowed_networks`` are always allowed, private or not (tests, intranets).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver, ResolveResult

__all__ = ["AddressPolicy", "BlockedAddress", "GuardedResolver", "HostGuard", "literal_address"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_HOST_CHARS = frozenset("0123456789abcdefxABCDEFX.")


ALLOW_HINT = (
    "to crawl private, loopback and link-local addresses, start the server or worker "
    "with --allow-private-networks (or SCRAPEJOBS_ALLOW_PRIVATE_NETWORKS=1)"
)
"""What a refused address's message says to do about it (a retry alone fails again)."""


class BlockedAddress(OSError):
    """A connection to ``address`` is refused by the address policy.

    An ``OSError`` so that aiohttp's connector carries it (as ``os_error``)
    when the resolver raises it.
    """

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"blocked address {address} ({reason}); {ALLOW_HINT}")
        self.address = address
        self.reason = reason


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64_PREFIX or 1 < int(address) < 2**32:  # NAT64, IPv4-compatible
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _reason(address: IPAddress) -> str | None:
    """Why ``address`` is blocked, or None if it is a public unicast address."""
    checks = (
        (address in METADATA_ADDRESSES, "cloud metadata"),
        (address.is_loopback, "loopback"),
        (address.is_unspecified, "unspecified"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private network"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not globally routable"),
    )
    return next((reason for hit, reason in checks if hit), None)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which resolved addresses a crawl may connect to."""

    allow_private_networks: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    """Always allowed, even if private."""

    def check(self, address: str) -> None:
        """Raise :class:`BlockedAddress` unless a connection to ``address`` is allowed."""
        if self.allow_private_networks:
            return
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise BlockedAddress(address, "not an IP address") from None
        candidates: list[IPAddress] = [parsed]
        if isinstance(parsed, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(parsed)
            if embedded is not None:
                candidates.insert(0, embedded)
        if any(a in net for a in candidates for net in self.allowed_networks):
            return
        for candidate in candidates:
            reason = _reason(candidate)
            if reason is not None:
                raise BlockedAddress(address, reason)


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally, or None for a host name.

    Besides the canonical forms, the numeric spellings ``inet_aton`` accepts
    (``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``) count as
    literals, since system resolvers read them so.
    """
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if host and set(host) <= _NUMERIC_HOST_CHARS:
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


class HostGuard:
    """Checks the host of each request before it is sent (IP literals only)."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._verdicts: dict[str, BlockedAddress | None] = {}

    def check_host(self, host: str) -> None:
        """Raise :class:`BlockedAddress` if ``host`` is a literal the policy refuses."""
        try:
            verdict = self._verdicts[host]
        except KeyError:
            verdict = self._verdict(host)
            if len(self._verdicts) > 10_000:
                self._verdicts.clear()
            self._verdicts[host] = verdict
        if verdict is not None:
            raise BlockedAddress(verdict.address, verdict.reason)

    def _verdict(self, host: str) -> BlockedAddress | None:
        address = literal_address(host)
        if address is None:
            return None  # a host name: the resolver checks what it resolves to
        try:
            self.policy.check(str(address))
        except BlockedAddress as exc:
            return exc
        return None


class GuardedResolver(AbstractResolver):
    """A resolver that keeps only the addresses the policy allows."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver) -> None:
        self._policy = policy
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed: list[ResolveResult] = []
        blocked: BlockedAddress | None = None
        for result in results:
            try:
                self._policy.check(result["host"])
            except BlockedAddress as exc:
                blocked = blocked or exc
            else:
                allowed.append(result)
        if blocked is not None and not allowed:
            raise blocked
        return allowed

    async def close(self) -> None:
        await self._inner.close()
