"""The receiving side of ``mc-serve``: a pynetdicom C-STORE and C-ECHO SCP behind its gatekeeping.

Every storage SOP class is accepted at association time (with every transfer syntax pynetdicom
knows), so that an object that is not a mammogram gets a C-STORE *refusal status* it can log,
not a failed association. A mammogram is written to the durable spool as received (no decode,
no re-encode) before the success status goes back: once the modality hears "success", the image
survives a crash. Logs name SOP Instance UIDs only.

Before that, :class:`Gate` decides who gets in: the TLS handshake (when the node speaks TLS)
in the association's own thread with a time limit, then the allow-list on the A-ASSOCIATE-RQ
(:mod:`~microcalc.dicomnode.access`), then pynetdicom's limit on concurrent associations; each
outcome is one audit line. The spool quota and the dataset size limit come from
:mod:`~microcalc.dicomnode.limits`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from microcalc.dicomnode.access import REJECTED_PERMANENT, SOURCE_SERVICE_USER, AccessPolicy
from microcalc.dicomnode.audit import Audit
from microcalc.dicomnode.config import ServeConfig
from microcalc.dicomnode.limits import DatasetLimit, NodeLimits, SpoolQuota
from microcalc.dicomnode.spool import Spool, check_uid
from microcalc.dicomnode.tls import DeferredHandshake, handshake, tls_version
from microcalc.errors import InputError
from microcalc.imaging import is_mammogram

log = logging.getLogger("mc-serve")

SUCCESS = 0x0000
REFUSED_SOP_CLASS = 0x0122  # Refused: SOP Class not supported (PS3.4 Table B.2-1)
OUT_OF_RESOURCES = 0xA700  # Refused: Out of Resources
CANNOT_UNDERSTAND = 0xC000  # Error: Cannot understand


def _peer(assoc: Any) -> str:
    return f"{assoc.requestor.address}:{assoc.requestor.port}"


@dataclass(frozen=True)
class Gate:
    """Who may connect and what they may leave: the policy, the audit, the quota, the TLS context."""

    policy: AccessPolicy
    audit: Audit
    quota: SpoolQuota
    limits: NodeLimits
    tls: Any = None  # ssl.SSLContext of the SCP, None: plain TCP

    def on_conn_open(self, event: Any) -> None:
        """TLS: finish the handshake here, in the association's thread, within the ACSE timeout."""
        if self.tls is None:
            return
        reason = handshake(event.assoc.dul.socket.socket, timeout_s=self.limits.acse_timeout_s)
        if reason is not None:
            address = event.address
            log.warning("refused a connection from %s:%s: %s", address[0], address[1], reason)
            self.audit.association(
                calling="", called="", peer=f"{address[0]}:{address[1]}", tls=None, reason=reason
            )

    def on_requested(self, event: Any) -> None:
        """A-ASSOCIATE-RQ: the called and calling AE titles and the peer's address, before negotiation."""
        assoc = event.assoc
        request = assoc.requestor.primitive
        calling, called = str(request.calling_ae_title), str(request.called_ae_title)
        refusal = self.policy.check(calling=calling, called=called, peer=assoc.requestor.address)
        if refusal is None:
            return
        assoc.acse.send_reject(REJECTED_PERMANENT, SOURCE_SERVICE_USER, refusal.diagnostic)
        log.warning("rejected an association from %s: %s", _peer(assoc), refusal.reason)
        self.audit.association(
            calling=calling, called=called, peer=_peer(assoc), tls=self._tls(assoc), reason=refusal.reason
        )
        assoc.kill()  # as pynetdicom's own rejections: the A-ASSOCIATE-RJ leaves before the socket closes

    def on_accepted(self, event: Any) -> None:
        assoc = event.assoc
        self.audit.association(
            calling=assoc.requestor.ae_title,
            called=assoc.acceptor.ae_title,
            peer=_peer(assoc),
            tls=self._tls(assoc),
        )

    def on_rejected(self, event: Any) -> None:
        """pynetdicom's own rejections (too many associations): audited with the reason it sent."""
        assoc, response = event.assoc, event.assoc.acceptor.primitive
        reason = (
            f"rejected by the association limit ({self.limits.max_associations})"
            if (response.result_source, response.diagnostic) == (0x03, 0x02)
            else f"rejected (result 0x{response.result:02X}, source 0x{response.result_source:02X}, "
            f"diagnostic 0x{response.diagnostic:02X})"
        )
        log.warning("rejected an association from %s: %s", _peer(assoc), reason)
        self.audit.association(
            calling=str(assoc.requestor.primitive.calling_ae_title),
            called=str(assoc.requestor.primitive.called_ae_title),
            peer=_peer(assoc),
            tls=self._tls(assoc),
            reason=reason,
        )

    @staticmethod
    def _tls(assoc: Any) -> str | None:
        return tls_version(assoc.dul.socket.socket if assoc.dul.socket else None)


def handle_store(event: Any, *, spool: Spool, gate: Gate, on_received: Callable[[str], None]) -> int:
    """C-STORE: refuse what is not a mammogram or has no room, spool the rest durably, then answer success."""
    calling, peer = event.assoc.requestor.ae_title, _peer(event.assoc)

    def audit(status: int, outcome: str, **uids: str) -> int:
        gate.audit.instance(calling=calling, peer=peer, status=status, outcome=outcome, **uids)
        return status

    try:
        ds = event.dataset
        uid = check_uid(ds.SOPInstanceUID)
    except (InputError, AttributeError, ValueError, KeyError) as exc:  # undecodable or no UID
        log.warning("refused an object without a valid SOP Instance UID (%s)", type(exc).__name__)
        return audit(CANNOT_UNDERSTAND, "refused", sop_instance_uid="")
    uids = {
        "sop_instance_uid": uid,
        "sop_class_uid": str(ds.get("SOPClassUID", "")),
        "study_uid": str(ds.get("StudyInstanceUID", "")),
    }
    if not is_mammogram(ds):
        log.warning(
            "refused %s: not a mammogram (Modality %s, SOP Class %s)",
            uid,
            ds.get("Modality", "absent"),
            ds.get("SOPClassUID", "absent"),
        )
        return audit(REFUSED_SOP_CLASS, "refused", **uids)
    encoded = event.encoded_dataset(include_meta=True)
    no_room = gate.quota.reserve(len(encoded))
    if no_room is not None:
        log.warning("refused %s: %s; the sender retries later", uid, no_room)
        return audit(OUT_OF_RESOURCES, "out_of_resources", **uids)
    try:
        spool.receive(uid, lambda f: f.write(encoded))
    except OSError as exc:
        log.error("refused %s: cannot write it to the spool (%s)", uid, exc.strerror or exc)
        return audit(OUT_OF_RESOURCES, "out_of_resources", **uids)
    finally:
        gate.quota.release(len(encoded))
    log.info("received %s", uid)
    audit(SUCCESS, "stored", **uids)
    on_received(uid)
    return SUCCESS


def handle_echo(event: Any) -> int:
    """C-ECHO: always success while the node runs."""
    return SUCCESS


def start_scp(*, host: str, port: int, spool: Spool, gate: Gate, on_received: Callable[[str], None]) -> Any:
    """Start the SCP in background threads; returns pynetdicom's server (``shutdown()`` stops it)."""
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
    from pynetdicom.sop_class import Verification

    limits = gate.limits
    ae = AE(ae_title=gate.policy.ae_title)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    ae.maximum_associations = limits.max_associations
    ae.maximum_pdu_size = limits.max_pdu
    ae.acse_timeout, ae.dimse_timeout = limits.acse_timeout_s, limits.dimse_timeout_s
    ae.network_timeout = limits.network_timeout_s
    ae.require_called_aet = False  # checked by the gate, which audits it
    handlers = [
        (evt.EVT_CONN_OPEN, gate.on_conn_open),
        (evt.EVT_REQUESTED, gate.on_requested),
        (evt.EVT_ACCEPTED, gate.on_accepted),
        (evt.EVT_REJECTED, gate.on_rejected),
        (evt.EVT_PDU_RECV, DatasetLimit(limits.max_dataset_bytes).on_pdu),
        (evt.EVT_C_STORE, lambda event: handle_store(event, spool=spool, gate=gate, on_received=on_received)),
        (evt.EVT_C_ECHO, handle_echo),
    ]
    tls = DeferredHandshake(gate.tls) if gate.tls is not None else None
    try:
        return ae.start_server((host, port), block=False, evt_handlers=handlers, ssl_context=tls)  # type: ignore[arg-type]
    except OSError as exc:
        raise InputError(
            f"{host}:{port}: cannot listen for DICOM associations ({exc.strerror or exc})"
        ) from exc


def open_gate(config: ServeConfig) -> Gate:
    """The gate of ``config``: refuses here, before anything loads, a node open to all by accident."""
    from microcalc.dicomnode.tls import server_context

    policy = AccessPolicy.from_settings(
        ae_title=config.ae_title, allow=config.allow, allow_any=config.allow_any
    )
    tls = None
    if config.tls_cert is not None and config.tls_key is not None:
        tls = server_context(cert=config.tls_cert, key=config.tls_key, client_ca=config.tls_ca)
    limits = NodeLimits(
        max_associations=config.max_associations,
        max_pdu=config.max_pdu,
        max_dataset_bytes=int(config.max_dataset_mb * 2**20),
        acse_timeout_s=config.acse_timeout,
        dimse_timeout_s=config.dimse_timeout,
        network_timeout_s=config.network_timeout,
    )
    quota = SpoolQuota(
        config.spool,
        max_bytes=None if config.spool_max_mb is None else int(config.spool_max_mb * 2**20),
        min_free=int(config.min_free_mb * 2**20),
    )
    audit = Audit(source=config.ae_title, path=config.audit_log, syslog=config.audit_syslog)
    return Gate(policy=policy, audit=audit, quota=quota, limits=limits, tls=tls)
