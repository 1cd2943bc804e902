"""C-FIND identifier to filters: what is matched, what is universal, and what is refused."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from unit.helpers import file_bytes, identifier
from vetmwl.contract import START_DATETIME
from vetmwl.query import (
    Equals,
    InList,
    Like,
    QueryError,
    Range,
    TimeOfDay,
    WorklistQuery,
    parse_query,
    read_identifier,
)


def parse(step: dict[str, Any] | list[dict[str, Any]] | None = None, **root: Any) -> WorklistQuery:
    """Parse an identifier the way the plugin gets it from Orthanc: as DICOM file bytes."""
    return parse_query(read_identifier(file_bytes(identifier(step, **root))))


@pytest.mark.parametrize(
    "root",
    [
        {"PatientName": ""},
        {"PatientName": "*"},
        {"PatientName": "*^*"},
        {"PatientName": "^"},
        {"PatientName": "*^*^*^*^*"},
        {"PatientID": ""},
        {"PatientID": "*"},
        {"PatientID": "**"},
        {"AccessionNumber": "*"},
        {"ReferringPhysicianName": "*^*"},
        {"StudyInstanceUID": ""},
        {"PatientBirthDate": ""},
    ],
)
def test_universal_values_are_no_filter(root: dict[str, str]) -> None:
    assert parse(**root).filters == ()


@pytest.mark.parametrize(
    "step",
    [
        {"Modality": "", "ScheduledProcedureStepStartDate": "", "ScheduledProcedureStepStartTime": ""},
        {"Modality": "*", "ScheduledStationAETitle": "*", "ScheduledPerformingPhysicianName": "*^*"},
    ],
)
def test_universal_step_values_are_no_filter(step: dict[str, str]) -> None:
    assert parse(step, PatientName="").filters == ()


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ({"PatientName": "SMITH*"}, Like("PatientName", "SMITH*", fold_case=True)),
        ({"PatientName": "sm?th^*"}, Like("PatientName", "sm?th^*", fold_case=True)),
        ({"PatientName": "Smith^Rex"}, Equals("PatientName", "Smith^Rex", fold_case=True)),
        ({"PatientName": "Smith^Rex^^^"}, Equals("PatientName", "Smith^Rex", fold_case=True)),
        ({"PatientName": "Smith^"}, Equals("PatientName", "Smith", fold_case=True)),
        ({"ReferringPhysicianName": "Carter*"}, Like("ReferringPhysicianName", "Carter*", fold_case=True)),
        ({"ResponsiblePerson": "Smith"}, Equals("ResponsiblePerson", "Smith", fold_case=True)),
        ({"PatientID": "000001"}, Equals("PatientID", "000001")),
        ({"PatientID": "0000?1"}, Like("PatientID", "0000?1")),
        ({"AccessionNumber": "2601*"}, Like("AccessionNumber", "2601*")),
        ({"PatientSpeciesDescription": "Felis catus"}, Equals("PatientSpeciesDescription", "Felis catus")),
        ({"StudyInstanceUID": "1.2.3"}, Equals("StudyInstanceUID", "1.2.3")),
        ({"StudyInstanceUID": ["1.2.3", "1.2.4"]}, InList("StudyInstanceUID", ("1.2.3", "1.2.4"))),
        ({"StudyInstanceUID": "1.2.3\\1.2.4\\1.2.5"}, InList("StudyInstanceUID", ("1.2.3", "1.2.4", "1.2.5"))),
        ({"PatientBirthDate": "20180101-20181231"}, Range("PatientBirthDate", date(2018, 1, 1), date(2019, 1, 1))),
        ({"PatientBirthDate": "-20180101"}, Range("PatientBirthDate", None, date(2018, 1, 2))),
    ],
)
def test_root_filters(root: dict[str, Any], expected: object) -> None:
    assert parse(**root).filters == (expected,)


def test_case_is_folded_only_for_person_names() -> None:
    """Our conformance statement: PN matching ignores case, other VRs match exactly."""
    accession, name = parse(PatientName="smith*", AccessionNumber="ab*").filters  # in tag order
    assert name.params() == ["SMITH*"]
    assert accession.params() == ["ab*"]


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({"Modality": "DX"}, Equals("Modality", "DX")),
        ({"ScheduledStationAETitle": "DX_ROOM*"}, Like("ScheduledStationAETitle", "DX_ROOM*")),
        ({"ScheduledProcedureStepID": "SPS00001"}, Equals("ScheduledProcedureStepID", "SPS00001")),
        (
            {"ScheduledPerformingPhysicianName": "patel*"},
            Like("ScheduledPerformingPhysicianName", "patel*", fold_case=True),
        ),
        (
            {"ScheduledProcedureStepStartDate": "20260105-20260107"},
            Range(START_DATETIME, datetime(2026, 1, 5), datetime(2026, 1, 8)),
        ),
        (
            {"ScheduledProcedureStepStartDate": "20260705-20260707", "ScheduledProcedureStepStartTime": "1000-1800"},
            Range(START_DATETIME, datetime(2026, 7, 5, 10), datetime(2026, 7, 7, 18, 1)),
        ),
        (
            {"ScheduledProcedureStepStartDate": "20260105-"},
            Range(START_DATETIME, datetime(2026, 1, 5), None),
        ),
        (
            {"ScheduledProcedureStepStartDate": "", "ScheduledProcedureStepStartTime": "0800-1200"},
            TimeOfDay(START_DATETIME, timedelta(hours=8), timedelta(hours=12, minutes=1)),
        ),
    ],
)
def test_step_filters(step: dict[str, str], expected: object) -> None:
    assert parse(step).filters == (expected,)


def test_filters_from_root_and_step_together() -> None:
    query = parse(
        {"Modality": "DX", "ScheduledProcedureStepStartDate": "20260105", "ScheduledStationAETitle": ""},
        PatientName="Smith*",
        PatientID="",
    )
    assert set(query.filters) == {
        Like("PatientName", "Smith*", fold_case=True),
        Equals("Modality", "DX"),
        Range(START_DATETIME, datetime(2026, 1, 5), datetime(2026, 1, 6)),
    }
    assert query.step_requested is not None
    assert "ScheduledStationAETitle" in query.step_requested


@pytest.mark.parametrize(
    ("step", "root"),
    [
        ({"ScheduledProcedureStepStartDate": "20261340"}, {}),
        ({"ScheduledProcedureStepStartDate": "yesterday"}, {}),
        ({"ScheduledProcedureStepStartDate": "20260107-20260105"}, {}),
        ({"ScheduledProcedureStepStartDate": "20260105", "ScheduledProcedureStepStartTime": "2500"}, {}),
        ({"ScheduledProcedureStepStartTime": "1800-1000"}, {}),
        (None, {"PatientBirthDate": "2018"}),
    ],
)
def test_malformed_dates_and_times_are_refused(step: dict[str, str] | None, root: dict[str, str]) -> None:
    with pytest.raises(QueryError):
        parse(step, **root)


def test_more_than_one_step_item_is_refused() -> None:
    with pytest.raises(QueryError, match="more than one item"):
        parse([{"Modality": "DX"}, {"Modality": "CR"}])


def test_unknown_character_set_is_refused() -> None:
    with pytest.warns(UserWarning), pytest.raises(QueryError, match="ISO_IR 999"):
        parse(SpecificCharacterSet="ISO_IR 999", PatientName="Smith*")


def test_latin1_query_is_decoded_with_its_character_set() -> None:
    dataset = identifier(
        {"ScheduledPerformingPhysicianName": "Jörg*"}, SpecificCharacterSet="ISO_IR 100", PatientName="Müller*"
    )
    raw = file_bytes(dataset)
    assert "Müller".encode("latin-1") in raw  # really sent in Latin-1, not UTF-8
    query = parse_query(read_identifier(raw))
    assert query.filters == (
        Like("PatientName", "Müller*", fold_case=True),
        Like("ScheduledPerformingPhysicianName", "Jörg*", fold_case=True),
    )
    assert query.filters[0].params() == ["MÜLLER*"]


def test_japanese_iso_2022_query_is_decoded() -> None:
    query = parse(SpecificCharacterSet=["", "ISO 2022 IR 87"], PatientName="山田^ポチ")
    assert query.filters == (Equals("PatientName", "山田^ポチ", fold_case=True),)


def test_query_retrieve_level_is_dropped() -> None:
    """Some modalities send (0008,0052); it is no worklist key and must not reach the answers."""
    query = parse(QueryRetrieveLevel="PATIENT", PatientID="X")
    assert "QueryRetrieveLevel" not in query.identifier
    assert query.filters == (Equals("PatientID", "X"),)


@pytest.mark.parametrize(
    ("step", "root"),
    [
        (None, {"InstitutionName": "Riverside"}),  # not a column of the contract
        (None, {"PatientWeight": "32"}),  # a returned-only (decimal) column
        (None, {"ResponsiblePersonRole": "OWNER"}),  # derived by the plugin
        (None, {"SpecificCharacterSet": "ISO_IR 192"}),
        # (0040,4005) is a real DICOM keyword (UPS); only the SPS Start Date and Time are matched.
        (None, {"ScheduledProcedureStepStartDateTime": "20260105100000"}),
        ({"ScheduledProcedureStepStartDateTime": "20260105100000"}, {}),
        ({"Modality": "", "ScheduledProtocolCodeSequence": []}, {}),
        ({"CommentsOnTheScheduledProcedureStep": "urgent"}, {}),
    ],
)
def test_keys_outside_the_contract_are_not_filters(step: dict[str, Any] | None, root: dict[str, Any]) -> None:
    assert parse(step, **root).filters == ()


def test_no_step_sequence_means_no_step_requested() -> None:
    assert parse(PatientID="").step_requested is None


@pytest.mark.parametrize("step", [[], {}])
def test_empty_step_sequence_or_item_requests_the_whole_step(step: list[Any] | dict[str, Any]) -> None:
    query = parse(step, PatientID="")
    assert query.step_requested is not None
    assert len(query.step_requested) == 0
    assert query.filters == ()


def test_matching_keys_lists_only_non_universal_keys() -> None:
    query = parse(
        {"Modality": "DX", "ScheduledProcedureStepStartDate": "20260105", "ScheduledStationAETitle": ""},
        PatientName="Smith*",
        PatientID="",
        StudyInstanceUID=["1.2.3", "1.2.4"],
    )
    assert query.matching_keys() == {
        "PatientName": "Smith*",
        "StudyInstanceUID": "1.2.3\\1.2.4",
        "Modality": "DX",
        START_DATETIME: "2026-01-05 00:00:00..2026-01-06 00:00:00",
    }


def test_matching_keys_of_open_range() -> None:
    query = parse({"ScheduledProcedureStepStartDate": "20260105-"})
    assert query.matching_keys() == {START_DATETIME: "2026-01-05 00:00:00.."}


def test_read_identifier_drops_the_file_meta() -> None:
    dataset = read_identifier(file_bytes(identifier(PatientID="X")))
    assert dataset.PatientID == "X"
    assert len(dataset.file_meta) == 0
