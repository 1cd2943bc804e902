"""Answers: shaped exactly like the query, filled from the row, encoded so any name survives.

Written by the plugin's answer writer (vetmwl.encoder) over the reference table's columns, and read
back as Orthanc reads them.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from support.identifier_files import identifier
from support.views import reference_columns, view_of
from vetmwl.charset import UTF8
from vetmwl.encoder import AnswerEncoder
from vetmwl.model import PATIENT_KEYS, REQUIRED_COLUMNS, START_DATETIME, STEP_ATTRIBUTES
from vetmwl.query import WorklistQuery, parse_query, read_identifier
from vetmwl.studyuid import derived_study_uid
from vetmwl.web.identifiers import file_bytes

VIEW = view_of(reference_columns())
STEP_KEYWORDS = set(STEP_ATTRIBUTES) - {START_DATETIME}

ROW: dict[str, Any] = {
    "ScheduledProcedureStepID": "SPS00001",
    "ScheduledProcedureStepStartDateTime": datetime(2026, 1, 5, 9, 30, 15),
    "Modality": "DX",
    "ScheduledStationAETitle": "DX_ROOM1",
    "ScheduledPerformingPhysicianName": "Patel^Priya",
    "AccessionNumber": "2601050001",
    "RequestedProcedureID": "RP00001",
    "PatientName": "山田^ポチ",
    "PatientID": "000005",
    "PatientBirthDate": date(2017, 8, 23),
    "PatientSex": "M",
    "PatientWeight": Decimal("10.400"),
    "PatientSpeciesDescription": "Canis lupus familiaris",
    "ResponsiblePerson": "山田",
}

ROOT_KEYS = [
    *PATIENT_KEYS,
    "ResponsiblePersonRole",
    "AccessionNumber",
    "StudyInstanceUID",
    "ReferringPhysicianName",
]
STEP_KEYS = [
    "Modality",
    "ScheduledStationAETitle",
    "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime",
    "ScheduledProcedureStepID",
    "ScheduledProcedureStepLocation",
    "ScheduledPerformingPhysicianName",
]


def query(step: dict[str, Any] | list[Any] | None = None, **root: Any) -> WorklistQuery:
    return parse_query(identifier(step, **root))


def full_query() -> WorklistQuery:
    return query(dict.fromkeys(STEP_KEYS, ""), **dict.fromkeys(ROOT_KEYS, ""))


def decode(raw: bytes) -> Dataset:
    """Read an answer back as Orthanc would: Explicit VR Little Endian, no preamble, no file meta."""
    return pydicom.dcmread(BytesIO(raw), force=True)


def encode(q: WorklistQuery, row: dict[str, Any], character_set: str = UTF8) -> bytes:
    encoder = AnswerEncoder(q, VIEW, character_set)
    return encoder.encode(tuple(row.get(c) for c in encoder.columns))


def build_answer(q: WorklistQuery, row: dict[str, Any], character_set: str = UTF8) -> Dataset:
    """The answer the plugin writes for ``row``, read back."""
    return decode(encode(q, row, character_set))


def value_for(keyword: str, row: dict[str, Any]) -> str:
    """The text the plugin answers for a root ``keyword`` of ``row``."""
    return str(build_answer(query(**{keyword: ""}), row)[keyword].value or "")


def test_every_requested_key_is_answered_and_nothing_else() -> None:
    answer = build_answer(full_query(), ROW)
    assert set(answer.dir()) == {*ROOT_KEYS, "ScheduledProcedureStepSequence", "SpecificCharacterSet"}
    (item,) = answer.ScheduledProcedureStepSequence
    assert sorted(item.dir()) == sorted(STEP_KEYS)
    assert "ScheduledProcedureStepDescription" not in item  # in the row's contract, but not asked for
    assert "PatientComments" not in answer


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        ("PatientName", "山田^ポチ"),
        ("PatientID", "000005"),
        ("PatientBirthDate", "20170823"),
        ("PatientSex", "M"),
        ("PatientWeight", "10.4"),
        ("PatientSpeciesDescription", "Canis lupus familiaris"),
        ("PatientBreedDescription", ""),  # the row has no value
        ("ResponsiblePerson", "山田"),
        ("ResponsiblePersonRole", "OWNER"),
        ("AccessionNumber", "2601050001"),
        ("ReferringPhysicianName", ""),
    ],
)
def test_root_values(keyword: str, expected: str) -> None:
    answer = build_answer(full_query(), ROW)
    assert str(answer[keyword].value or "") == expected


@pytest.mark.parametrize(
    ("keyword", "expected"),
    [
        ("Modality", "DX"),
        ("ScheduledStationAETitle", "DX_ROOM1"),
        ("ScheduledProcedureStepStartDate", "20260105"),
        ("ScheduledProcedureStepStartTime", "093015"),
        ("ScheduledProcedureStepID", "SPS00001"),
        ("ScheduledProcedureStepLocation", ""),
        ("ScheduledPerformingPhysicianName", "Patel^Priya"),
    ],
)
def test_step_values(keyword: str, expected: str) -> None:
    (item,) = build_answer(full_query(), ROW).ScheduledProcedureStepSequence
    assert str(item[keyword].value or "") == expected


def test_missing_values_are_present_but_empty() -> None:
    answer = build_answer(full_query(), {"PatientID": "1", "ScheduledProcedureStepID": "S1"})
    (item,) = answer.ScheduledProcedureStepSequence
    assert answer.PatientID == "1"
    assert item.ScheduledProcedureStepID == "S1"
    for keyword in ("PatientName", "PatientBirthDate", "PatientWeight", "ResponsiblePersonRole"):
        assert answer[keyword].is_empty, keyword
    for keyword in ("Modality", "ScheduledProcedureStepStartDate", "ScheduledProcedureStepStartTime"):
        assert item[keyword].is_empty, keyword


@pytest.mark.parametrize(("person", "role"), [("Smith", "OWNER"), ("", ""), (None, ""), ("  ", "")])
def test_responsible_person_role_follows_responsible_person(person: str | None, role: str) -> None:
    assert value_for("ResponsiblePersonRole", {**ROW, "ResponsiblePerson": person}) == role


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("32.500"), "32.5"), (Decimal("512"), "512"), (Decimal("500"), "500"), (4.2, "4.2"), (38, "38")],
)
def test_weight_is_a_valid_decimal_string(value: object, expected: str) -> None:
    assert value_for("PatientWeight", {"PatientWeight": value}) == expected


def test_study_instance_uid_from_the_row() -> None:
    assert value_for("StudyInstanceUID", {**ROW, "StudyInstanceUID": "1.2.840.99.1"}) == "1.2.840.99.1"


@pytest.mark.parametrize(
    "row",
    [
        ROW,
        {"AccessionNumber": "A1"},
        {"RequestedProcedureID": "RP1"},
        {"PatientID": "P1", "ScheduledProcedureStepID": "S1"},
        {"ScheduledProcedureStepID": "S1"},
        {"AccessionNumber": "9" * 16, "RequestedProcedureID": "9" * 16, "PatientID": "9" * 64},
    ],
)
def test_derived_study_uid_is_a_valid_uid(row: dict[str, Any]) -> None:
    uid = derived_study_uid(row)
    assert uid.startswith("2.25.")
    assert len(uid) <= 64
    assert re.fullmatch(r"2\.25\.(0|[1-9][0-9]*)", uid)
    assert value_for("StudyInstanceUID", row) == uid


def test_derived_study_uid_is_stable_per_order() -> None:
    assert derived_study_uid(dict(ROW)) == derived_study_uid(dict(ROW))
    assert derived_study_uid(ROW) != derived_study_uid({**ROW, "AccessionNumber": "2601050002"})
    # Two steps of one order land in one study.
    assert derived_study_uid(ROW) == derived_study_uid({**ROW, "ScheduledProcedureStepID": "SPS00002"})


def test_derived_study_uid_tells_orders_without_accession_apart() -> None:
    """Without accession and requested procedure, each step is its own order."""
    first = {"PatientID": "P1", "ScheduledProcedureStepID": "S1"}
    second = {"PatientID": "P1", "ScheduledProcedureStepID": "S2"}
    assert derived_study_uid(first) != derived_study_uid(second)


@pytest.mark.parametrize("step", [[], {}])
def test_empty_step_sequence_or_item_returns_the_whole_step(step: list[Any] | dict[str, Any]) -> None:
    answer = build_answer(query(step, PatientID=""), ROW)
    (item,) = answer.ScheduledProcedureStepSequence
    assert set(item.dir()) == STEP_KEYWORDS
    assert item.Modality == "DX"
    assert item.ScheduledProcedureStepStartDate == "20260105"
    assert item.ScheduledProcedureStepStartTime == "093015"
    assert item["ScheduledProcedureStepDescription"].is_empty


def test_other_sequences_come_back_empty() -> None:
    answer = build_answer(
        query({"Modality": ""}, PatientID="", ReferencedStudySequence=[], ReferencedPatientSequence=[Dataset()]),
        ROW,
    )
    assert len(answer.ReferencedStudySequence) == 0
    assert len(answer.ReferencedPatientSequence) == 0
    assert answer["ReferencedStudySequence"].VR == "SQ"


def test_unknown_requested_keys_are_answered_empty() -> None:
    answer = build_answer(query(InstitutionName="x", PatientAge=""), ROW)
    assert answer["InstitutionName"].is_empty
    assert answer["PatientAge"].is_empty


def test_too_long_value_is_cut_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="vetmwl.answers")
    long_text = "Canis lupus familiaris " * 4  # 92 characters, LO allows 64
    answer = build_answer(query(PatientSpeciesDescription=""), {**ROW, "PatientSpeciesDescription": long_text})
    assert answer.PatientSpeciesDescription == long_text[:64].strip()
    assert len(answer["PatientSpeciesDescription"].value) <= 64
    warnings = [r for r in caplog.records if r.name == "vetmwl.answers" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "PatientSpeciesDescription" in warnings[0].getMessage()


def test_value_within_its_length_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="vetmwl.answers")
    text = "x" * 64
    answer = build_answer(query(PatientSpeciesDescription=""), {**ROW, "PatientSpeciesDescription": text})
    assert answer.PatientSpeciesDescription == text
    assert not [r for r in caplog.records if r.name == "vetmwl.answers"]


def test_person_name_is_cut_per_component_group() -> None:
    name = "A" * 70 + "=" + "B" * 70
    answer = build_answer(query(PatientName=""), {**ROW, "PatientName": name})
    assert str(answer.PatientName) == "A" * 64 + "=" + "B" * 64


@pytest.mark.parametrize("query_charset", [None, "ISO_IR 100", "ISO_IR 192"])
def test_answers_are_always_utf8(query_charset: str | None) -> None:
    root: dict[str, Any] = {"PatientName": ""}
    if query_charset:
        root["SpecificCharacterSet"] = query_charset
    answer = build_answer(parse_query(read_identifier(file_bytes(identifier(**root)))), ROW)
    assert answer.SpecificCharacterSet == UTF8 == "ISO_IR 192"


def test_encoded_answer_decodes_to_the_same_values() -> None:
    raw = encode(full_query(), ROW)
    assert not raw.startswith(b"\0" * 128)  # no preamble
    assert b"DICM" not in raw[:132]  # and no file meta
    assert "山田^ポチ".encode() in raw
    decoded = decode(raw)
    assert decoded.SpecificCharacterSet == "ISO_IR 192"
    assert decoded.PatientName == "山田^ポチ"
    assert decoded.ResponsiblePerson == "山田"
    assert decoded.PatientID == "000005"
    assert decoded.PatientBirthDate == "20170823"
    assert float(decoded.PatientWeight) == pytest.approx(10.4)
    assert decoded.ResponsiblePersonRole == "OWNER"
    assert decoded.StudyInstanceUID == derived_study_uid(ROW)
    assert decoded.PatientBreedDescription == ""
    (item,) = decoded.ScheduledProcedureStepSequence
    assert item.Modality == "DX"
    assert item.ScheduledProcedureStepStartDate == "20260105"
    assert item.ScheduledProcedureStepStartTime == "093015"
    assert item.ScheduledPerformingPhysicianName == "Patel^Priya"
    assert item.ScheduledProcedureStepLocation == ""


def test_encoded_answer_is_explicit_vr_little_endian() -> None:
    raw = encode(query(PatientID=""), ROW)
    # (0008,0005) CS, then (0010,0020) LO, each with its VR spelled out as Explicit VR does.
    assert raw.startswith(b"\x08\x00\x05\x00CS")
    assert b"\x10\x00\x20\x00LO" in raw


def test_unknown_status_is_answered_scheduled() -> None:
    answer = build_answer(query({"ScheduledProcedureStepStatus": ""}), {**ROW, "ScheduledProcedureStepStatus": None})
    assert answer.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus == "SCHEDULED"
    arrived = build_answer(
        query({"ScheduledProcedureStepStatus": ""}), {**ROW, "ScheduledProcedureStepStatus": "ARRIVED"}
    )
    assert arrived.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus == "ARRIVED"


def test_code_sequences_answer_the_requested_item_keys() -> None:
    asked = Dataset()
    asked.CodeValue = None
    asked.CodingSchemeVersion = None
    answer = build_answer(
        query(PatientSpeciesCodeSequence=[asked], PatientBreedCodeSequence=[], BreedRegistrationSequence=[]),
        {**ROW, "PatientBreedDescription": "Beagle"},
    )
    (species,) = answer.PatientSpeciesCodeSequence
    assert species.CodeValue == "448771007"
    assert species["CodingSchemeVersion"].is_empty and "CodeMeaning" not in species
    (breed,) = answer.PatientBreedCodeSequence
    assert (breed.CodeValue, breed.CodingSchemeDesignator, breed.CodeMeaning) == ("44696006", "SCT", "Beagle")
    assert answer["BreedRegistrationSequence"].VR == "SQ" and len(answer.BreedRegistrationSequence) == 0


def test_code_columns_are_never_answered_as_attributes() -> None:
    """BreedRegistrationNumber is a real keyword, but it belongs inside its sequence's item."""
    answer = build_answer(query(BreedRegistrationNumber=""), {**ROW, "BreedRegistrationNumber": "SR1"})
    assert answer["BreedRegistrationNumber"].is_empty


def test_latin1_answer(caplog: pytest.LogCaptureFixture) -> None:
    answer = build_answer(query(PatientName="", ResponsiblePerson=""), ROW, "ISO_IR 100")
    assert answer.SpecificCharacterSet == "ISO_IR 100"
    assert str(answer.PatientName) == "??^??"
    assert decode(encode(query(PatientName=""), ROW, "ISO_IR 100")).PatientName == "??^??"


def test_a_stored_responsible_person_role_is_answered_as_stored() -> None:
    assert value_for("ResponsiblePersonRole", {**ROW, "ResponsiblePersonRole": "GUARDIAN"}) == "GUARDIAN"
    assert value_for("ResponsiblePersonRole", {**ROW, "ResponsiblePersonRole": None}) == "OWNER"


CATCH_ALL = {
    "AdditionalAttributes": (
        '{"00101010": {"vr": "AS", "Value": ["003Y"]}, "001021C0": {"vr": "US", "Value": [4]},'
        ' "00102000": {"vr": "LO", "Value": ["bites", "epileptic"]},'
        ' "00400100": {"vr": "SQ", "Value": [{"00400012": {"vr": "LO", "Value": ["none"]}}]}}'
    )
}


def test_attributes_without_a_column_come_from_the_catch_all() -> None:
    q = query({"PreMedication": "", "Modality": ""}, PatientAge="", PregnancyStatus="", Allergies="")
    answer = build_answer(q, {**ROW, **CATCH_ALL, "Allergies": "penicillin"})
    assert answer.PatientAge == "003Y"
    assert answer.PregnancyStatus == 4  # US, written as a binary number
    assert answer.Allergies == "penicillin"  # a column of its own
    # PreMedication has a column: its value is there only (so that SQL matches what is sent).
    assert answer.ScheduledProcedureStepSequence[0].PreMedication in ("", None)
    with_column = build_answer(q, {**ROW, **CATCH_ALL, "PreMedication": "ACP"})
    assert with_column.ScheduledProcedureStepSequence[0].PreMedication == "ACP"
    # A view without that column takes it from the catch-all.
    encoder = AnswerEncoder(q, view_of(_required_and_catch_all()))
    row = {**ROW, **CATCH_ALL}
    decoded = decode(encoder.encode(tuple(row.get(c) for c in encoder.columns)))
    assert decoded.ScheduledProcedureStepSequence[0].PreMedication == "none"


def _required_and_catch_all() -> tuple[str, ...]:
    return (*REQUIRED_COLUMNS, "AdditionalAttributes")


def test_a_multi_valued_attribute_keeps_its_values() -> None:
    answer = build_answer(query(MedicalAlerts=""), {**ROW, "MedicalAlerts": "aggressive\\epileptic"})
    assert list(answer.MedicalAlerts) == ["aggressive", "epileptic"]


def test_a_sequence_column_holds_dicom_json() -> None:
    stored = (
        '[{"00081150": {"vr": "UI", "Value": ["1.2.840.10008.3.1.2.3.1"]},'
        ' "00081155": {"vr": "UI", "Value": ["1.2.3"]}}]'
    )
    answer = build_answer(query(ReferencedStudySequence=[]), {**ROW, "ReferencedStudySequence": stored})
    (item,) = answer.ReferencedStudySequence
    assert item.ReferencedSOPInstanceUID == "1.2.3"
