"""``mc-serve``'s security options, defined once: who may connect, TLS, limits, audit.

Each option is also a TOML setting of the same name (``allow``, ``tls-cert`` ...); its default
lives in :class:`~microcalc.dicomnode.config.ServeConfig`, so options default to ``None`` here
(not given) and a TOML value is never hidden by a command-line default.
"""

from __future__ import annotations

from pathlib import Path

import click

from microcalc.cli_common import option_group

_FILE = click.Path(dir_okay=False, path_type=Path)


def _opt(name: str, help_text: str, **kwargs: object) -> click.decorators.FC:  # type: ignore[name-defined]
    return click.option(name, default=None, help=help_text, **kwargs)  # type: ignore[call-overload]


access_options = option_group(
    click.option(
        "--allow",
        multiple=True,
        metavar="AE@HOST",
        help="A calling AE title and the address (IP, CIDR network or host name) it may connect from; "
        "repeat for more. Everyone else is rejected at association.",
    ),
    click.option(
        "--allow-any",
        is_flag=True,
        default=None,
        help="Accept any calling AE title from any address (refused by default without --allow).",
    ),
)

tls_options = option_group(
    _opt("--tls-cert", "PEM certificate of this node: its SCP speaks DICOM TLS only (TLS 1.2+).", type=_FILE),
    _opt("--tls-key", "PEM private key of --tls-cert.", type=_FILE),
    _opt(
        "--tls-ca",
        "PEM CA certificate(s): require a client certificate signed by them (mutual authentication).",
        type=_FILE,
    ),
    _opt(
        "--dest-tls-ca",
        "PEM CA certificate(s) of the PACS: send SRs over TLS, verifying the PACS's certificate and "
        "host name (the node presents --tls-cert if given).",
        type=_FILE,
    ),
)

limit_options = option_group(
    _opt("--max-associations", "Concurrent associations at most [default: 8].", type=int),
    _opt("--max-pdu", "Largest PDU this node receives, in bytes [default: 65536].", type=int),
    _opt(
        "--max-dataset-mb",
        "Largest dataset accepted; a larger one aborts its association [default: 512].",
        type=float,
    ),
    _opt(
        "--acse-timeout",
        "Seconds to wait for the association request and TLS handshake [default: 10].",
        type=float,
    ),
    _opt("--dimse-timeout", "Seconds to wait for a DIMSE message [default: 30].", type=float),
    _opt(
        "--network-timeout",
        "Seconds an association may stay idle, e.g. mid-dataset [default: 60].",
        type=float,
    ),
    _opt(
        "--spool-max-mb",
        "Spool size cap: above it C-STORE answers 0xA700 Out of Resources [default: none].",
        type=float,
    ),
    _opt(
        "--min-free-mb",
        "Free disk floor of the spool's file system, as for --spool-max-mb [default: 500].",
        type=float,
    ),
)

audit_options = option_group(
    _opt(
        "--audit-log",
        "Append the audit trail (one JSON line per association and per instance) here.",
        type=_FILE,
    ),
    _opt(
        "--audit-syslog", "HOST:PORT of an audit record repository: DICOM audit messages over syslog (UDP)."
    ),
)

security_options = option_group(access_options, tls_options, limit_options, audit_options)
