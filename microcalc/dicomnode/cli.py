"""``mc-serve``: a DICOM node that receives mammograms, scans them and sends CAD SRs to a PACS."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from microcalc.atomic import ensure_output_dir
from microcalc.cli_common import CONTEXT_SETTINGS, run_cli
from microcalc.cli_options import bundle_option, out_dir_option
from microcalc.defaults import default_bundle
from microcalc.dicomnode.config import ServeConfig, load_config
from microcalc.dicomnode.options import security_options
from microcalc.dicomnode.sender import Sender, parse_destination
from microcalc.dicomnode.spool import Spool
from microcalc.dicomnode.worker import ScanWorker
from microcalc.engine.scan_options import scan_options, threshold_options, triage_option
from microcalc.errors import import_optional
from microcalc.report_sr.document import highdicom

log = logging.getLogger("mc-serve")


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s mc-serve: %(message)s", "%Y-%m-%dT%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)  # its debug output can dump datasets


def serve(config: ServeConfig, *, stop: threading.Event | None = None) -> int:
    """Run the node until ``stop`` is set (SIGTERM/SIGINT set it); returns the exit status."""
    from microcalc.bundle import Bundle
    from microcalc.dicomnode.scp import open_gate, start_scp
    from microcalc.dicomnode.tls import client_context
    from microcalc.engine.session import open_scan, plan_scan

    import_optional("pynetdicom", extra="dicom", purpose="mc-serve")
    highdicom()
    stop = stop or threading.Event()
    dest = parse_destination(config.dest)
    spool = Spool(config.spool)
    gate = open_gate(config)  # no allow-list, bad certificates: refused before the model loads
    dest_tls = None
    if config.dest_tls_ca is not None:
        dest_tls = client_context(ca=config.dest_tls_ca, cert=config.tls_cert, key=config.tls_key)
    if config.allow_any:
        log.warning("WARNING: --allow-any: any calling AE title from any address may store images here")
    ensure_output_dir(config.out)
    # images from the network are untrusted: the session decodes them in a worker process that a hang or
    # crash cannot outlive; --triage on a bundle without one is refused before the backend loads
    plan = plan_scan(Bundle.load(config.model or default_bundle()), asdict(config), isolation="process")
    sr_ready = threading.Event()
    with open_scan(plan, say=log.info) as session:
        worker = ScanWorker(
            spool=spool,
            scanner=session.scanner,
            run=session.run,
            out_dir=config.out,
            stop=stop,
            sr_ready=sr_ready,
            send_overview=config.send_overview,
        )
        sender = Sender(
            spool=spool,
            dest=dest,
            ae_title=config.ae_title,
            stop=stop,
            wake=sr_ready,
            max_backoff_s=config.max_backoff,
            tls=dest_tls,
        )
        resumed = spool.recover()
        for uid in resumed:
            worker.submit(uid)
        threads = [
            threading.Thread(target=worker.run, name="mc-serve-scan"),
            threading.Thread(target=sender.run, name="mc-serve-send"),
        ]
        for thread in threads:
            thread.start()
        try:
            server = start_scp(
                host=config.host, port=config.port, spool=spool, gate=gate, on_received=worker.submit
            )
        except BaseException:
            stop.set()
            for thread in threads:
                thread.join()
            raise
        log.info(
            "listening as %s on %s:%d (%s); admits %s; SRs go to %s%s; resumed %d spooled image(s), "
            "%d SR(s) to send",
            config.ae_title,
            config.host,
            config.port,
            "DICOM TLS" if gate.tls else "plain TCP",
            gate.policy.describe(),
            dest,
            " over TLS" if dest_tls else "",
            len(resumed),
            len(spool.outbox()),
        )
        stop.wait()
        log.info("stopping: no new associations; finishing the current image and send")
        server.shutdown()
        for thread in threads:
            thread.join()
    gate.audit.close()
    log.info(
        "stopped; %d image(s) and %d SR(s) stay spooled for the next start",
        len(spool.incoming()),
        len(spool.outbox()),
    )
    return 1 if worker.failure is not None else 0


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option("--ae-title", default=None, help="This node's AE title [default: MICROCALC].")
@click.option("--port", type=int, default=None, help="TCP port to listen on for C-STORE and C-ECHO.")
@click.option(
    "--host", default=None, help="Address to listen on [default: 127.0.0.1; 0.0.0.0 for all interfaces]."
)
@click.option("--dest", default=None, help="Where SRs go: AE@HOST:PORT of the PACS.")
@bundle_option()
@click.option(
    "--spool",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Durable spool folder: received images and unsent SRs survive a restart here.",
)
@out_dir_option(
    default=None,
    help="Folder for the JSON reports and PNG overviews, named <SOP Instance UID>.json/.png.",
    dest="out",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML file with any of these settings (the command line wins).",
)
@scan_options
@threshold_options
@triage_option
@click.option(
    "--max-backoff",
    type=float,
    default=None,
    help="Longest wait in seconds between retries while the destination is down [default: 30].",
)
@click.option(
    "--send-overview",
    is_flag=True,
    default=None,
    help="Also send the PNG overview as a DICOM Secondary Capture, for viewers that do not show SR.",
)
@security_options
def cli(config_file: Path | None, **options: Any) -> None:
    """Receive mammograms over DICOM, scan them, and send a Mammography CAD SR per image to a PACS.

    A C-STORE SCP (with C-ECHO) accepts MG images and writes each to the spool durably before it
    answers success; objects that are not mammograms get a refusal status. Spooled images stream
    through one loaded model at the chosen operating point (--operating-point NAME or --threshold
    T; the bundle's default otherwise); each gets a JSON report and overview in --out and a CAD SR
    naming that point, sent to --dest with C-STORE and retried with back-off while the destination
    is down. A restart resumes the spool and never reports an image twice. SIGTERM stops cleanly.
    Logs carry SOP Instance UIDs, never patient names or IDs.

    Secure by default: only the calling AE titles and addresses given with --allow AE@HOST may
    connect (it refuses to start without them unless --allow-any), and it listens on 127.0.0.1
    unless --host says otherwise. --tls-cert/--tls-key (and --tls-ca for client certificates)
    make it DICOM TLS only; --dest-tls-ca sends SRs over TLS. Every association and instance is
    one JSON audit line (--audit-log, --audit-syslog).

    Example: mc-serve --ae-title MICROCALC --port 11112 --allow MODALITY@127.0.0.1 --dest
    ORTHANC@127.0.0.1:4242 --model bundle --spool spool --out reports
    """
    _setup_logging()
    ctx = click.get_current_context()
    given = {
        name: value
        for name, value in options.items()  # a default must not hide the TOML file's value
        if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT
    }
    config = load_config(config_file, given)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sys.exit(serve(config, stop=stop))


main = run_cli(cli, "mc-serve")

if __name__ == "__main__":
    main()
