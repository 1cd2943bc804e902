"""The fast answer writer must write exactly the bytes pydicom writes for the same answer."""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

import pydicom
import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from vetmwl.answers import build_answer, encode
from vetmwl.contract import COLUMNS
from vetmwl.encoder import AnswerEncoder, shape_of
from vetmwl.query import parse_query

ALL = tuple(c.name for c in COLUMNS)
ROOT_KEYS = [
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientWeight",
    "PatientSpeciesDescription",
    "PatientBreedDescription",
    "PatientSexNeutered",
    "ResponsiblePerson",
    "ResponsiblePersonRole",
    "ResponsibleOrganization",
    "AccessionNumber",
    "RequestedProcedureID",
    "RequestedProcedureDescription",
    "RequestedProcedurePriority",
    "StudyInstanceUID",
    "StudyDescription",
    "ReferringPhysicianName",
    "PatientComments",
    "MedicalAlerts",
    "PregnancyStatus",
    "PatientSize",
]
STEP_KEYS = [
    "Modality",
    "ScheduledStationAETitle",
    "ScheduledStationName",
    "ScheduledProcedureStepLocation",
    "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime",
    "ScheduledProcedureStepDescription",
    "ScheduledPerformingPhysicianName",
    "ScheduledProcedureStepID",
    "ScheduledProcedureStepStatus",
    "ScheduledProcedureStepStartDateTime",
]
NAMES = ["Smith^Rex", "Müller^Bello", "山田^ポチ", "García^Luna", "O'Connor^Daisy", "Green Acres Farm^Running on Water"]


def random_row(rng: random.Random) -> dict:
    """A row as an ODBC driver returns it: str, date, datetime, Decimal or float, and NULLs."""

    def maybe(value: object) -> object:
        return None if rng.random() < 0.2 else value

    return {
        "ScheduledProcedureStepID": f"SPS{rng.randrange(10**6)}",
        "ScheduledProcedureStepStartDateTime": datetime(
            2026, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        ),
        "Modality": rng.choice(["DX", "CR", "US", "CT"]),
        "ScheduledStationAETitle": maybe(rng.choice(["DX_ROOM1", "US_ROOM1", "CT"])),
        "ScheduledStationName": maybe("Room  1 "),
        "ScheduledProcedureStepLocation": maybe("Radiology"),
        "ScheduledProcedureStepDescription": maybe(rng.choice(["Thorax, 3 views", "x" * 70, "Ultraschall Bauch"])),
        "ScheduledPerformingPhysicianName": maybe(rng.choice(NAMES)),
        "ScheduledProcedureStepStatus": maybe("SCHEDULED"),
        "RequestedProcedureID": maybe(f"RP{rng.randrange(1000)}"),
        "RequestedProcedureDescription": maybe("Röntgen Thorax"),
        "RequestedProcedurePriority": maybe("ROUTINE"),
        "AccessionNumber": maybe(f"{rng.randrange(10**9)}"),
        "StudyInstanceUID": maybe(rng.choice(["1.2.3.4", "1.2.840.10008.99.1"])),
        "StudyDescription": maybe("XR"),
        "ReferringPhysicianName": maybe("Carter^Emily^^Dr"),
        "PatientName": rng.choice([*NAMES, "A" * 70 + "^" + "B" * 5]),
        "PatientID": rng.choice(["000001", " 0042 ", "P-7"]),
        "PatientBirthDate": maybe(date(2015 + rng.randrange(10), rng.randint(1, 12), rng.randint(1, 28))),
        "PatientSex": maybe(rng.choice(["M", "F", "O"])),
        "PatientWeight": maybe(rng.choice([Decimal("4.200"), Decimal("38"), 12.5, 31.0, Decimal("512.125")])),
        "PatientSpeciesDescription": maybe("Canis lupus familiaris"),
        "PatientBreedDescription": maybe(""),
        "PatientSexNeutered": maybe(rng.choice(["ALTERED", "UNALTERED"])),
        "ResponsiblePerson": maybe(rng.choice(["Smith", "山田", ""])),
        "ResponsibleOrganization": maybe("Green Acres Farm"),
        "PatientComments": maybe("bites"),
    }


def query_for(root: list[str], step: list[str] | None, extra: list[DataElement] = ()) -> object:
    ds = Dataset()
    for keyword in root:
        setattr(ds, keyword, None)
    for element in extra:
        ds.add(element)
    if step is not None:
        item = Dataset()
        for keyword in step:
            setattr(item, keyword, None)
        ds.ScheduledProcedureStepSequence = [item] if step or len(step) else []
    return parse_query(ds)


SHAPES = {
    "seed server keys": (
        [
            "PatientName",
            "PatientID",
            "PatientBirthDate",
            "PatientSex",
            "PatientWeight",
            "PatientSpeciesDescription",
            "PatientBreedDescription",
            "ResponsiblePerson",
            "StudyDescription",
        ],
        STEP_KEYS[:9],
    ),
    "everything": (ROOT_KEYS, STEP_KEYS),
    "root only": (ROOT_KEYS, None),
    "empty step item": (["PatientName"], []),
    "uid only": (["StudyInstanceUID"], None),
    "charset first": (["SpecificCharacterSet", "AccessionNumber"], ["Modality"]),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("available", ["all columns", "required only"])
def test_fast_writer_matches_pydicom_byte_for_byte(shape: str, available: str) -> None:
    root, step = SHAPES[shape]
    query = query_for(root, step)
    columns = (
        ALL
        if available == "all columns"
        else ("ScheduledProcedureStepID", "ScheduledProcedureStepStartDateTime", "Modality", "PatientName", "PatientID")
    )
    encoder = AnswerEncoder(query, columns)
    assert set(encoder.columns) <= set(columns)
    rng = random.Random(f"{shape}/{available}")
    for _ in range(200):
        full = random_row(rng)
        row = {name: full[name] for name in columns}
        fast = encoder.encode(tuple(row[name] for name in encoder.columns))
        reference = encode(build_answer(query, row))
        assert fast == reference


def test_sequences_private_and_unknown_elements_are_returned_empty() -> None:
    query = query_for(
        ["PatientName", "ReferencedStudySequence"],
        [],
        extra=[DataElement(0x00091001, "LO", None), DataElement(0x00110010, "UN", b"")],
    )
    row = random_row(random.Random(1))
    encoder = AnswerEncoder(query, ALL)
    fast = encoder.encode(tuple(row[name] for name in encoder.columns))
    assert fast == encode(build_answer(query, row))
    decoded = pydicom.dcmread(BytesIO(fast), force=True)
    assert decoded.ReferencedStudySequence == []
    assert decoded[0x00091001].value in (None, "", b"")


def test_answer_decodes_with_utf8_names() -> None:
    query = query_for(["PatientName", "ResponsiblePerson", "ResponsiblePersonRole"], ["Modality"])
    encoder = AnswerEncoder(query, ALL)
    row = random_row(random.Random(2)) | {"PatientName": "山田^ポチ", "ResponsiblePerson": "山田"}
    decoded = pydicom.dcmread(BytesIO(encoder.encode(tuple(row[c] for c in encoder.columns))), force=True)
    assert decoded.SpecificCharacterSet == "ISO_IR 192"
    assert str(decoded.PatientName) == "山田^ポチ"
    assert decoded.ResponsiblePersonRole == "OWNER"


def test_shape_ignores_values_but_not_keys() -> None:
    a = query_for(["PatientName"], ["Modality"])
    b = query_for(["PatientName"], ["Modality"])
    b.identifier.PatientName = "Smith*"
    c = query_for(["PatientName", "PatientID"], ["Modality"])
    assert shape_of(a) == shape_of(b) != shape_of(c)
    assert shape_of(query_for(["PatientName"], [])) != shape_of(query_for(["PatientName"], None))


def test_answer_cache_never_returns_a_stale_answer() -> None:
    query = query_for(["PatientName", "PatientID"], ["Modality"])
    encoder = AnswerEncoder(query, ALL)
    row = random_row(random.Random(3))
    values = [row[c] for c in encoder.columns]
    first = encoder.answer(values)
    assert encoder.answer(list(values)) is first  # same content: served from the cache
    values[encoder.columns.index("PatientName")] = "Changed^Name"
    changed = encoder.answer(values)
    assert changed != first and b"Changed^Name" in changed
    other = AnswerEncoder(query_for(["PatientName"], ["Modality"]), ALL)
    assert other.answer([row[c] for c in other.columns]) != first  # another shape, another entry
