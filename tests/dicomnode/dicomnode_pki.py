"""Test certificates made at test time with the ``openssl`` command (never committed).

Two CAs: ``ca`` signs the node's, the PACS's and a modality's certificate; ``other_ca`` signs a
modality certificate the node must refuse. RSA 2048, valid two days, with the SAN ``127.0.0.1``
and ``localhost`` so that host names verify.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from dicomnode_helpers import need

_LEAF_EXT = (
    "basicConstraints=critical,CA:FALSE\n"
    "keyUsage=critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage=serverAuth,clientAuth\n"
    "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
)


@dataclass(frozen=True)
class Pair:
    """A certificate and its key (PEM files)."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: Path
    other_ca: Path
    node: Pair
    pacs: Pair
    modality: Pair
    stranger: Pair  # signed by other_ca


def _run(*args: str) -> None:
    subprocess.run([need("openssl", "openssl"), *args], check=True, capture_output=True)


def _ca(root: Path, name: str) -> Pair:
    pair = Pair(root / f"{name}.crt", root / f"{name}.key")
    _run(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=microcalc test {name}",
        "-keyout", str(pair.key), "-out", str(pair.cert),
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return pair


def _leaf(root: Path, name: str, ca: Pair) -> Pair:
    pair = Pair(root / f"{name}.crt", root / f"{name}.key")
    csr, ext = root / f"{name}.csr", root / f"{name}.ext"
    ext.write_text(_LEAF_EXT)
    _run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        f"/CN={name}",
        "-keyout",
        str(pair.key),
        "-out",
        str(csr),
    )
    _run(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
        "-days", "2", "-extfile", str(ext), "-out", str(pair.cert),
    )  # fmt: skip
    return pair


def make_pki(root: Path) -> Pki:
    root.mkdir(parents=True, exist_ok=True)
    ca, other = _ca(root, "ca"), _ca(root, "other-ca")
    return Pki(
        ca=ca.cert,
        other_ca=other.cert,
        node=_leaf(root, "node", ca),
        pacs=_leaf(root, "pacs", ca),
        modality=_leaf(root, "modality", ca),
        stranger=_leaf(root, "stranger", other),
    )
