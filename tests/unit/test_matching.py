"""Matching in Python (PS3.4 C.2.2.2) and what Orthanc's own re-check decides."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from pydicom.dataset import Dataset
from vetmwl.matching import matches, orthanc_datetime_text, orthanc_text, orthanc_time_text, orthanc_wildcard

from vetmwl.model import Level
from vetmwl.query import Equals, InList, ItemMatch, Like, Range, TimeOfDay


@pytest.mark.parametrize(
    ("value", "query", "written"),
    [
        (time(15, 30), "-1530", "1530"),  # 15:30:00 is within -1530 by value; Orthanc reads "153000" > "1530"
        (time(15, 30), "1530", "1530"),
        (time(15, 30), "153000", "153000"),
        (time(15, 30, 5), "1500-1531", "153005"),
        (time(8), "08-08", "08"),
        (time(15, 30, 0, 500000), "1500-", "153000.500000"),
        (time(15, 30), "153000-1530", None),  # no writing of 15:30 passes both bounds as text
        (timedelta(hours=13), "130000-150000", "130000"),
    ],
)
def test_the_time_is_written_as_orthanc_compares_it(value: object, query: str, written: str | None) -> None:
    assert orthanc_time_text(value, query) == written


@pytest.mark.parametrize(
    ("value", "query", "written"),
    [
        (datetime(2025, 12, 30, 11, 30), "20251230113000", "20251230113000"),
        (datetime(2025, 12, 30, 11, 30), "202512301130", "202512301130"),
        (datetime(2025, 12, 30), "20251230-", "20251230000000"),
        (datetime(2025, 12, 30), "-20251230", "20251230"),
        (datetime(2025, 12, 30, 11, 30, 1), "-202512301130", None),
    ],
)
def test_a_date_time_is_written_as_orthanc_compares_it(value: datetime, query: str, written: str | None) -> None:
    assert orthanc_datetime_text(value, query) == written


def test_orthanc_text_reads_the_stored_text_by_vr() -> None:
    assert orthanc_text("TM", "1300", "130000") == "130000"
    assert orthanc_text("DT", "202512301130", "20251230113000") == "20251230113000"
    assert orthanc_text("TM", "not a time", "1300") is None
    assert orthanc_text("LO", "anything", "x") == "anything"


def test_orthanc_wildcards_stand_for_bytes() -> None:
    pattern = Like("ScheduledProcedureStepDescription", "Pach?n*", level=Level.STEP)
    assert matches(pattern, "Pachón Navarro")  # DICOM: one character
    assert not orthanc_wildcard(pattern, "Pachón Navarro")  # Orthanc: one byte, and ó is two
    assert orthanc_wildcard(pattern, "Pachon Navarro")
    assert orthanc_wildcard(Like("ScheduledPerformingPhysicianName", "vet*", fold_case=True), "Vet^Anna")


@pytest.mark.parametrize(
    ("f", "value", "expected"),
    [
        (Equals("MedicalAlerts", "Epilepsy"), "Bites\\Epilepsy", True),  # any of several values (K.2.2.3)
        (Equals("MedicalAlerts", "Bites\\Epilepsy"), "Bites\\Epilepsy", False),
        (Like("Allergies", "Lat*"), "Penicillin\\Latex", True),
        (Equals("PatientSize", "0.45"), "0.450", True),  # numbers by value
        (Equals("PatientSize", "0.46"), "0.450", False),
        (Equals("PatientWeight", "32"), "not a number", False),
        (InList("StudyInstanceUID", ("1.2", "1.3")), "1.3", True),
        (Range("PatientBirthDate", datetime(2018, 1, 1).date(), None), "20180304", True),
        (Range("PatientBirthDate", datetime(2018, 1, 1).date(), None), "2017", False),
        (TimeOfDay("ScheduledProcedureStepEndTime", timedelta(hours=13), None), "1300", True),
        (Equals("PatientID", "1"), None, False),
        (Equals("ScheduledProcedureStepStatus", "SCHEDULED", or_unknown=True), "", True),
    ],
)
def test_matches_on_the_answers_value(f: object, value: object, expected: bool) -> None:
    assert matches(f, value) is expected


def code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodeMeaning = meaning
    return item


def test_sequence_matching_needs_one_item_matching_every_key() -> None:
    """PS3.4 C.2.2.2.6: keys split across two items do not match."""
    stored = [code("P1", "Thorax"), code("P2", "Abdomen")]
    one = ItemMatch("ScheduledProtocolCodeSequence", (Equals("CodeValue", "P2"),))
    both = ItemMatch("ScheduledProtocolCodeSequence", (Equals("CodeValue", "P2"), Like("CodeMeaning", "Abd*")))
    split = ItemMatch("ScheduledProtocolCodeSequence", (Equals("CodeValue", "P1"), Like("CodeMeaning", "Abd*")))
    assert matches(one, stored) and matches(both, stored)
    assert not matches(split, stored)
    assert not matches(one, []) and not matches(one, None)


@pytest.mark.parametrize(
    ("f", "value", "expected"),
    [
        (Like("PatientName", "straße*", fold_case=True), "STRAßE^Rex", True),
        (Equals("PatientName", "Straße^Rex", fold_case=True), "STRAßE^REX", True),
        (Like("PatientName", "STRASSE*", fold_case=True), "Straße^Rex", False),  # as the databases' UPPER()
        (Like("PatientName", "Straße*", fold_case=True), "Strasse^Rex", False),
    ],
)
def test_person_names_fold_case_as_the_databases_do(f: object, value: str, expected: bool) -> None:
    """One character to one: ß stays ß (its capital is SS), in Python as in SQL (see query.person_name_upper)."""
    assert matches(f, value) is expected


def test_orthanc_wildcards_fold_case_as_the_databases_do() -> None:
    step_name = "ScheduledPerformingPhysicianName"
    assert orthanc_wildcard(Like(step_name, "straß*", fold_case=True, level=Level.STEP), "STRAßE^Anna")
    assert not orthanc_wildcard(Like(step_name, "STRASS*", fold_case=True, level=Level.STEP), "Straße^Anna")
