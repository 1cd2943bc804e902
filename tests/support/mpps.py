"""A modality's side of MPPS for the tests: N-CREATE, N-SET and C-ECHO with pynetdicom to
127.0.0.1, and the attribute lists a modality sends for a scheduled step (PS3.4 Table F.7.2-1).

The SCU proposes Implicit VR Little Endian only, the one transfer syntax every SCP accepts: the
receiver then reads each attribute with its dictionary VR, so a test can send a value that is
wrong for it (``raw``) exactly as a faulty device would.
"""

from __future__ import annotations

import contextlib
import ssl
import warnings
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian, generate_uid
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import ModalityPerformedProcedureStep, Verification

HOST = "127.0.0.1"
#: Digital X-Ray Image Storage - For Presentation, for the image references of a finished step.
DX_IMAGE = "1.2.840.10008.5.1.4.1.1.1.1"


def scp(port: int, allowed: Sequence[str] | str = ("DX_ROOM1",), **more: object) -> dict[str, object]:
    """The ``Mpps`` section for a test's Orthanc: the SCP on 127.0.0.1:``port`` only, for the AE
    titles ``allowed`` ("*": any); ``more`` adds or overrides settings."""
    return {
        "Enable": True,
        "Port": port,
        "ListenAddress": HOST,
        "AllowedAETs": allowed if isinstance(allowed, str) else list(allowed),
        **more,
    }


class NoAnswer(RuntimeError):
    """The SCP rejected or aborted the association, or did not answer in time. ``rejection``: the
    A-ASSOCIATE-RJ's (result, source, diagnostic) when it was rejected."""

    def __init__(self, message: str, rejection: tuple[int, int, int] | None = None) -> None:
        super().__init__(message)
        self.rejection = rejection


#: A-ASSOCIATE-RJ (result, source, diagnostic): "calling AE title not recognised", and "busy".
CALLING_AET_NOT_RECOGNISED = (0x01, 0x01, 0x03)
LOCAL_LIMIT_EXCEEDED = (0x02, 0x03, 0x02)


class Session:
    """One association with the MPPS SCP; each method sends one message and returns its answer."""

    def __init__(self, assoc: Association, received: list[Any]) -> None:
        self.assoc = assoc
        self._received = received

    def _status(self, status: Dataset, operation: str) -> int:
        if "Status" not in status:
            raise NoAnswer(f"no answer to the {operation}: the association was aborted or timed out")
        return int(status.Status)

    def n_create(self, attributes: Dataset | None, uid: str | None = None) -> tuple[int, str, str]:
        """(status, the Affected SOP Instance UID of the response, Error Comment). ``None`` sends no
        attribute list; an empty Dataset cannot be sent (pynetdicom announces a data set and sends
        no byte of it, so the SCP waits for it and the SCU gives up after its DIMSE timeout)."""
        status, _ = self.assoc.send_n_create(attributes, ModalityPerformedProcedureStep, uid)
        code = self._status(status, "N-CREATE")
        answered = ""
        if self._received:
            answered = str(self._received[-1].command_set.get("AffectedSOPInstanceUID", "") or "")
        return code, answered, str(status.get("ErrorComment", "") or "")

    def n_set(self, uid: str, modification: Dataset) -> tuple[int, str]:
        """(status, Error Comment)."""
        status, _ = self.assoc.send_n_set(modification, ModalityPerformedProcedureStep, uid)
        return self._status(status, "N-SET"), str(status.get("ErrorComment", "") or "")

    def error_id(self) -> int | None:
        """The Error ID of the last response, if it had one."""
        if not self._received:
            return None
        value = self._received[-1].command_set.get("ErrorID")
        return None if value is None else int(value)

    def echo(self) -> int:
        return self._status(self.assoc.send_c_echo(), "C-ECHO")


@contextlib.contextmanager
def session(
    port: int,
    aet: str = "DX_ROOM1",
    called: str = "VETMWL",
    timeout: float = 10,
    *,
    source: str = "",
    tls: ssl.SSLContext | None = None,
) -> Iterator[Session]:
    """An association from ``aet`` to the SCP on 127.0.0.1:``port``, released (and its threads
    ended) at the end; :class:`NoAnswer` when the SCP does not accept it. ``source``: the local
    address to call from (another loopback address, such as 127.0.0.2, is another host to the SCP);
    ``tls``: DICOM TLS with this client context."""
    ae = AE(ae_title=aet)
    ae.add_requested_context(ModalityPerformedProcedureStep, ImplicitVRLittleEndian)
    ae.add_requested_context(Verification, ImplicitVRLittleEndian)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    received: list[Any] = []
    assoc = ae.associate(
        HOST,
        port,
        ae_title=called,
        bind_address=(source, 0) if source else None,
        tls_args=(tls, HOST) if tls is not None else None,
        evt_handlers=[(evt.EVT_DIMSE_RECV, _keep(received))],
    )
    try:
        if not assoc.is_established:
            why = "rejected" if assoc.is_rejected else "aborted" if assoc.is_aborted else "not established"
            rejection = None
            if assoc.is_rejected:
                answer = assoc.acceptor.primitive
                rejection = (answer.result, answer.result_source, answer.diagnostic)
            raise NoAnswer(f"the association from {aet} to {called} on port {port} was {why}", rejection)
        yield Session(assoc, received)
    finally:
        if assoc.is_established:
            assoc.release()
        ae.shutdown()


def _keep(received: list[Any]) -> Any:
    def handler(event: evt.Event) -> None:
        received.append(event.message)

    return handler


def n_create(
    port: int, attributes: Dataset | None, uid: str | None = None, aet: str = "DX_ROOM1", called: str = "VETMWL"
) -> tuple[int, str, str]:
    """An N-CREATE on an association of its own: (status, response's SOP Instance UID, Error Comment)."""
    with session(port, aet, called) as s:
        return s.n_create(attributes, uid)


def n_set(port: int, uid: str, modification: Dataset, aet: str = "DX_ROOM1", called: str = "VETMWL") -> tuple[int, str]:
    """An N-SET on an association of its own: (status, Error Comment)."""
    with session(port, aet, called) as s:
        return s.n_set(uid, modification)


def echo(port: int, aet: str = "DX_ROOM1", called: str = "VETMWL") -> int:
    """A C-ECHO on an association of its own: its status."""
    with session(port, aet, called) as s:
        return s.echo()


def raw(ds: Dataset, keyword: str, text: str) -> Dataset:
    """Put ``text`` in ``keyword`` whatever its VR (as LO); sent in Implicit VR, the SCP reads it
    with the attribute's own VR, so this sends values a faulty device would (e.g. "abc" as a DS)."""
    with warnings.catch_warnings():  # pydicom warns of the invalid value: that is the point
        warnings.simplefilter("ignore")
        ds.add_new(tag_for_keyword(keyword), "LO", text)
    return ds


def in_progress(
    sps_id: str,
    accession: str,
    study_uid: str,
    station: str = "DX_ROOM1",
    modality: str = "DX",
    *,
    pps_id: str = "PPS1",
    requested_procedure_id: str = "RP1",
    patient_id: str = "000004",
    patient_name: str = "García^Luna",
    start: datetime | None = None,
) -> Dataset:
    """A valid N-CREATE attribute list for one scheduled step, with every Type 1 and Type 2
    attribute of Table F.7.2-1. ``sps_id`` and ``accession`` empty: an unscheduled exam (F.7.2.1.2
    Note 3), which names only a Study Instance UID the modality made."""
    start = start or datetime.now()
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    step = Dataset()
    step.StudyInstanceUID = study_uid
    step.ReferencedStudySequence = []
    step.AccessionNumber = accession
    step.RequestedProcedureID = requested_procedure_id if sps_id or accession else ""
    step.RequestedProcedureDescription = ""
    step.ScheduledProcedureStepID = sps_id
    step.ScheduledProcedureStepDescription = ""
    step.ScheduledProtocolCodeSequence = []
    ds.ScheduledStepAttributesSequence = [step]
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.ReferencedPatientSequence = []
    ds.PerformedProcedureStepID = pps_id
    ds.PerformedStationAETitle = station
    ds.PerformedStationName = ""
    ds.PerformedLocation = ""
    ds.PerformedProcedureStepStartDate = start.strftime("%Y%m%d")
    ds.PerformedProcedureStepStartTime = start.strftime("%H%M%S")
    ds.PerformedProcedureStepStatus = "IN PROGRESS"
    ds.PerformedProcedureStepDescription = ""
    ds.PerformedProcedureTypeDescription = ""
    ds.ProcedureCodeSequence = []
    ds.PerformedProcedureStepEndDate = ""
    ds.PerformedProcedureStepEndTime = ""
    ds.Modality = modality
    ds.StudyID = ""
    ds.PerformedProtocolCodeSequence = []
    ds.PerformedSeriesSequence = []
    return ds


def completed(
    series: int | Sequence[str] = 1,
    status: str = "COMPLETED",
    *,
    end: datetime | None = None,
    images: int = 2,
    protocol: str = "Thorax LL",
) -> Dataset:
    """An N-SET modification list that finishes a step (``status`` COMPLETED or DISCONTINUED) with
    the Final State attributes: end date and time and the Performed Series Sequence, one item per
    series (a count, or their Series Instance UIDs) with ``images`` image references each."""
    end = end or datetime.now()
    uids = [str(generate_uid()) for _ in range(series)] if isinstance(series, int) else list(series)
    ds = Dataset()
    ds.PerformedProcedureStepStatus = status
    ds.PerformedProcedureStepEndDate = end.strftime("%Y%m%d")
    ds.PerformedProcedureStepEndTime = end.strftime("%H%M%S")
    items = []
    for uid in uids:
        item = Dataset()
        item.PerformingPhysicianName = ""
        item.ProtocolName = protocol
        item.OperatorsName = ""
        item.SeriesInstanceUID = uid
        item.SeriesDescription = ""
        item.RetrieveAETitle = ""
        references = []
        for _ in range(images):
            reference = Dataset()
            reference.ReferencedSOPClassUID = DX_IMAGE
            reference.ReferencedSOPInstanceUID = generate_uid()
            references.append(reference)
        item.ReferencedImageSequence = references
        item.ReferencedNonImageCompositeSOPInstanceSequence = []
        items.append(item)
    ds.PerformedSeriesSequence = items
    return ds
