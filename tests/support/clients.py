"""The two real DICOM clients the tests query with: dcmtk's findscu and pynetdicom."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind, Verification


@dataclass
class FindResult:
    answers: list[Dataset]
    final_status: int | None
    output: str = ""
    statuses: list[int] = field(default_factory=list)


def findscu(port: int, keys: list[str], aec: str = "VETMWL", aet: str = "FINDSCU") -> FindResult:
    """Run ``findscu -W`` with ``-k`` keys; answers are read back from the files it extracts."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            "findscu",
            "-W",
            "-v",
            "-X",
            "-od",
            out,
            "-aet",
            aet,
            "-aec",
            aec,
            "-to",
            "10",
            "-td",
            "30",
        ]
        for key in keys:
            command += ["-k", key]
        command += ["127.0.0.1", str(port)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        answers = [pydicom.dcmread(p) for p in sorted(Path(out).glob("rsp*.dcm"))]
    output = done.stdout + done.stderr
    status = None
    for line in output.splitlines():
        # findscu -v prints "Received Final Find Response (Success)" or "(Failed: ...)" with the status.
        if "Final Find Response" in line:
            status = 0 if "(Success)" in line else -1
    return FindResult(answers=answers, final_status=status, output=output)


def pynetdicom_find(port: int, identifier: Dataset, aec: str = "VETMWL", aet: str = "PYNETDICOM") -> FindResult:
    """A C-FIND with pynetdicom; keeps every status, pending and final."""
    ae = AE(ae_title=aet)
    ae.add_requested_context(ModalityWorklistInformationFind)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    assoc = ae.associate("127.0.0.1", port, ae_title=aec)
    if not assoc.is_established:
        raise RuntimeError("association with Orthanc was not established")
    answers, statuses = [], []
    try:
        for status, answer in assoc.send_c_find(identifier, ModalityWorklistInformationFind):
            if status is None or "Status" not in status:
                raise RuntimeError("no C-FIND response: the association was aborted, rejected or timed out")
            statuses.append(int(status.Status))
            if answer is not None and int(status.Status) in (0xFF00, 0xFF01):
                answers.append(answer)
    finally:
        assoc.release()
    return FindResult(answers=answers, final_status=statuses[-1] if statuses else None, statuses=statuses)


def echo(port: int, aec: str = "VETMWL") -> int:
    """A C-ECHO with pynetdicom; returns its status (0 is success)."""
    ae = AE(ae_title="ECHOSCU")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title=aec)
    try:
        return int(assoc.send_c_echo().Status)
    finally:
        assoc.release()


def broad_query(modality: str = "DX") -> Dataset:
    """Every step of one modality in the demo schedule (DX: 30), names and IDs requested."""
    ds = Dataset()
    ds.PatientName = ""
    ds.PatientID = ""
    sps = Dataset()
    sps.Modality = modality
    sps.ScheduledProcedureStepStartDate = ""
    ds.ScheduledProcedureStepSequence = [sps]
    return ds


def is_failure(status: int | None) -> bool:
    """A C-FIND failure status (Cxxx, "unable to process"), which is what Orthanc sends on errors."""
    return status is not None and 0xC000 <= status <= 0xCFFF
