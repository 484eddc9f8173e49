"""Where a URL a partner gave us may take our requests: the internet, not our own networks (no SSRF).

A fleet enterprise registers its webhook's URL through the open API; head office then POSTs to it. Unchecked,
that URL could point head office at its own database, the cloud's metadata service (169.254.169.254) or any
host on the private network, and the deliveries page (status or error of each attempt) would tell the partner
what answered. So a partner's URL may only reach *public* addresses: not loopback, private (RFC 1918, IPv6
ULA), link-local, shared (100.64/10), multicast, reserved or unspecified ones, nor an IPv4 address smuggled in
IPv6 (``::ffff:10.0.0.1``). A receiver that really is inside (a partner on a VPN, our own test receivers) is
let through by naming its networks in ``FORECOURT_PARTNER_PRIVATE_NETWORKS`` (CIDRs, comma-separated).

Checked twice: when the URL is registered (``check_literal``: an IP address or ``localhost`` written in the URL
is refused at once, with no DNS lookup, so a wrong URL gets a 422 that says why), and at every delivery
(``pinned``): the name is resolved, every address it has must be allowed, and the request goes to the address
that was checked (the ``Host`` header and the TLS server name keep the name), so a DNS answer that changes
between the check and the connect (DNS rebinding) cannot redirect it. Redirects are not followed (httpx's
default), so a 3xx cannot lead there either.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from dataclasses import dataclass

import httpx

SETTING = "FORECOURT_PARTNER_PRIVATE_NETWORKS"
RESOLVE_TIMEOUT_S = 5.0
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressRefused(Exception):
    """The URL leads to an address a partner's request may not reach (the message says which and why)."""


def allowed_networks(value: str | None = None) -> tuple[Network, ...]:
    """The non-public networks partners' receivers may be in (``FORECOURT_PARTNER_PRIVATE_NETWORKS``)."""
    text = os.environ.get(SETTING, "") if value is None else value
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise AddressRefused(f"{SETTING} 配置有误 (not a list of CIDRs: {exc})") from None


def refusal(address: Address, allowed: tuple[Network, ...] = ()) -> str | None:
    """Why a partner's request may not go to ``address`` (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return None
    if address.is_global and not address.is_multicast:
        return None
    kind = ("本机" if address.is_loopback else "链路本地" if address.is_link_local
            else "组播" if address.is_multicast else "内网或保留")
    return (f"回调地址 {address} 是{kind}地址，只能使用公网地址 (a webhook may only reach public addresses; "
            f"{address} is not one)")


def _parsed(url: str) -> httpx.URL:
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise AddressRefused(f"回调地址不是有效的网址 (not a valid URL: {exc})") from None


def check_literal(url: str, allowed: tuple[Network, ...] | None = None) -> None:
    """Refuse a URL whose host is written as a non-public IP address or as ``localhost`` (no DNS lookup), or
    one that is not a URL at all."""
    host = _parsed(url).host
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return                              # a name: resolved and checked at each delivery (``pinned``)
    reason = refusal(address, allowed_networks() if allowed is None else allowed)
    if reason is not None:
        raise AddressRefused(reason)


@dataclass(frozen=True, slots=True)
class Pinned:
    """A request to the address that was checked: send it to ``url`` with ``headers`` and ``extensions``."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]


async def pinned(url: str, allowed: tuple[Network, ...] | None = None) -> Pinned:
    """``url`` resolved, every address checked, and the request pinned to the first (AddressRefused if any is
    refused, or the name does not resolve)."""
    target = _parsed(url)
    allowed = allowed_networks() if allowed is None else allowed
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(
            target.host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise AddressRefused(f"回调地址 {target.host} 无法解析 (the webhook's host does not resolve: {exc})") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    for address in addresses:
        reason = refusal(address, allowed)
        if reason is not None:
            raise AddressRefused(f"{target.host}: {reason}")
    host = target.netloc.decode("ascii").rpartition("@")[2]      # the name and any port, as the URL has them
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return Pinned(target.copy_with(host=str(addresses[0])), {"Host": host}, extensions)
