"""Identifiers for people: the worklist page's query, what a modality asked, answers as JSON."""

from __future__ import annotations

from io import BytesIO

import pydicom
import pytest

from support.identifier_files import identifier
from vetmwl.web.identifiers import (
    HIDDEN,
    ROOT_KEYS,
    STEP_KEYS,
    answer_fields,
    describe_identifier,
    file_bytes,
    mask_person_names,
    worklist_identifier,
)


def test_worklist_identifier_asks_for_the_usual_keys() -> None:
    raw = worklist_identifier("20261127", "DX_ROOM1", "DX")
    dataset = pydicom.dcmread(BytesIO(raw))
    assert dataset.file_meta.MediaStorageSOPClassUID == "1.2.840.10008.5.1.4.31"
    assert dataset.SpecificCharacterSet == "ISO_IR 192"
    assert all(dataset[k].value in ("", None) for k in ROOT_KEYS)
    step = dataset.ScheduledProcedureStepSequence[0]
    assert (step.ScheduledProcedureStepStartDate, step.ScheduledStationAETitle, step.Modality) == (
        "20261127",
        "DX_ROOM1",
        "DX",
    )
    assert set(STEP_KEYS) <= {e.keyword for e in step}


def test_describe_identifier_splits_matching_and_requested_keys() -> None:
    raw = file_bytes(
        identifier(
            {"Modality": "US", "ScheduledProcedureStepStartDate": "20261127-", "ScheduledStationAETitle": "*"},
            PatientName="Müller*",
            PatientID="",
            SpecificCharacterSet="ISO_IR 192",
        )
    )
    matching, requested = describe_identifier(raw)
    assert dict(matching) == {
        "PatientName": "Müller*",
        "Modality": "US",
        "ScheduledProcedureStepStartDate": "20261127-",
    }
    assert set(requested) == {"PatientID", "ScheduledStationAETitle"}


def test_describe_identifier_of_garbage_is_empty() -> None:
    assert describe_identifier(b"") == ((), ())
    assert describe_identifier(b"\x00not dicom at all") == ((), ())


def test_answer_fields_flatten_the_step() -> None:
    step = {"Modality": "DX", "ScheduledProcedureStepID": "SPS1"}
    ds = identifier(step, PatientName="Smith^Rex", PatientWeight="4.2")
    ds.SpecificCharacterSet = "ISO_IR 192"
    raw = file_bytes(ds)
    assert answer_fields(raw) == {
        "PatientName": "Smith^Rex",
        "PatientWeight": "4.2",
        "Modality": "DX",
        "ScheduledProcedureStepID": "SPS1",
    }


@pytest.mark.parametrize(
    "keyword",
    ["PatientName", "ResponsiblePerson", "ReferringPhysicianName", "ScheduledPerformingPhysicianName"],
)
def test_person_names_are_masked(keyword: str) -> None:
    assert mask_person_names({keyword: "Müller*", "Modality": "DX"}) == {keyword: HIDDEN, "Modality": "DX"}


def test_other_keys_are_kept() -> None:
    keys = {"PatientID": "000004", "ScheduledProcedureStepStartDateTime": "a..b", "NotAKeyword": "x"}
    assert mask_person_names(keys) == keys
