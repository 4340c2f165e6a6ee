"""The receiving side of ``mc-serve``: a pynetdicom C-STORE and C-ECHO SCP.

Every storage SOP class is accepted at association time (with every transfer syntax pynetdicom
knows), so that an object that is not a mammogram gets a C-STORE *refusal status* it can log,
not a failed association. A mammogram is written to the durable spool as received (no decode,
no re-encode) before the success status goes back: once the modality hears "success", the image
survives a crash. Logs name SOP Instance UIDs only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from microcalc.dicomnode.spool import Spool, check_uid
from microcalc.errors import InputError
from microcalc.imaging import is_mammogram

log = logging.getLogger("mc-serve")

SUCCESS = 0x0000
REFUSED_SOP_CLASS = 0x0122  # Refused: SOP Class not supported (PS3.4 Table B.2-1)
OUT_OF_RESOURCES = 0xA700  # Refused: Out of Resources
CANNOT_UNDERSTAND = 0xC000  # Error: Cannot understand


def handle_store(event: Any, *, spool: Spool, on_received: Callable[[str], None]) -> int:
    """C-STORE: refuse what is not a mammogram, spool the rest durably, then answer success."""
    try:
        ds = event.dataset
        uid = check_uid(ds.SOPInstanceUID)
    except (InputError, AttributeError, ValueError, KeyError) as exc:  # undecodable or no UID
        log.warning("refused an object without a valid SOP Instance UID (%s)", type(exc).__name__)
        return CANNOT_UNDERSTAND
    if not is_mammogram(ds):
        log.warning(
            "refused %s: not a mammogram (Modality %s, SOP Class %s)",
            uid,
            ds.get("Modality", "absent"),
            ds.get("SOPClassUID", "absent"),
        )
        return REFUSED_SOP_CLASS
    try:
        spool.receive(uid, lambda f: f.write(event.encoded_dataset(include_meta=True)))
    except OSError as exc:
        log.error("refused %s: cannot write it to the spool (%s)", uid, exc.strerror or exc)
        return OUT_OF_RESOURCES
    log.info("received %s", uid)
    on_received(uid)
    return SUCCESS


def handle_echo(event: Any) -> int:
    """C-ECHO: always success while the node runs."""
    return SUCCESS


def start_scp(
    *, ae_title: str, host: str, port: int, spool: Spool, on_received: Callable[[str], None]
) -> Any:
    """Start the SCP in background threads; returns pynetdicom's server (``shutdown()`` stops it)."""
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
    from pynetdicom.sop_class import Verification

    ae = AE(ae_title=ae_title)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    handlers = [
        (evt.EVT_C_STORE, lambda event: handle_store(event, spool=spool, on_received=on_received)),
        (evt.EVT_C_ECHO, handle_echo),
    ]
    try:
        return ae.start_server((host, port), block=False, evt_handlers=handlers)
    except OSError as exc:
        raise InputError(
            f"port {port}: cannot listen for DICOM associations ({exc.strerror or exc})"
        ) from exc
