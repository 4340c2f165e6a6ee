"""The audit trail of ``mc-serve``: who connected, what was stored or refused; never who the patient is.

One JSON object per line, for each association request (calling and called AE title, peer
address, TLS protocol or ``null``, ``accepted`` or ``rejected`` with the reason) and for each
instance offered (SOP Instance UID, the status answered, ``stored`` / ``refused`` /
``out_of_resources``). Lines go to the console log and, with ``--audit-log``, are appended to a
file. No line carries a patient name, ID or birth date: only UIDs, AE titles and addresses.

With ``--audit-syslog HOST:PORT`` the same events also go, as DICOM audit messages (PS3.15 A.5,
the RFC 3881 schema as DICOM profiles it) in RFC 5424 syslog frames over UDP (RFC 5426), to an
audit record repository: a refused association or failed TLS handshake as *Security Alert*
(110113, event type *Node Authentication* 110126) and each stored instance as *DICOM Instances
Transferred* (110104). The patient participant object is left out on purpose (see above).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from microcalc.errors import MicrocalcError

log = logging.getLogger("mc-serve.audit")
_AUTHPRIV_NOTICE, _AUTHPRIV_WARNING = 10 * 8 + 5, 10 * 8 + 4


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _code(tag: str, code: str, meaning: str) -> str:
    return f'<{tag} csd-code="{code}" codeSystemName="DCM" originalText={quoteattr(meaning)}/>'


def _participant(user: str, address: str, *, requestor: bool, role: tuple[str, str]) -> str:
    return (
        f'<ActiveParticipant UserID={quoteattr(user)} UserIsRequestor="{str(requestor).lower()}" '
        f'NetworkAccessPointID={quoteattr(address)} NetworkAccessPointTypeCode="2">'
        f"{_code('RoleIDCode', *role)}</ActiveParticipant>"
    )


def audit_message(record: dict[str, Any], *, source: str) -> str:
    """The PS3.15 A.5 audit message (XML) of one audit record, or ``""`` when it has none."""
    peer = record["peer"].rsplit(":", 1)[0]
    calling = _participant(record["calling_ae"], peer, requestor=True, role=("110153", "Source Role ID"))
    called = _participant(source, "", requestor=False, role=("110152", "Destination Role ID"))
    if record["event"] == "association" and record["outcome"] == "rejected":
        event = (
            f'<EventIdentification EventActionCode="E" EventDateTime="{record["time"]}" '
            f'EventOutcomeIndicator="4">{_code("EventID", "110113", "Security Alert")}'
            f"{_code('EventTypeCode', '110126', 'Node Authentication')}</EventIdentification>"
        )
        objects = (
            f"<ParticipantObjectIdentification ParticipantObjectID={quoteattr(record['peer'])} "
            f'ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="13">'
            f"{_code('ParticipantObjectIDTypeCode', '110182', 'Node ID')}"
            f'<ParticipantObjectDetail type="Alert Description" value={quoteattr(record["reason"])}/>'
            f"</ParticipantObjectIdentification>"
        )
    elif record["event"] == "instance" and record["outcome"] == "stored":
        event = (
            f'<EventIdentification EventActionCode="C" EventDateTime="{record["time"]}" '
            f'EventOutcomeIndicator="0">{_code("EventID", "110104", "DICOM Instances Transferred")}'
            f"</EventIdentification>"
        )
        objects = (
            f"<ParticipantObjectIdentification ParticipantObjectID={quoteattr(record['study_uid'])} "
            f'ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="3">'
            f"{_code('ParticipantObjectIDTypeCode', '110180', 'Study Instance UID')}"
            f"<ParticipantObjectDescription><SOPClass UID={quoteattr(record['sop_class_uid'])} "
            f'NumberOfInstances="1"><Instance UID={quoteattr(record["sop_instance_uid"])}/></SOPClass>'
            f"</ParticipantObjectDescription></ParticipantObjectIdentification>"
        )
    else:
        return ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><AuditMessage>{event}{calling}{called}'
        f"<AuditSourceIdentification AuditSourceID={quoteattr(source)}/>{objects}</AuditMessage>"
    )


class Audit:
    """Writes audit records: console always, ``path`` (JSON lines) and ``syslog`` (UDP) if given."""

    def __init__(self, *, source: str, path: Path | None = None, syslog: str | None = None) -> None:
        self.source, self.path = source, path
        self._lock = threading.Lock()
        self._file = None
        self._syslog: tuple[socket.socket, tuple[str, int]] | None = None
        if path is not None:
            try:
                self._file = path.open("a", encoding="utf-8")
            except OSError as exc:
                raise MicrocalcError(f"{path}: cannot open the audit log ({exc.strerror or exc})") from exc
        if syslog is not None:
            host, _, port = syslog.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise MicrocalcError(f"--audit-syslog {syslog!r}: expected HOST:PORT, e.g. 10.0.0.9:514")
            family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
            self._syslog = (socket.socket(family, socket.SOCK_DGRAM), (host.strip("[]"), int(port)))

    def association(
        self, *, calling: str, called: str, peer: str, tls: str | None, reason: str | None = None
    ) -> None:
        """An association request: accepted (``reason`` None) or rejected, and why."""
        self._write(
            {
                "event": "association",
                "calling_ae": calling.strip(),
                "called_ae": called.strip(),
                "peer": peer,
                "tls": tls,
                "outcome": "accepted" if reason is None else "rejected",
                **({"reason": reason} if reason is not None else {}),
            }
        )

    def instance(self, *, calling: str, peer: str, status: int, outcome: str, **uids: str) -> None:
        """An instance offered by C-STORE: ``uids`` are sop_instance_uid (and study_uid, sop_class_uid)."""
        self._write(
            {
                "event": "instance",
                "calling_ae": calling.strip(),
                "peer": peer,
                "status": f"0x{status:04X}",
                "outcome": outcome,
                **uids,
            }
        )

    def _write(self, record: dict[str, Any]) -> None:
        record = {"time": _now(), **record}
        line = json.dumps(record, sort_keys=False)
        log.info("%s", line)
        with self._lock:
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()
            if self._syslog is not None:
                self._send_syslog(record)

    def _send_syslog(self, record: dict[str, Any]) -> None:
        message = audit_message(record, source=self.source)
        if not message:
            return
        pri = _AUTHPRIV_WARNING if record["outcome"] == "rejected" else _AUTHPRIV_NOTICE
        frame = f"<{pri}>1 {record['time']} {socket.gethostname()} mc-serve {os.getpid()} DICOM+RFC3881 - "
        sock, address = self._syslog  # type: ignore[misc]
        try:
            sock.sendto(frame.encode() + b"\xef\xbb\xbf" + message.encode(), address)
        except OSError as exc:  # the repository is down: the local audit lines still hold the record
            log.warning("audit syslog %s:%d: %s", *address, exc.strerror or exc)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            if self._syslog is not None:
                self._syslog[0].close()
                self._syslog = None
