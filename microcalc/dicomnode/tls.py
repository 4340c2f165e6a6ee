"""DICOM TLS for ``mc-serve`` (PS3.15 Annex B, BCP 195 profile) with Python's :mod:`ssl`.

Both directions use TLS 1.2 or later only, with forward-secret AEAD cipher suites for TLS 1.2
(TLS 1.3 suites are all of that kind):

- the SCP presents its certificate and key; given a CA it *requires* a client certificate signed
  by that CA (mutual authentication) and refuses a peer without one;
- the sender to the PACS verifies the PACS's certificate against a CA, host name included, and
  presents the node's own certificate when it has one (Orthanc requires one by default).

pynetdicom's server wraps each accepted socket in the thread that accepts connections, and a
peer that connects and never sends a ClientHello would block that thread and so every other
peer. :class:`DeferredHandshake` wraps without the handshake; :func:`handshake` then does it in
the association's own thread, with a time limit.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from microcalc.errors import MicrocalcError

# BCP 195 (RFC 9325) recommended TLS 1.2 suites: ephemeral key exchange, AEAD ciphers
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL"


def _secure(context: ssl.SSLContext) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION
    return context


def _why(exc: Exception) -> str:
    return str(getattr(exc, "strerror", None) or exc)


def _load_chain(context: ssl.SSLContext, cert: Path, key: Path) -> None:
    try:
        context.load_cert_chain(certfile=cert, keyfile=key)
    except (OSError, ssl.SSLError) as exc:
        raise MicrocalcError(f"{cert}: cannot load the TLS certificate with key {key} ({_why(exc)})") from exc


def _load_ca(context: ssl.SSLContext, ca: Path) -> None:
    try:
        context.load_verify_locations(cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise MicrocalcError(f"{ca}: cannot load the CA certificate(s) ({_why(exc)})") from exc


def server_context(*, cert: Path, key: Path, client_ca: Path | None) -> ssl.SSLContext:
    """The SCP's context; with ``client_ca``, a client certificate signed by it is required."""
    context = _secure(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    _load_chain(context, cert, key)
    if client_ca is not None:
        _load_ca(context, client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(*, ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """The sender's context: the PACS's certificate verified against ``ca`` (and its host name)."""
    context = _secure(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))  # CERT_REQUIRED, check_hostname
    _load_ca(context, ca)
    if cert is not None and key is not None:
        _load_chain(context, cert, key)
    return context


class DeferredHandshake:
    """Stands in for the SCP's :class:`ssl.SSLContext`: wraps accepted sockets, handshake deferred."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context

    def wrap_socket(self, sock: socket.socket, server_side: bool = True) -> ssl.SSLSocket:
        return self.context.wrap_socket(sock, server_side=server_side, do_handshake_on_connect=False)


def handshake(sock: object, *, timeout_s: float) -> str | None:
    """Complete the server-side handshake within ``timeout_s``; ``None`` when done, else why not.

    On failure the socket is shut down, so the association that follows ends at once.
    """
    if not isinstance(sock, ssl.SSLSocket):
        return "not a TLS connection"
    previous = sock.gettimeout()
    try:
        sock.settimeout(timeout_s)
        sock.do_handshake()
    except (ssl.SSLError, OSError) as exc:
        reason = (
            "TLS handshake timed out" if isinstance(exc, TimeoutError) else f"TLS handshake failed: {exc}"
        )
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone
        return reason
    sock.settimeout(previous)
    return None


def tls_version(sock: object) -> str | None:
    """The negotiated protocol (``TLSv1.3``) of a TLS socket, ``None`` for plain TCP."""
    return sock.version() if isinstance(sock, ssl.SSLSocket) else None
