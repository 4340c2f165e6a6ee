"""``mc-serve`` settings: command-line options over a TOML file over the defaults, checked in one place.

The TOML file holds the same names as the options (``ae_title`` or ``ae-title``), e.g.::

    ae_title = "MICROCALC"
    port = 11112
    dest = "PACS@10.0.0.5:104"
    model = "/opt/microcalc/bundle"
    spool = "/var/spool/microcalc"
    out = "/var/lib/microcalc/reports"
    allow = ["MODALITY1@10.0.0.7", "MODALITY2@10.0.1.0/24"]
    tls_cert = "/etc/microcalc/node.crt"
    tls_key = "/etc/microcalc/node.key"
    tls_ca = "/etc/microcalc/modalities-ca.crt"
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from microcalc.engine.scan_options import DEFAULTS as SCAN_DEFAULTS
from microcalc.engine.settings import ScanSettings
from microcalc.errors import InputError, MicrocalcError


@dataclass(frozen=True)
class ServeConfig:
    """Everything ``mc-serve`` needs to run; see ``mc-serve --help`` for each field."""

    port: int
    dest: str
    spool: Path
    out: Path
    model: Path | None = None
    ae_title: str = "MICROCALC"
    host: str = "127.0.0.1"  # a deployment names the interface it serves (README: Security)
    backend: str = SCAN_DEFAULTS["backend"]
    precision: str = SCAN_DEFAULTS["precision"]
    operating_point: str | None = None
    threshold: float | None = None
    overlap: float = SCAN_DEFAULTS["overlap"]
    min_breast: float = SCAN_DEFAULTS["min_breast"]
    batch_size: int = SCAN_DEFAULTS["batch_size"]
    decode_timeout: float = ScanSettings.decode_timeout_s
    max_backoff: float = 30.0
    send_overview: bool = False
    triage: bool | None = None  # None: on when the bundle has a triage model, as in mc-scan
    # who may connect (access.py), TLS (tls.py), limits (limits.py), audit (audit.py)
    allow: tuple[str, ...] = ()
    allow_any: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    dest_tls_ca: Path | None = None
    max_associations: int = 8
    max_pdu: int = 65536
    max_dataset_mb: float = 512.0
    acse_timeout: float = 10.0
    dimse_timeout: float = 30.0
    network_timeout: float = 60.0
    spool_max_mb: float | None = None
    min_free_mb: float = 500.0
    audit_log: Path | None = None
    audit_syslog: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise MicrocalcError(f"port must lie in 1..65535, got {self.port}")
        if not 0 < len(self.ae_title) <= 16:
            raise MicrocalcError(f"AE title must have 1 to 16 characters, got {self.ae_title!r}")
        for name in ("max_backoff", "max_dataset_mb", "acse_timeout", "dimse_timeout", "network_timeout"):
            if getattr(self, name) <= 0:
                raise MicrocalcError(f"{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if self.max_associations < 1:
            raise MicrocalcError(f"max-associations must be at least 1, got {self.max_associations}")
        if not 4096 <= self.max_pdu < 2**32:
            raise MicrocalcError(f"max-pdu must lie in 4096..4294967295 bytes, got {self.max_pdu}")
        if (self.spool_max_mb is not None and self.spool_max_mb <= 0) or self.min_free_mb < 0:
            raise MicrocalcError("spool-max-mb must be positive and min-free-mb not negative")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise MicrocalcError("--tls-cert and --tls-key go together")
        if self.tls_ca is not None and self.tls_cert is None:
            raise MicrocalcError("--tls-ca (required client certificates) needs --tls-cert and --tls-key")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the config file ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from exc


def load_config(config_file: Path | None, options: dict[str, Any]) -> ServeConfig:
    """Merge the TOML file (if any) and the options given on the command line (``None`` = not given)."""
    known = {f.name: f for f in fields(ServeConfig)}
    merged: dict[str, Any] = {}
    if config_file is not None:
        for key, value in _read_toml(config_file).items():
            name = key.replace("-", "_")
            if name not in known:
                raise InputError(
                    f"{config_file}: unknown setting {key!r}; expected one of {', '.join(sorted(known))}"
                )
            merged[name] = value
    merged.update({k: v for k, v in options.items() if v is not None})
    missing = [name for name in ("port", "dest", "spool", "out") if name not in merged]
    if missing:
        raise MicrocalcError(
            f"missing {', '.join('--' + m for m in missing)} (on the command line or in --config)"
        )
    for name in ("spool", "out", "model", "tls_cert", "tls_key", "tls_ca", "dest_tls_ca", "audit_log"):
        if merged.get(name) is not None:
            merged[name] = Path(merged[name])
    if isinstance(merged.get("allow"), (list, tuple, str)):
        merged["allow"] = (merged["allow"],) if isinstance(merged["allow"], str) else tuple(merged["allow"])
    try:
        return ServeConfig(**merged)
    except TypeError as exc:
        raise MicrocalcError(f"bad setting: {exc}") from exc
