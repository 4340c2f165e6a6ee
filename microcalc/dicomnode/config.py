"""``mc-serve`` settings: command-line options over a TOML file over the defaults, checked in one place.

The TOML file holds the same names as the options (``ae_title`` or ``ae-title``), e.g.::

    ae_title = "MICROCALC"
    port = 11112
    dest = "PACS@10.0.0.5:104"
    model = "/opt/microcalc/bundle"
    spool = "/var/spool/microcalc"
    out = "/var/lib/microcalc/reports"
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
    host: str = "0.0.0.0"
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

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise MicrocalcError(f"port must lie in 1..65535, got {self.port}")
        if not 0 < len(self.ae_title) <= 16:
            raise MicrocalcError(f"AE title must have 1 to 16 characters, got {self.ae_title!r}")
        if self.max_backoff <= 0:
            raise MicrocalcError(f"max-backoff must be positive, got {self.max_backoff}")


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
    for name in ("spool", "out", "model"):
        if merged.get(name) is not None:
            merged[name] = Path(merged[name])
    try:
        return ServeConfig(**merged)
    except TypeError as exc:
        raise MicrocalcError(f"bad setting: {exc}") from exc
