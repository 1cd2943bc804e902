"""Requested sequences a step does not hold, through the real Orthanc of the matrix.

An invented item of empty values is no valid code item, so a sequence the row lacks is never answered
with one. Inside the step item, where the query's item names keys, zero items would make Orthanc's
own re-check of the step item fail and the step be emptied; so the plugin leaves the sequence out
there. On every Orthanc: each step comes back whole, with its protocol code when it has one, and
without an invented item when it has none. At the root a sequence the row lacks has zero items.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from support.clients import pynetdicom_find
from support.servers import OrthancServer


def _query() -> Dataset:
    ds = Dataset()
    ds.PatientID = ""
    code = Dataset()
    code.CodeValue = ""
    code.CodeMeaning = ""
    ds.ReferencedStudySequence = [Dataset()]
    ds.ReferencedStudySequence[0].ReferencedSOPInstanceUID = ""
    step = Dataset()
    step.Modality = ""
    step.ScheduledProcedureStepID = ""
    step.ScheduledProtocolCodeSequence = [code]
    ds.ScheduledProcedureStepSequence = [step]
    return ds


def test_sequences_the_row_lacks_are_never_invented(demo_orthanc: OrthancServer) -> None:
    found = pynetdicom_find(demo_orthanc.dicom_port, _query())
    assert found.final_status == 0x0000
    steps = [answer.ScheduledProcedureStepSequence for answer in found.answers]
    assert steps and all(len(s) == 1 and s[0].ScheduledProcedureStepID for s in steps)  # no step emptied
    with_code = [s[0] for s in steps if "ScheduledProtocolCodeSequence" in s[0]]
    without = [s[0] for s in steps if "ScheduledProtocolCodeSequence" not in s[0]]
    assert with_code and without  # the demo has both kinds of step
    for step in with_code:
        assert all(item.CodeValue and item.CodeMeaning for item in step.ScheduledProtocolCodeSequence)
    for answer in found.answers:
        assert all(item.get("ReferencedSOPInstanceUID") for item in answer.ReferencedStudySequence)
