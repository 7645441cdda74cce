"""Which addresses camsvc may connect to: cameras and webhooks live on the commune's LAN, nothing else.

``network.allowed_networks`` (settings) lists the networks cameras and webhook-like alert channels may be
on; the default is the private ranges, CGNAT and loopback. Link-local addresses, and with them the cloud
metadata service (169.254.169.254), are refused whatever the list says: a re-pointed camera must not turn
the prober into a way to read the host's credentials.

Two layers: :func:`check_addresses` is pure (a host and the addresses it stands for, against a
:class:`Policy`); :func:`check_host` / :func:`check_url` resolve the name first. Names are resolved when a
camera or channel is saved *and* again right before each probe or delivery, so a name that later resolves
elsewhere (DNS rebinding) is caught where it matters. A name that does not resolve at save time is accepted
(the camera may simply be offline); it is checked again at every connection.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from camsvc.config import NetworkSettings

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_ALLOWED = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",  # CGNAT: common behind rural ISPs' routers
    "127.0.0.0/8",
    "::1/128",
    "fc00::/7",
)
# Never reachable, whatever the settings say (link-local: cloud metadata, auto-configured addresses).
ALWAYS_REFUSED: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.ip_network("169.254.169.254/32"), "the cloud metadata service address"),
    (ipaddress.ip_network("fd00:ec2::254/128"), "the cloud metadata service address"),
    (ipaddress.ip_network("169.254.0.0/16"), "a link-local address"),
    (ipaddress.ip_network("fe80::/10"), "a link-local address"),
    (ipaddress.ip_network("0.0.0.0/8"), "an unspecified address"),
    (ipaddress.ip_network("::/128"), "an unspecified address"),
)
# Alert channel schemes whose URL host is the address Apprise connects to (webhooks and self-hosted
# services); others (tgram://, mailto://...) go to the service's fixed public API.
WEBHOOK_SCHEMES = frozenset(
    {
        "json",
        "jsons",
        "form",
        "forms",
        "xml",
        "xmls",
        "http",
        "https",
        "apprise",
        "apprises",
        "gotify",
        "gotifys",
        "mmost",
        "mmosts",
        "rocket",
        "rockets",
        "ntfys",
        "matrix",
        "matrixs",
        "ncloud",
        "nclouds",
    }
)


class Refused(ValueError):
    """The target is not allowed; the message names the URL's host and why (never a secret)."""


@dataclass(frozen=True)
class Policy:
    allowed: tuple[IPNetwork, ...]

    @classmethod
    def from_strings(cls, networks: Iterable[str]) -> Policy:
        return cls(tuple(parse_network(n) for n in networks))

    def why_refused(self, address: IPAddress) -> str | None:
        """``None`` if *address* may be connected to, else the reason."""
        addr = _unmap(address)
        for net, why in ALWAYS_REFUSED:
            if addr.version == net.version and addr in net:
                return f"{addr} is {why}, never allowed"
        if any(addr.version == net.version and addr in net for net in self.allowed):
            return None
        return f"{addr} is outside the allowed networks (setting network.allowed_networks)"


def parse_network(text: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"not an IP network: {text!r} (e.g. 192.168.0.0/16)") from None


def _unmap(addr: IPAddress) -> IPAddress:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


# ------------------------------------------------------------------------------------------ the setting
_current: Policy | None = None


def configure(settings: NetworkSettings | Sequence[str] | None) -> Policy:
    """Use these networks in this process from now on (``None``: back to the settings' default)."""
    global _current
    if settings is None:
        _current = None
        return current()
    networks = settings if isinstance(settings, Sequence) else settings.allowed_networks
    _current = Policy.from_strings(networks)
    return _current


def current() -> Policy:
    """The process's policy: configured, else from the settings (environment / config file), once."""
    global _current
    if _current is None:
        try:
            from camsvc.config import load_settings

            _current = Policy.from_strings(load_settings().network.allowed_networks)
        except Exception as exc:  # unreadable settings: the service refuses to start elsewhere anyway
            log.warning("network.allowed_networks unreadable (%s); using the default", exc)
            _current = Policy.from_strings(DEFAULT_ALLOWED)
    return _current


# ------------------------------------------------------------------------------------------- checks
def check_addresses(host: str, addresses: Iterable[str], policy: Policy | None = None) -> None:
    """Pure: raise :class:`Refused` unless every address *host* stands for is allowed."""
    policy = policy or current()
    for a in addresses:
        try:
            addr = ipaddress.ip_address(a.split("%", 1)[0])
        except ValueError:
            raise Refused(f"host {host!r}: {a!r} is not an IP address") from None
        why = policy.why_refused(addr)
        if why is not None:
            raise Refused(f"host {host!r} refused: {why}")


def resolve(host: str, port: int | None = None) -> list[str]:
    """Every address *host* resolves to now (an IP literal: itself). Raises OSError when it does not."""
    literal = host.strip("[]")
    try:
        return [str(ipaddress.ip_address(literal.split("%", 1)[0]))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(literal, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def check_host(
    host: str, port: int | None = None, policy: Policy | None = None, *, unresolvable_ok: bool = True
) -> list[str]:
    """Resolve *host* and check every address; returns them. A name that does not resolve passes when
    *unresolvable_ok* (saving a camera that is offline), else raises :class:`Refused`."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        if unresolvable_ok:
            return []
        raise Refused(f"host {host!r} does not resolve ({exc})") from None
    check_addresses(host, addresses, policy)
    return addresses


def check_url(url: str, policy: Policy | None = None, *, unresolvable_ok: bool = True) -> list[str]:
    """:func:`check_host` for the host of *url* (a URL without a host passes: nothing to connect to)."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return []  # malformed: the URL's own validation says why
    if not host:
        return []
    return check_host(host, port, policy, unresolvable_ok=unresolvable_ok)


def check_webhook(
    url: str, policy: Policy | None = None, *, error: type[ValueError] = Refused, at_delivery: bool = False
) -> None:
    """For an alert channel URL: check the host of webhook-like schemes (json://, form://, xml://, http(s)
    based self-hosted services); other services are left alone. Raises *error* with the reason."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in WEBHOOK_SCHEMES:
        return
    try:
        check_url(url, policy, unresolvable_ok=not at_delivery)
    except Refused as exc:
        raise error(f"{scheme}:// channel {exc}") from None


def check_peer(host: str, peer: str | None, policy: Policy | None = None) -> None:
    """After connecting: the address actually connected to must be allowed too (closes the gap between
    resolving and connecting). ``None`` (unknown peer) passes."""
    if peer:
        check_addresses(host, [peer], policy)
