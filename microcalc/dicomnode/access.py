"""Who may open an association with ``mc-serve``: calling AE titles, the addresses each may use, our title.

An allow-list entry is ``AE@HOST``: the calling AE title and where it may connect from. ``HOST``
is an IP address, a network in CIDR notation (``10.0.0.0/24``) or a host name, resolved once at
start (a name that does not resolve is refused then, not silently ignored). The same title may be
listed with several hosts.

An association request is checked before any negotiation (pynetdicom's ``EVT_REQUESTED``) and
refused with A-ASSOCIATE-RJ, rejected-permanent, source service-user (PS3.8 9.3.4), naming the
reason the standard has for it:

- the called AE title is not ours: 0x07 *called AE title not recognised*;
- the calling AE title is not listed, or is listed for other addresses only: 0x03 *calling AE
  title not recognised* (the peer learns nothing about which of the two it was; the audit line
  says).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from microcalc.errors import MicrocalcError

REJECTED_PERMANENT = 0x01
SOURCE_SERVICE_USER = 0x01
CALLING_AE_NOT_RECOGNISED = 0x03
CALLED_AE_NOT_RECOGNISED = 0x07
_ENTRY = re.compile(r"^(?P<ae>[^@\\]{1,16})@(?P<host>[^@\s]+)$")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Refusal:
    """Why an association is refused: the A-ASSOCIATE-RJ diagnostic and the audit's words."""

    diagnostic: int
    reason: str


@dataclass(frozen=True)
class AllowEntry:
    """One ``AE@HOST`` entry: a calling AE title and the networks it may connect from."""

    ae_title: str
    host: str
    networks: tuple[Network, ...]

    def admits(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)


def parse_allow(text: str) -> AllowEntry:
    """``AE@HOST`` -> :class:`AllowEntry`; a host name is resolved now, once."""
    match = _ENTRY.match(text.strip())
    if match is None or not match["ae"].strip():
        raise MicrocalcError(f"--allow {text!r}: expected AE@HOST, e.g. MODALITY@10.0.0.7")
    host = match["host"]
    try:
        networks: tuple[Network, ...] = (ipaddress.ip_network(host, strict=False),)
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise MicrocalcError(f"--allow {text!r}: cannot resolve host {host!r} ({exc.strerror})") from exc
        networks = tuple(dict.fromkeys(ipaddress.ip_network(info[4][0]) for info in infos))
    return AllowEntry(ae_title=match["ae"].strip(), host=host, networks=networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class AccessPolicy:
    """Our AE title and the allow-list; ``allow_any`` admits every calling AE from everywhere."""

    ae_title: str
    allowed: tuple[AllowEntry, ...] = ()
    allow_any: bool = False

    @classmethod
    def from_settings(cls, *, ae_title: str, allow: tuple[str, ...], allow_any: bool) -> AccessPolicy:
        """Secure by default: no allow-list and no explicit ``allow_any`` is refused here."""
        if not allow and not allow_any:
            raise MicrocalcError(
                "no --allow AE@HOST given: mc-serve admits no one by default; list the modalities "
                "(--allow, or 'allow' in --config) or pass --allow-any to accept every caller"
            )
        if allow and allow_any:
            raise MicrocalcError("--allow and --allow-any exclude each other: choose one")
        return cls(ae_title=ae_title, allowed=tuple(parse_allow(e) for e in allow), allow_any=allow_any)

    def check(self, *, calling: str, called: str, peer: str) -> Refusal | None:
        """``None`` when the request may go on to negotiation, else why it is refused."""
        if called.strip() != self.ae_title.strip():
            return Refusal(CALLED_AE_NOT_RECOGNISED, f"called AE title {called.strip()!r} is not ours")
        if self.allow_any:
            return None
        entries = [e for e in self.allowed if e.ae_title == calling.strip()]
        if not entries:
            return Refusal(CALLING_AE_NOT_RECOGNISED, f"calling AE title {calling.strip()!r} is not allowed")
        address = _address(peer)
        if address is None or not any(e.admits(address) for e in entries):
            return Refusal(
                CALLING_AE_NOT_RECOGNISED,
                f"calling AE title {calling.strip()!r} is not allowed from {peer}",
            )
        return None

    def describe(self) -> str:
        if self.allow_any:
            return "ANY calling AE title from ANY address (--allow-any)"
        return ", ".join(f"{e.ae_title}@{e.host}" for e in self.allowed)
