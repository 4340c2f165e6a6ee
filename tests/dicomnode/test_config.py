"""mc-serve settings (options over TOML over defaults), --dest parsing, UIDs as spool names, the extra."""

from __future__ import annotations

import sys

import pytest

from microcalc.dicomnode.config import load_config
from microcalc.dicomnode.sender import Destination, parse_destination
from microcalc.dicomnode.spool import check_uid
from microcalc.errors import InputError, MicrocalcError

REQUIRED = {"port": 11112, "dest": "PACS@10.0.0.5:104", "spool": "spool", "out": "out", "allow_any": True}


def test_command_line_overrides_the_toml_file(tmp_path):
    toml = tmp_path / "node.toml"
    toml.write_text(
        'ae-title = "CADNODE"\nport = 4000\ndest = "PACS@pacs.local:104"\nspool = "/var/spool/mc"\n'
        'out = "/var/lib/mc"\nthreshold = 0.4\n'
    )
    config = load_config(toml, {"port": 5000, "threshold": None, "ae_title": None})
    assert (config.ae_title, config.port, config.threshold) == ("CADNODE", 5000, 0.4)
    assert str(config.spool) == "/var/spool/mc" and config.backend == "auto"  # default kept


@pytest.mark.parametrize(
    "options, toml, message",
    [
        ({"port": 1, "dest": "A@h:1"}, None, "missing --spool, --out"),  # required settings absent
        ({**REQUIRED, "port": 70000}, None, "port must lie in 1..65535"),
        ({**REQUIRED, "ae_title": "X" * 17}, None, "AE title must have 1 to 16 characters"),
        (REQUIRED, "colour = 1\n", "unknown setting 'colour'"),  # typo in the file
        (REQUIRED, "port = [\n", "not valid TOML"),
        ({**REQUIRED, "tls_cert": "node.crt"}, None, "--tls-cert and --tls-key go together"),
        ({**REQUIRED, "tls_ca": "ca.crt"}, None, "--tls-ca .* needs --tls-cert"),
        ({**REQUIRED, "max_pdu": 100}, None, "max-pdu must lie in 4096"),
        ({**REQUIRED, "network_timeout": 0}, None, "network-timeout must be positive"),
    ],
)
def test_bad_settings_are_one_line(tmp_path, options, toml, message):
    path = None
    if toml is not None:
        path = tmp_path / "node.toml"
        path.write_text(toml)
    with pytest.raises(MicrocalcError, match=message):
        load_config(path, dict(options))


def test_the_toml_file_holds_the_allow_list_and_tls_paths(tmp_path):
    toml = tmp_path / "node.toml"
    toml.write_text(
        'allow = ["MG1@10.0.0.7", "MG2@10.0.1.0/24"]\ntls-cert = "/etc/n.crt"\ntls-key = "/etc/n.key"\n'
        "spool-max-mb = 100\n"
    )
    options = {k: v for k, v in REQUIRED.items() if k != "allow_any"}
    config = load_config(toml, options)
    assert config.allow == ("MG1@10.0.0.7", "MG2@10.0.1.0/24") and not config.allow_any
    assert str(config.tls_cert) == "/etc/n.crt" and config.spool_max_mb == 100
    assert config.host == "127.0.0.1"  # listens on loopback unless told otherwise


def test_destination_is_ae_at_host_colon_port():
    assert parse_destination("ORTHANC@127.0.0.1:4242") == Destination("ORTHANC", "127.0.0.1", 4242)
    for bad in ("ORTHANC@127.0.0.1", "127.0.0.1:4242", "A@h:0", "WAY_TOO_LONG_AE_TITLE@h:104"):
        with pytest.raises(MicrocalcError, match="expected AE@HOST:PORT"):
            parse_destination(bad)


def test_only_real_uids_name_spool_files():
    assert check_uid("1.2.840.10008.1\0") == "1.2.840.10008.1"  # padded as on the wire
    for bad in ("../etc/passwd", "1.2.abc", "", "1." + "2" * 70):
        with pytest.raises(InputError):
            check_uid(bad)


def test_missing_pynetdicom_names_the_extra(tmp_path, monkeypatch):
    from microcalc.dicomnode.cli import serve
    from microcalc.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "pynetdicom", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError, match=r'pip install "microcalc\[dicom\]"'):
        serve(load_config(None, {**REQUIRED, "spool": tmp_path / "s", "out": tmp_path / "o"}))


def test_config_defaults_are_the_scan_options_defaults():
    """mc-serve shows mc-scan's option defaults; the settings it runs with when none is given must agree."""
    from microcalc.dicomnode.cli import cli

    config = load_config(None, dict(REQUIRED))
    shown = {
        p.name: p.default
        for p in cli.params
        if p.name
        in ("backend", "precision", "overlap", "batch_size", "min_breast", "operating_point", "threshold")
    }
    assert shown == {name: getattr(config, name) for name in shown}


def test_an_unknown_operating_point_is_one_line(tmp_path, small_bundle):
    from microcalc.dicomnode.cli import serve

    config = load_config(
        None,
        {
            **REQUIRED,
            "spool": tmp_path / "s",
            "out": tmp_path / "o",
            "model": small_bundle,
            "operating_point": "no-such-point",
        },
    )
    with pytest.raises(MicrocalcError, match="no-such-point"):
        serve(config)
