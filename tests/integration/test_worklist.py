"""End to end: real Orthanc with the plugin, real databases, real DICOM clients."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydicom.dataset import Dataset

from support.clients import echo, findscu, pynetdicom_find
from support.keys import STEP_KEYS
from support.readme import readme_findscu_keys

BACKENDS = ["sqlite", "postgres", "mariadb"]


@pytest.fixture(params=BACKENDS)
def orthanc(request: pytest.FixtureRequest):
    return request.getfixturevalue(f"{request.param}_orthanc")


def step(item: dict) -> dict:
    return item["ScheduledProcedureStepSequence"][0]


def expected(items: list[dict], **criteria) -> list[dict]:
    """The demo items a query should return, in the plugin's order (start date-time, SPS ID)."""
    chosen = [i for i in items if all(criterion(i) for criterion in criteria.values())]
    return sorted(
        chosen,
        key=lambda i: (
            step(i)["ScheduledProcedureStepStartDate"],
            step(i)["ScheduledProcedureStepStartTime"],
            step(i)["ScheduledProcedureStepID"],
        ),
    )


def spsid(answer: Dataset) -> str:
    return answer.ScheduledProcedureStepSequence[0].ScheduledProcedureStepID


def test_echo(orthanc) -> None:
    assert echo(orthanc.dicom_port) == 0


def test_findscu_todays_dx_with_veterinary_fields(orthanc, demo_items, today: date) -> None:
    keys = readme_findscu_keys(today)
    assert len(keys) == 21
    result = findscu(orthanc.dicom_port, keys)
    want = expected(
        demo_items,
        dx=lambda i: step(i)["Modality"] == "DX",
        day=lambda i: step(i)["ScheduledProcedureStepStartDate"] == f"{today:%Y%m%d}",
    )
    assert result.final_status == 0, result.output
    assert len(want) >= 4
    assert [spsid(a) for a in result.answers] == [step(i)["ScheduledProcedureStepID"] for i in want]
    for answer, item in zip(result.answers, want, strict=True):
        sps = answer.ScheduledProcedureStepSequence[0]
        assert answer.SpecificCharacterSet == "ISO_IR 192"
        assert str(answer.PatientName) == item["PatientName"]
        assert answer.PatientID == item["PatientID"]
        assert answer.PatientBirthDate == item["PatientBirthDate"]
        assert answer.PatientSex == item["PatientSex"]
        assert Decimal(str(answer.PatientWeight)) == Decimal(item["PatientWeight"])
        assert answer.PatientSpeciesDescription == item["PatientSpeciesDescription"]
        assert answer.PatientBreedDescription == item["PatientBreedDescription"]
        assert str(answer.ResponsiblePerson) == item["ResponsiblePerson"]
        assert answer.AccessionNumber == item["AccessionNumber"]
        assert answer.RequestedProcedureID == item["RequestedProcedureID"]
        assert answer.RequestedProcedureDescription == item["RequestedProcedureDescription"]
        assert answer.StudyDescription == item["StudyDescription"]
        assert str(answer.ReferringPhysicianName) == item["ReferringPhysicianName"]
        assert answer.StudyInstanceUID.startswith("2.25.")
        assert sps.Modality == "DX"
        assert sps.ScheduledProcedureStepStartDate == f"{today:%Y%m%d}"
        assert sps.ScheduledProcedureStepStartTime == step(item)["ScheduledProcedureStepStartTime"]
        assert sps.ScheduledStationAETitle == step(item)["ScheduledStationAETitle"]
        assert sps.ScheduledProcedureStepDescription == step(item)["ScheduledProcedureStepDescription"]
        assert str(sps.ScheduledPerformingPhysicianName) == step(item)["ScheduledPerformingPhysicianName"]


def test_study_instance_uid_is_stable_across_queries_and_backends(sqlite_orthanc, postgres_orthanc, today) -> None:
    keys = ["StudyInstanceUID=", "AccessionNumber=", "ScheduledProcedureStepSequence[0].Modality=US"]
    first = findscu(sqlite_orthanc.dicom_port, keys)
    again = findscu(sqlite_orthanc.dicom_port, keys)
    other = findscu(postgres_orthanc.dicom_port, keys)
    uids = [(a.AccessionNumber, a.StudyInstanceUID) for a in first.answers]
    assert uids and len({u for _, u in uids}) == len(uids)
    assert uids == [(a.AccessionNumber, a.StudyInstanceUID) for a in again.answers]
    assert uids == [(a.AccessionNumber, a.StudyInstanceUID) for a in other.answers]


def identifier(**root: str) -> Dataset:
    """A broad identifier asking for the usual keys, with root keys overridden by ``root``."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    for keyword in (
        "PatientName",
        "PatientID",
        "AccessionNumber",
        "PatientSpeciesDescription",
        "PatientComments",
        "StudyInstanceUID",
    ):
        setattr(ds, keyword, "")
    for keyword, value in root.items():
        setattr(ds, keyword, value)
    sps = Dataset()
    for keyword in (
        "Modality",
        "ScheduledProcedureStepStartDate",
        "ScheduledProcedureStepStartTime",
        "ScheduledStationAETitle",
        "ScheduledProcedureStepID",
    ):
        setattr(sps, keyword, "")
    ds.ScheduledProcedureStepSequence = [sps]
    return ds


def test_patient_name_wildcard_is_case_insensitive(orthanc, demo_items) -> None:
    result = pynetdicom_find(orthanc.dicom_port, identifier(PatientName="smith*"))
    want = expected(demo_items, name=lambda i: i["PatientName"].upper().startswith("SMITH"))
    assert want
    assert result.final_status == 0
    assert [spsid(a) for a in result.answers] == [step(i)["ScheduledProcedureStepID"] for i in want]
    # A key the database has no value for is still present, empty (Type 2 behaviour).
    assert all("PatientComments" in a and not a.PatientComments for a in result.answers)


def test_japanese_name_round_trips_in_utf8(orthanc, demo_items) -> None:
    result = pynetdicom_find(orthanc.dicom_port, identifier(PatientName="山田^ポチ"))
    want = expected(demo_items, name=lambda i: i["PatientName"] == "山田^ポチ")
    assert want
    assert [str(a.PatientName) for a in result.answers] == ["山田^ポチ"] * len(want)


def test_patient_id_and_accession_number(orthanc, demo_items) -> None:
    by_id = pynetdicom_find(orthanc.dicom_port, identifier(PatientID="000004"))
    assert {a.PatientID for a in by_id.answers} == {"000004"}
    assert len(by_id.answers) == len(expected(demo_items, pid=lambda i: i["PatientID"] == "000004"))
    accession = demo_items[7]["AccessionNumber"]
    by_accession = pynetdicom_find(orthanc.dicom_port, identifier(AccessionNumber=accession))
    assert [a.AccessionNumber for a in by_accession.answers] == [accession]


def test_station_and_date_range(orthanc, demo_items, today) -> None:
    query = identifier()
    sps = query.ScheduledProcedureStepSequence[0]
    sps.ScheduledStationAETitle = "US_ROOM1"
    last = today + timedelta(days=2)
    sps.ScheduledProcedureStepStartDate = f"{today:%Y%m%d}-{last:%Y%m%d}"
    result = pynetdicom_find(orthanc.dicom_port, query)
    days = {f"{today + timedelta(days=n):%Y%m%d}" for n in range(3)}
    want = expected(
        demo_items,
        station=lambda i: step(i)["ScheduledStationAETitle"] == "US_ROOM1",
        days=lambda i: step(i)["ScheduledProcedureStepStartDate"] in days,
    )
    assert len(want) == 12
    assert [spsid(a) for a in result.answers] == [step(i)["ScheduledProcedureStepID"] for i in want]


def test_open_ended_date_range(orthanc, demo_items, today) -> None:
    query = identifier()
    sps = query.ScheduledProcedureStepSequence[0]
    sps.Modality = "CT"
    first = f"{today + timedelta(days=3):%Y%m%d}"
    sps.ScheduledProcedureStepStartDate = f"{first}-"
    result = pynetdicom_find(orthanc.dicom_port, query)
    want = expected(
        demo_items,
        ct=lambda i: step(i)["Modality"] == "CT",
        after=lambda i: step(i)["ScheduledProcedureStepStartDate"] >= first,
    )
    assert len(want) == 4
    assert [spsid(a) for a in result.answers] == [step(i)["ScheduledProcedureStepID"] for i in want]


def test_time_range_within_a_day(orthanc, demo_items, today) -> None:
    query = identifier()
    sps = query.ScheduledProcedureStepSequence[0]
    sps.ScheduledProcedureStepStartDate = f"{today:%Y%m%d}"
    # Full precision on purpose: Orthanc re-checks each answer's step item with its own matcher,
    # which compares TM as strings, so "1530" would (wrongly) drop a step at 15:30:00.
    sps.ScheduledProcedureStepStartTime = "120000-153000"
    result = pynetdicom_find(orthanc.dicom_port, query)
    want = expected(
        demo_items,
        day=lambda i: step(i)["ScheduledProcedureStepStartDate"] == f"{today:%Y%m%d}",
        time=lambda i: "120000" <= step(i)["ScheduledProcedureStepStartTime"] <= "153000",
    )
    assert want
    assert [spsid(a) for a in result.answers] == [step(i)["ScheduledProcedureStepID"] for i in want]


def test_empty_step_item_returns_the_whole_step(orthanc, demo_items, today) -> None:
    query = Dataset()
    query.PatientName = "Smith^Rex"
    query.ScheduledProcedureStepSequence = [Dataset()]
    result = pynetdicom_find(orthanc.dicom_port, query)
    assert result.answers
    sps = result.answers[0].ScheduledProcedureStepSequence[0]
    for keyword in (*STEP_KEYS, "ScheduledPerformingPhysicianName", "ScheduledProcedureStepStatus"):
        assert keyword in sps, keyword
    first = expected(demo_items, name=lambda i: i["PatientName"] == "Smith^Rex")[0]
    assert sps.ScheduledProcedureStepID == step(first)["ScheduledProcedureStepID"]
    # An unknown (NULL) status is answered as SCHEDULED.
    assert sps.ScheduledProcedureStepStatus == (step(first)["ScheduledProcedureStepStatus"] or "SCHEDULED")


def test_malformed_date_gets_a_failure_status_and_a_clear_log(sqlite_orthanc) -> None:
    query = identifier()
    query.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate = "2026-13-45"
    result = pynetdicom_find(sqlite_orthanc.dicom_port, query)
    assert result.answers == []
    assert result.final_status is not None and 0xC000 <= result.final_status <= 0xCFFF
    assert "refused: Scheduled Procedure Step Start Date/Time: '2026-13-45' is neither" in sqlite_orthanc.log()
    assert sqlite_orthanc.alive()
    assert echo(sqlite_orthanc.dicom_port) == 0


@pytest.mark.parametrize("name", ["müller*", "MÜLLER^BELLO", "m?ller^bello"])
def test_non_ascii_names_match_ignoring_case(orthanc, demo_items, name: str) -> None:
    result = pynetdicom_find(orthanc.dicom_port, identifier(PatientName=name))
    want = expected(demo_items, name=lambda i: i["PatientName"] == "Müller^Bello")
    assert want
    assert [spsid(a) for a in result.answers] == [step(i)["ScheduledProcedureStepID"] for i in want]
