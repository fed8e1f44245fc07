"""Where a webhook may go: https only (http in DEBUG, or to loopback when private addresses are allowed), never
to private, loopback, link-local or other non-public addresses unless RATHAUS_WEBHOOKS_ALLOW_PRIVATE=1 (SSRF).

Checked when a subscription is saved (`check_url`) and again on every connection (`guarded_connection`): the
name is resolved, every address checked, and the socket connects to a checked address, so a DNS answer that
changes between the check and the connect (DNS rebinding) cannot lead the request into the internal network.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UrlRefused(ValueError):
    """A webhook address that is not allowed; the message says why (German, shown to the user)."""


MAX_URL = 2000


def allow_private() -> bool:
    return bool(getattr(settings, "RATHAUS_WEBHOOKS_ALLOW_PRIVATE", False))


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """The addresses of `host` (an IP literal stays itself); UrlRefused if it has none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise UrlRefused(f"Der Rechnername „{host}“ lässt sich nicht auflösen.") from e
    addrs = list(dict.fromkeys(info[4][0] for info in infos))
    if not addrs:
        raise UrlRefused(f"Der Rechnername „{host}“ lässt sich nicht auflösen.")
    return addrs


def check_addresses(host: str, addrs: list[str], scheme: str) -> None:
    """Refuse non-public addresses (unless allowed) and http to anything but loopback outside DEBUG."""
    ips = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addrs]
    if not allow_private():
        bad = [str(ip) for ip in ips if not _public(ip)]
        if bad:
            raise UrlRefused(f"„{host}“ führt zu einer nicht öffentlichen Adresse ({', '.join(bad)}); "
                             "Webhooks gehen nur an öffentliche Adressen.")
    if scheme == "http" and not settings.DEBUG:
        loopback = all(ip.is_loopback or (getattr(ip, "ipv4_mapped", None) or ip).is_loopback for ip in ips)
        if not (allow_private() and loopback):
            raise UrlRefused("Webhooks gehen nur über https (http nur an die eigene Maschine in Demo und Test).")


def split_url(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of a webhook URL, or UrlRefused saying what is wrong with it."""
    if not isinstance(url, str) or not url:
        raise UrlRefused("Die Adresse fehlt.")
    if len(url) > MAX_URL:
        raise UrlRefused(f"Die Adresse ist zu lang (höchstens {MAX_URL} Zeichen).")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise UrlRefused("Die Adresse enthält Leer- oder Steuerzeichen.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UrlRefused("Die Adresse ist keine gültige URL.") from e
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UrlRefused("Die Adresse muss mit https:// beginnen.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("Die Adresse darf keine Zugangsdaten enthalten.")
    host = parts.hostname
    if not host:
        raise UrlRefused("Die Adresse nennt keinen Rechner.")
    if parts.fragment:
        raise UrlRefused("Die Adresse darf keinen Anker (#…) enthalten.")
    return scheme, host, port or (443 if scheme == "https" else 80)


def check_url(url: str) -> None:
    """The whole check of a subscription's URL (form, scheme, resolved addresses); UrlRefused if refused."""
    scheme, host, port = split_url(url)
    if scheme == "http" and not settings.DEBUG and not allow_private():
        raise UrlRefused("Webhooks gehen nur über https (http nur an die eigene Maschine in Demo und Test).")
    check_addresses(host, resolve(host, port), scheme)


def guarded_connection(scheme: str):
    """A `create_connection` for http.client that resolves, checks and connects to a checked address."""

    def create_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None):
        host, port = address
        addrs = resolve(host, port)
        check_addresses(host, addrs, scheme)
        err = None
        for addr in addrs:
            try:
                return socket.create_connection((addr, port), timeout, source_address)
            except OSError as e:
                err = e
        raise err or OSError(f"keine Verbindung zu {host}")

    return create_connection
