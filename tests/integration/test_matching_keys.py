"""Every matching key a modality may send, and queries in several character sets, end to end.

Real Orthanc with the plugin over the demo schedule in SQLite and PostgreSQL, queried with
pynetdicom; the expected answers are computed from the demo items themselves.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from support.clients import pynetdicom_find
from support.servers import import_items, sqlite_connection_string
from vetmwl.config import load_settings
from vetmwl.service import WorklistService
from vetmwl.web.identifiers import file_bytes

SPS = "ScheduledProcedureStepSequence"
BACKENDS = ["sqlite", "postgres"]
Item = dict[str, Any]


@pytest.fixture(params=BACKENDS)
def orthanc(request: pytest.FixtureRequest):
    return request.getfixturevalue(f"{request.param}_orthanc")


def query(step: dict[str, str] | None = None, charset: str = "ISO_IR 192", **root: Any) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = charset
    for keyword in ("PatientName", "PatientID", "PatientSex", "PatientBirthDate", "PatientSpeciesDescription"):
        setattr(ds, keyword, "")
    for keyword in ("PatientBreedDescription", "RequestedProcedureID", "ReferringPhysicianName", "StudyInstanceUID"):
        setattr(ds, keyword, "")
    for keyword, value in root.items():
        setattr(ds, keyword, value)
    item = Dataset()
    for keyword in ("Modality", "ScheduledProcedureStepID", "ScheduledProcedureStepStatus"):
        setattr(item, keyword, "")
    for keyword in ("ScheduledPerformingPhysicianName", "ScheduledProcedureStepStartDate"):
        setattr(item, keyword, "")
    for keyword, value in (step or {}).items():
        setattr(item, keyword, value)
    ds.ScheduledProcedureStepSequence = [item]
    return ds


def ids_of(answers: list[Dataset]) -> list[str]:
    return sorted(a[SPS][0].ScheduledProcedureStepID for a in answers)


def ids_where(items: list[Item], condition: Callable[[Item, Item], bool]) -> list[str]:
    return sorted(i[SPS][0]["ScheduledProcedureStepID"] for i in items if condition(i, i[SPS][0]))


CASES: list[tuple[str, dict[str, str] | None, dict[str, Any], Callable[[Item, Item], bool]]] = [
    (
        "status ARRIVED",
        {"ScheduledProcedureStepStatus": "ARRIVED"},
        {},
        lambda i, s: s["ScheduledProcedureStepStatus"] == "ARRIVED",
    ),
    (
        "status SCHEDULED (NULL counts)",
        {"ScheduledProcedureStepStatus": "SCHEDULED"},
        {},
        lambda i, s: s["ScheduledProcedureStepStatus"] in ("SCHEDULED", None),
    ),
    ("sex F", None, {"PatientSex": "F"}, lambda i, s: i["PatientSex"] == "F"),
    ("birth date", None, {"PatientBirthDate": "20180304"}, lambda i, s: i["PatientBirthDate"] == "20180304"),
    (
        "birth date range",
        None,
        {"PatientBirthDate": "20190101-20201231"},
        lambda i, s: "20190101" <= i["PatientBirthDate"] <= "20201231",
    ),
    (
        "species",
        None,
        {"PatientSpeciesDescription": "Felis catus"},
        lambda i, s: i["PatientSpeciesDescription"] == "Felis catus",
    ),
    (
        "species wildcard, case-sensitive",
        None,
        {"PatientSpeciesDescription": "Equus*"},
        lambda i, s: i["PatientSpeciesDescription"].startswith("Equus"),
    ),
    ("species lower case matches nothing", None, {"PatientSpeciesDescription": "felis catus"}, lambda i, s: False),
    (
        "? is one character (ó)",
        None,
        {"PatientBreedDescription": "Pach?n*"},
        lambda i, s: i["PatientBreedDescription"].startswith("Pachón"),
    ),
    (
        "requested procedure ID",
        None,
        {"RequestedProcedureID": "RP00007"},
        lambda i, s: i["RequestedProcedureID"] == "RP00007",
    ),
    (
        "requested procedure ID wildcard",
        None,
        {"RequestedProcedureID": "RP0001?"},
        lambda i, s: i["RequestedProcedureID"][:6] == "RP0001" and len(i["RequestedProcedureID"]) == 7,
    ),
    ("SPS ID", {"ScheduledProcedureStepID": "SPS00042"}, {}, lambda i, s: s["ScheduledProcedureStepID"] == "SPS00042"),
    (
        "performing physician, any case",
        {"ScheduledPerformingPhysicianName": "patel^*"},
        {},
        lambda i, s: s["ScheduledPerformingPhysicianName"].startswith("Patel^"),
    ),
    (
        "referring physician",
        None,
        {"ReferringPhysicianName": "OKAFOR^JAMES^^DR"},
        lambda i, s: i["ReferringPhysicianName"] == "Okafor^James^^Dr",
    ),
    (
        "referring physician wildcard",
        None,
        {"ReferringPhysicianName": "*lindqvist*"},
        lambda i, s: "Lindqvist" in i["ReferringPhysicianName"],
    ),
]


@pytest.mark.parametrize(("name", "step", "root", "condition"), CASES, ids=[c[0] for c in CASES])
def test_matching_key(orthanc, demo_items: list[Item], name: str, step, root, condition) -> None:
    wanted = ids_where(demo_items, condition)
    if "nothing" not in name:
        assert wanted, f"the demo schedule has no item for {name}"
    result = pynetdicom_find(orthanc.dicom_port, query(step, **root))
    assert result.final_status == 0
    assert ids_of(result.answers) == wanted
    # Orthanc re-checks the step item; every answer must still carry it in full.
    assert all(a[SPS][0].ScheduledProcedureStepID for a in result.answers)


@pytest.mark.parametrize(
    ("charset", "name", "owner"),
    [
        ("ISO_IR 100", "Müller*", "Müller"),
        ("ISO_IR 100", "garcía^luna", "García"),
        ("ISO_IR 192", "山田^ポチ", "山田"),
        ("ISO_IR 192", "Иванов*", "Иванов"),
        ("ISO_IR 144", "Иванов^Шарик", "Иванов"),
        ("ISO_IR 144", "Иван*", "Иванов"),
        ("ISO_IR 126", "Παπαδόπουλος*", "Παπαδόπουλος"),
        ("ISO_IR 126", "Παπαδόπουλος^Άργος", "Παπαδόπουλος"),
    ],
)
def test_query_character_sets_decode_and_match(
    orthanc, demo_items: list[Item], charset: str, name: str, owner: str
) -> None:
    """The query's Specific Character Set is honoured: the name is decoded before it is matched."""
    result = pynetdicom_find(orthanc.dicom_port, query(charset=charset, PatientName=name))
    wanted = ids_where(demo_items, lambda i, s: i["PatientName"].split("^")[0] == owner)
    assert wanted
    assert result.final_status == 0
    assert ids_of(result.answers) == wanted
    # Answers come back in UTF-8 whatever the query's character set (Orthanc's DefaultEncoding).
    assert {a.SpecificCharacterSet for a in result.answers} == {"ISO_IR 192"}
    assert {str(a.PatientName).split("^")[0] for a in result.answers} == {owner}


def test_unknown_query_character_set_fails_clearly(sqlite_orthanc) -> None:
    ds = query(charset="ISO_IR 999", PatientName="Smith*")
    result = pynetdicom_find(sqlite_orthanc.dicom_port, ds)
    assert result.answers == []
    assert result.final_status is not None and 0xC000 <= result.final_status <= 0xCFFF
    assert "Specific Character Set 'ISO_IR 999' is not supported" in sqlite_orthanc.log()


def test_veterinary_code_sequences_through_orthanc(orthanc, demo_items: list[Item]) -> None:
    """Requested zero-length code sequences come back with one code item, or empty when unknown."""
    ds = query(PatientName="Smith^Rex")
    ds.PatientSpeciesCodeSequence = []
    ds.PatientBreedCodeSequence = []
    ds.BreedRegistrationSequence = []
    result = pynetdicom_find(orthanc.dicom_port, ds)
    assert result.answers and result.final_status == 0
    for answer in result.answers:
        assert [(c.CodeValue, c.CodingSchemeDesignator) for c in answer.PatientSpeciesCodeSequence] == [
            ("448771007", "SCT")
        ]
        assert [c.CodeValue for c in answer.PatientBreedCodeSequence] == ["62137007"]
        (registration,) = answer.BreedRegistrationSequence
        assert registration.BreedRegistrationNumber == "SR12345601"
        assert [c.CodeValue for c in registration.BreedRegistryCodeSequence] == ["109200"]
    shiba = query(PatientName="山田^ポチ")
    shiba.PatientBreedCodeSequence = []
    shiba.BreedRegistrationSequence = []
    answers = pynetdicom_find(orthanc.dicom_port, shiba).answers
    assert answers
    for answer in answers:  # Type 2C: present with zero items
        assert "PatientBreedCodeSequence" in answer and len(answer.PatientBreedCodeSequence) == 0
        assert "BreedRegistrationSequence" in answer and len(answer.BreedRegistrationSequence) == 0


def test_code_sequence_item_keys_through_orthanc(orthanc) -> None:
    """An item naming some keys gets just those back (what Orthanc keeps of our answer, checked)."""
    ds = query(PatientName="Nguyen^Coco")
    asked = Dataset()
    asked.CodeValue = ""
    asked.CodeMeaning = ""
    ds.PatientSpeciesCodeSequence = [asked]
    result = pynetdicom_find(orthanc.dicom_port, ds)
    assert result.answers
    for answer in result.answers:
        (code,) = answer.PatientSpeciesCodeSequence
        assert (code.CodeValue, code.CodeMeaning) == ("36571002", "Oryctolagus cuniculus")
        assert "CodingSchemeDesignator" not in code


def test_derived_study_instance_uid_matches_through_orthanc(orthanc, demo_items: list[Item]) -> None:
    first = pynetdicom_find(orthanc.dicom_port, query(PatientName="Smith^Rex"))
    uid = first.answers[0].StudyInstanceUID
    assert uid.startswith("2.25.")
    again = pynetdicom_find(orthanc.dicom_port, query(StudyInstanceUID=uid))
    assert [a.StudyInstanceUID for a in again.answers] == [uid]
    listed = pynetdicom_find(orthanc.dicom_port, query(StudyInstanceUID=[uid, first.answers[-1].StudyInstanceUID]))
    assert {a.StudyInstanceUID for a in listed.answers} == {uid, first.answers[-1].StudyInstanceUID}


@pytest.fixture(scope="module", params=BACKENDS)
def sharp_s(
    request: pytest.FixtureRequest, demo_items: list[Item], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorklistService]:
    """The service over two orders of Straße^Rex and Strasse^Max, in SQLite or PostgreSQL."""
    tmp_path = tmp_path_factory.mktemp("sharp-s")
    items = [copy.deepcopy(i) for i in demo_items[:2]]
    items[0]["PatientName"], items[1]["PatientName"] = "Straße^Rex", "Strasse^Max"
    path = tmp_path / "sharp-s.json"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    if request.param == "sqlite":
        dialect, connection = "sqlite", sqlite_connection_string(tmp_path / "sharp-s.sqlite")
        import_items(dialect, connection, path, "--create-schema")
    else:
        dialect, connection = "postgresql", request.getfixturevalue("postgres").with_items(path, "sharp_s")
    service = WorklistService(load_settings({"SqlWorklist": {"ConnectionString": connection, "Dialect": dialect}}))
    yield service
    service.close()


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("straße*", ["Straße^Rex"]),
        ("STRAßE^REX", ["Straße^Rex"]),
        ("STRASSE*", ["Strasse^Max"]),  # ß is not SS: each letter has one capital, as UPPER() gives
        ("stra?e*", ["Straße^Rex"]),
        ("stra*e^*", ["Strasse^Max", "Straße^Rex"]),
    ],
)
def test_names_with_sharp_s_fold_case_as_the_database_does(sharp_s: WorklistService, name: str, found: list) -> None:
    """PN case folding (docs/conformance.md, "Case") against the databases' own UPPER(): the bound
    value must keep ß, or Straße is never found (straight through the service: no DICOM needed)."""
    result = sharp_s.find(file_bytes(query(PatientName=name)))
    names = [str(pydicom.dcmread(BytesIO(a), force=True).PatientName) for a in result.answers]
    assert sorted(names) == found
