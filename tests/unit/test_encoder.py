"""The fast answer writer must write exactly the bytes pydicom writes for the same answer."""

from __future__ import annotations

import json
import random
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

import pydicom
import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from support.reference_answers import build_answer, encode
from support.views import reference_columns, view_of
from vetmwl.charset import LATIN1, UTF8
from vetmwl.encoder import AnswerEncoder
from vetmwl.model import CATCH_ALL, CODE_COLUMNS, PATIENT_KEYS, REQUIRED_COLUMNS
from vetmwl.query import parse_query

ALL = reference_columns()
REQUIRED = REQUIRED_COLUMNS
#: A view without any of the veterinary code columns: species and breed codes are then derived.
NO_CODES = tuple(c for c in ALL if c not in CODE_COLUMNS)
#: The required columns and the catch-all: every other attribute comes from the DICOM JSON.
CATCH_ALL_ONLY = (*REQUIRED_COLUMNS, CATCH_ALL)
AVAILABLE = {"all columns": ALL, "required only": REQUIRED, "no code columns": NO_CODES, "catch-all": CATCH_ALL_ONLY}
CHARACTER_SETS = [UTF8, LATIN1]
ROOT_KEYS = [
    *PATIENT_KEYS,
    "PatientSexNeutered",
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
    "PatientAge",
    "IssuerOfPatientID",
    "RequestingPhysician",
    "Allergies",
    "AdmissionID",
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
    "PreMedication",
    "CommentsOnTheScheduledProcedureStep",
]
NAMES = [
    "Smith^Rex",
    "Müller^Bello",
    "山田^ポチ",
    "García^Luna",
    "O'Connor^Daisy",
    "Green Acres Farm^Running on Water",
    "Παπαδόπουλος^Άργος",
    "Иванов^Шарик",
    "Dvořák^Łajka",
]
SPECIES = ["Canis lupus familiaris", "felis CATUS", "Horse", " Mustela  putorius furo ", "Dragon", "", "Κύων"]
BREEDS = ["Labrador Retriever", "Mixed breed", "DSH", "Shiba Inu", "Arabian", "Pachón Navarro", ""]


def random_row(rng: random.Random) -> dict:
    """A row as an ODBC driver returns it: str, date, datetime, Decimal or float, and NULLs."""

    def maybe(value: object) -> object:
        return None if rng.random() < 0.2 else value

    return {
        "ScheduledProcedureStepID": f"SPS{rng.randrange(10**6)}",
        "ScheduledProcedureStepStartDateTime": datetime(
            2026,
            rng.randint(1, 12),
            rng.randint(1, 28),
            rng.randint(0, 23),
            rng.randint(0, 59),
            rng.randint(0, 59),
            rng.choice([0, 0, 0, 123456, 500000]),  # fractions of a second are answered too
        ),
        "Modality": rng.choice(["DX", "CR", "US", "CT"]),
        "ScheduledStationAETitle": maybe(rng.choice(["DX_ROOM1", "US_ROOM1", "CT"])),
        "ScheduledStationName": maybe("Room  1 "),
        "ScheduledProcedureStepLocation": maybe("Radiology"),
        "ScheduledProcedureStepDescription": maybe(rng.choice(["Thorax, 3 views", "x" * 70, "Ultraschall Bauch"])),
        "ScheduledPerformingPhysicianName": maybe(rng.choice(NAMES)),
        "ScheduledProcedureStepStatus": maybe(rng.choice(["SCHEDULED", "ARRIVED", "", "READY"])),
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
        "PatientSpeciesDescription": maybe(rng.choice(SPECIES)),
        "PatientSpeciesCodeValue": maybe(rng.choice(["448771007", "L-80700", ""])),
        "PatientSpeciesCodingSchemeDesignator": maybe(rng.choice(["SCT", "SRT"])),
        "PatientSpeciesCodeMeaning": maybe(rng.choice(["Canis lupus familiaris", "Canine species"])),
        "PatientBreedDescription": maybe(rng.choice(BREEDS)),
        "PatientBreedCodeValue": maybe(rng.choice(["62137007", "132619000"])),
        "PatientBreedCodingSchemeDesignator": maybe("SCT"),
        "PatientBreedCodeMeaning": maybe(rng.choice(["Labrador retriever", "Mixed breed dog", "Chien de race mêlée"])),
        "BreedRegistrationNumber": maybe(rng.choice(["SR12345601", "AKC-" + "9" * 70, "Nº 7"])),
        "BreedRegistryCodeValue": maybe("109200"),
        "BreedRegistryCodingSchemeDesignator": maybe("DCM"),
        "BreedRegistryCodeMeaning": maybe("America Kennel Club"),
        "PatientSexNeutered": maybe(rng.choice(["ALTERED", "UNALTERED"])),
        "ResponsiblePerson": maybe(rng.choice(["Smith", "山田", ""])),
        "ResponsibleOrganization": maybe(rng.choice(["Green Acres Farm", "Ферма Зелёная", "Ŝtato"])),
        "PatientComments": maybe("bites"),
        # The columns of the whole worklist model: plain values, DICOM JSON sequences, the catch-all.
        "PreMedication": maybe("Acepromazin 0.05 mg/kg"),
        "RequestedContrastAgent": maybe("Iohexol"),
        "CommentsOnTheScheduledProcedureStep": maybe("  fasted since 20:00\r\nsedated"),
        "ScheduledProtocolCodeSequence": maybe(rng.choice([PROTOCOLS, "[]", PROTOCOLS_NESTED])),
        "RequestedProcedureCodeSequence": maybe(PROTOCOLS),
        "ReferencedStudySequence": maybe(REFERENCED_STUDY),
        "ReferencedPatientSequence": maybe("[]"),
        "RequestingPhysician": maybe(rng.choice(NAMES)),
        "AdmissionID": maybe("ADM-7"),
        "CurrentPatientLocation": maybe("Kennel 3"),
        "IssuerOfPatientID": maybe("VETCLINIC"),
        "PatientSize": maybe(rng.choice([Decimal("0.450"), Decimal("1.2")])),
        "ResponsiblePersonRole": maybe(rng.choice(["OWNER", "GUARDIAN", ""])),
        "MedicalAlerts": maybe(rng.choice(["aggressive", "aggressive\\epileptic", "Ŝtato"])),
        "Allergies": maybe("penicillin"),
        "SpecialNeeds": maybe("muzzle"),
        "PatientState": maybe("sedated"),
        "AdditionalAttributes": maybe(rng.choice(CATCH_ALLS)),
    }


PROTOCOLS = json.dumps(
    [
        {
            "00080100": {"vr": "SH", "Value": ["P1"]},
            "00080102": {"vr": "SH", "Value": ["99VET"]},
            "00080104": {"vr": "LO", "Value": ["Thorax two views"]},
        },
        {
            "00080100": {"vr": "SH", "Value": ["P2"]},
            "00080102": {"vr": "SH", "Value": ["99VET"]},
            "00080103": {"vr": "SH", "Value": ["1.0"]},
            "00080104": {"vr": "LO", "Value": ["Abdomen"]},
        },
    ]
)
PROTOCOLS_NESTED = json.dumps(
    [
        {
            "00080100": {"vr": "SH", "Value": ["P3"]},
            "00080104": {"vr": "LO", "Value": ["Stifle"]},
            "00400440": {
                "vr": "SQ",
                "Value": [{"0040A040": {"vr": "CS", "Value": ["TEXT"]}, "0040A160": {"vr": "UT", "Value": ["left"]}}],
            },
        },
    ]
)
REFERENCED_STUDY = json.dumps(
    [{"00081150": {"vr": "UI", "Value": ["1.2.840.10008.3.1.2.3.1"]}, "00081155": {"vr": "UI", "Value": ["1.2.3.4.5"]}}]
)
CATCH_ALLS = [
    json.dumps(
        {
            "001021C0": {"vr": "US", "Value": [4]},
            "00101010": {"vr": "AS", "Value": ["003Y"]},
            "00102000": {"vr": "LO", "Value": ["bites", "Ŝtato"]},
            "00101002": {
                "vr": "SQ",
                "Value": [
                    {"00100020": {"vr": "LO", "Value": ["OTHER-1"]}, "00100022": {"vr": "CS", "Value": ["TEXT"]}}
                ],
            },
            "00400100": {
                "vr": "SQ",
                "Value": [{"00400011": {"vr": "SH", "Value": ["Annex"]}, "00400012": {"vr": "LO", "Value": ["none"]}}],
            },
        }
    ),
    json.dumps({"00102203": {"vr": "CS", "Value": ["ALTERED"]}, "00101020": {"vr": "DS", "Value": [0.61]}}),
    "{}",
]


def item(*keywords: str, **sequences: list[Dataset]) -> Dataset:
    """A requested sequence item: empty keys, and nested sequences."""
    ds = Dataset()
    for keyword in keywords:
        setattr(ds, keyword, None)
    for keyword, items in sequences.items():
        setattr(ds, keyword, items)
    return ds


def query_for(
    root: list[str],
    step: list[str] | None,
    extra: list[DataElement] = (),
    sequences: dict[str, list[Dataset]] | None = None,
) -> object:
    ds = Dataset()
    for keyword in root:
        setattr(ds, keyword, None)
    for element in extra:
        ds.add(element)
    for keyword, items in (sequences or {}).items():
        setattr(ds, keyword, items)
    if step is not None:
        item = Dataset()
        for keyword in step:
            setattr(item, keyword, None)
        ds.ScheduledProcedureStepSequence = [item] if step or len(step) else []
    return parse_query(ds)


SHAPES = {
    "seed server keys": (
        [*PATIENT_KEYS, "StudyDescription"],
        STEP_KEYS[:9],
    ),
    "everything": (ROOT_KEYS, STEP_KEYS),
    "root only": (ROOT_KEYS, None),
    "empty step item": (["PatientName"], []),
    "uid only": (["StudyInstanceUID"], None),
    "charset first": (["SpecificCharacterSet", "AccessionNumber"], ["Modality"]),
}
#: Shapes with the veterinary code sequences: zero-length (asks for everything), one empty item
#: (the same), and items naming some keys, unknown ones and nested sequences included.
CODE_SHAPES: dict[str, tuple[list[str], list[str] | None, dict[str, list[Dataset]]]] = {
    "codes, zero-length": (
        ["PatientName", "PatientSpeciesDescription", "PatientBreedDescription"],
        ["Modality"],
        {"PatientSpeciesCodeSequence": [], "PatientBreedCodeSequence": [], "BreedRegistrationSequence": []},
    ),
    "codes, empty items": (
        ["PatientID"],
        [],
        {
            "PatientSpeciesCodeSequence": [Dataset()],
            "PatientBreedCodeSequence": [Dataset()],
            "BreedRegistrationSequence": [Dataset()],
        },
    ),
    "codes, some keys": (
        ["PatientName", "ResponsibleOrganization"],
        None,
        {
            "PatientSpeciesCodeSequence": [item("CodeValue", "CodeMeaning")],
            "PatientBreedCodeSequence": [item("CodingSchemeDesignator", "CodingSchemeVersion", "LongCodeValue")],
            "BreedRegistrationSequence": [
                item("BreedRegistrationNumber", BreedRegistryCodeSequence=[item("CodeValue", "CodeMeaning")])
            ],
        },
    ),
    "registration, odd keys": (
        ["PatientName"],
        ["ScheduledProcedureStepStatus"],
        {
            "BreedRegistrationSequence": [
                item("PatientName", BreedRegistryCodeSequence=[], ReferencedStudySequence=[])
            ],
            "PatientBreedCodeSequence": [item("CodeMeaning", EquivalentCodeSequence=[])],
        },
    ),
    "registry code only": (
        [],
        None,
        {"BreedRegistrationSequence": [item(BreedRegistryCodeSequence=[Dataset()])]},
    ),
    "JSON sequences and the catch-all's": (
        ["PatientID"],
        None,
        {
            "ReferencedStudySequence": [item("ReferencedSOPClassUID", "ReferencedSOPInstanceUID")],
            "OtherPatientIDsSequence": [],
            "RequestedProcedureCodeSequence": [Dataset()],
            "ReferencedPatientSequence": [item("ReferencedSOPInstanceUID")],
        },
    ),
}
#: Shapes asking for sequences inside the step item, where an unknown one gets an item of empty keys.
STEP_SEQUENCE_SHAPES = {
    "protocol codes, some keys": {"ScheduledProtocolCodeSequence": [item("CodeValue", "CodeMeaning")]},
    "protocol codes, nested": {
        "ScheduledProtocolCodeSequence": [item("CodeValue", ProtocolContextSequence=[item("TextValue")])]
    },
    "protocol codes, empty item": {"ScheduledProtocolCodeSequence": [Dataset()]},
    "protocol codes, zero-length": {"ScheduledProtocolCodeSequence": []},
}


def _compare(query: object, columns: tuple[str, ...], character_set: str, seed: str, rows: int = 200) -> None:
    view = view_of(columns)
    encoder = AnswerEncoder(query, view, character_set)
    assert set(encoder.columns) <= set(columns)
    rng = random.Random(seed)
    for _ in range(rows):
        full = random_row(rng)
        row = {name: full.get(name) for name in columns}
        fast = encoder.encode(tuple(row[name] for name in encoder.columns))
        reference = encode(build_answer(query, view, row, character_set))
        assert fast == reference, row


@pytest.mark.parametrize("character_set", CHARACTER_SETS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("available", AVAILABLE)
def test_fast_writer_matches_pydicom_byte_for_byte(shape: str, available: str, character_set: str) -> None:
    root, step = SHAPES[shape]
    _compare(query_for(root, step), AVAILABLE[available], character_set, f"{shape}/{available}/{character_set}")


@pytest.mark.parametrize("character_set", CHARACTER_SETS)
@pytest.mark.parametrize("shape", CODE_SHAPES)
@pytest.mark.parametrize("available", AVAILABLE)
def test_fast_writer_matches_pydicom_for_veterinary_codes(shape: str, available: str, character_set: str) -> None:
    root, step, sequences = CODE_SHAPES[shape]
    query = query_for(root, step, sequences=sequences)
    _compare(query, AVAILABLE[available], character_set, f"{shape}/{available}/{character_set}", rows=300)


@pytest.mark.parametrize("character_set", CHARACTER_SETS)
@pytest.mark.parametrize("shape", STEP_SEQUENCE_SHAPES)
@pytest.mark.parametrize("available", AVAILABLE)
def test_fast_writer_matches_pydicom_for_sequences_in_the_step(shape: str, available: str, character_set: str) -> None:
    ds = Dataset()
    ds.PatientName = None
    step = Dataset()
    step.Modality = None
    step.PreMedication = None
    for keyword, items in STEP_SEQUENCE_SHAPES[shape].items():
        setattr(step, keyword, items)
    ds.ScheduledProcedureStepSequence = [step]
    _compare(parse_query(ds), AVAILABLE[available], character_set, f"{shape}/{available}/{character_set}")


def test_an_unknown_sequence_in_the_step_is_left_out_never_made_up() -> None:
    """No invented item of empty values (no valid code item); zero items would make Orthanc empty the
    step item (its re-check refuses a zero-item sequence where the query's item names keys), so the
    sequence is left out of the step item; at the root it has zero items."""
    ds = Dataset()
    step = Dataset()
    step.ScheduledProtocolCodeSequence = [item("CodeValue", "CodeMeaning")]
    ds.ScheduledProcedureStepSequence = [step]
    encoder = AnswerEncoder(parse_query(ds), view_of(ALL))
    row = {"ScheduledProtocolCodeSequence": None, "AdditionalAttributes": None}
    decoded = pydicom.dcmread(BytesIO(encoder.encode(tuple(row.get(c) for c in encoder.columns))), force=True)
    assert "ScheduledProtocolCodeSequence" not in decoded.ScheduledProcedureStepSequence[0]
    assert len(decoded.ScheduledProcedureStepSequence) == 1  # the step item itself is there
    row = {"ScheduledProtocolCodeSequence": PROTOCOLS}
    decoded = pydicom.dcmread(BytesIO(encoder.encode(tuple(row.get(c) for c in encoder.columns))), force=True)
    assert [i.CodeValue for i in decoded.ScheduledProcedureStepSequence[0].ScheduledProtocolCodeSequence] == [
        "P1",
        "P2",
    ]


def test_code_shapes_write_codes_and_empty_sequences() -> None:
    """The random rows really produce both outcomes: a code item and a zero-item sequence."""
    root, step, sequences = CODE_SHAPES["codes, zero-length"]
    query = query_for(root, step, sequences=sequences)
    encoder = AnswerEncoder(query, view_of(ALL))
    rng = random.Random(7)
    lengths = {
        "PatientSpeciesCodeSequence": set(),
        "PatientBreedCodeSequence": set(),
        "BreedRegistrationSequence": set(),
    }
    for _ in range(200):
        full = random_row(rng)
        decoded = pydicom.dcmread(BytesIO(encoder.encode(tuple(full.get(c) for c in encoder.columns))), force=True)
        for keyword, seen in lengths.items():
            seen.add(len(decoded[keyword].value))
    assert all(seen == {0, 1} for seen in lengths.values()), lengths


def test_sequences_private_and_unknown_elements_are_returned_empty() -> None:
    query = query_for(
        ["PatientName", "ReferencedStudySequence"],
        [],
        extra=[DataElement(0x00091001, "LO", None), DataElement(0x00110010, "UN", b"")],
    )
    row = random_row(random.Random(1)) | {"ReferencedStudySequence": None}
    encoder = AnswerEncoder(query, view_of(ALL))
    fast = encoder.encode(tuple(row.get(name) for name in encoder.columns))
    assert fast == encode(build_answer(query, view_of(ALL), row))
    decoded = pydicom.dcmread(BytesIO(fast), force=True)
    assert decoded.ReferencedStudySequence == []
    assert decoded[0x00091001].value in (None, "", b"")


def test_answer_decodes_with_utf8_names() -> None:
    query = query_for(["PatientName", "ResponsiblePerson", "ResponsiblePersonRole"], ["Modality"])
    encoder = AnswerEncoder(query, view_of(ALL))
    row = random_row(random.Random(2)) | {"PatientName": "山田^ポチ", "ResponsiblePerson": "山田"}
    decoded = pydicom.dcmread(BytesIO(encoder.encode(tuple(row.get(c) for c in encoder.columns))), force=True)
    assert decoded.SpecificCharacterSet == "ISO_IR 192"
    assert str(decoded.PatientName) == "山田^ポチ"
    assert decoded.ResponsiblePersonRole == "OWNER"


def test_latin1_answer_is_transliterated_and_declared() -> None:
    query = query_for(["PatientName", "ResponsiblePerson", "ResponsibleOrganization"], ["Modality"])
    encoder = AnswerEncoder(query, view_of(ALL), LATIN1)
    row = random_row(random.Random(2)) | {
        "PatientName": "Dvořák^Müller",
        "ResponsiblePerson": "Иванов",
        "ResponsibleOrganization": "山田 Farm",
    }
    raw = encoder.encode(tuple(row.get(c) for c in encoder.columns))
    assert "Dvorák^Müller".encode("latin-1") in raw
    decoded = pydicom.dcmread(BytesIO(raw), force=True)
    assert decoded.SpecificCharacterSet == "ISO_IR 100"
    assert str(decoded.PatientName) == "Dvorák^Müller"
    assert str(decoded.ResponsiblePerson) == "??????"
    assert decoded.ResponsibleOrganization == "?? Farm"


def test_answer_cache_keeps_character_sets_apart() -> None:
    query = query_for(["PatientName"], ["Modality"])
    row = random_row(random.Random(4)) | {"PatientName": "Dvořák^Rex"}
    utf8, latin1 = AnswerEncoder(query, view_of(ALL), UTF8), AnswerEncoder(query, view_of(ALL), LATIN1)
    first = utf8.answer([row.get(c) for c in utf8.columns])
    second = latin1.answer([row.get(c) for c in latin1.columns])
    assert "Dvořák".encode() in first and b"ISO_IR 192" in first
    assert "Dvorák".encode("latin-1") in second and b"ISO_IR 100" in second


def test_answer_cache_never_returns_a_stale_answer() -> None:
    query = query_for(["PatientName", "PatientID"], ["Modality"])
    encoder = AnswerEncoder(query, view_of(ALL))
    row = random_row(random.Random(3))
    values = [row.get(c) for c in encoder.columns]
    first = encoder.answer(values)
    assert encoder.answer(list(values)) is first  # same content: served from the cache
    values[encoder.columns.index("PatientName")] = "Changed^Name"
    changed = encoder.answer(values)
    assert changed != first and b"Changed^Name" in changed
    other = AnswerEncoder(query_for(["PatientName"], ["Modality"]), view_of(ALL))
    assert other.answer([row.get(c) for c in other.columns]) != first  # another shape, another entry
