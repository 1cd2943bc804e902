"""The service with per-AE options, veterinary codes and derived UIDs, over the demo SQLite file (ODBC)."""

from __future__ import annotations

import shutil
import sqlite3
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from support.identifier_files import identifier
from support.views import reference_columns
from vetmwl.config import load_settings
from vetmwl.service import WorklistService
from vetmwl.studyuid import derived_study_uid
from vetmwl.web.identifiers import file_bytes

SPS = "ScheduledProcedureStepSequence"
STEP_KEYS = {
    "Modality": "",
    "ScheduledStationAETitle": "",
    "ScheduledProcedureStepID": "",
    "ScheduledProcedureStepStatus": "",
}


def make(services: list[WorklistService], connection: str, **section: Any) -> WorklistService:
    settings = load_settings({"SqlWorklist": {"ConnectionString": connection, "Dialect": "sqlite", **section}})
    service = WorklistService(settings)
    services.append(service)
    return service


def find(service: WorklistService, step: dict[str, Any] | None = None, aet: str | None = None, **root: Any) -> list:
    step = STEP_KEYS | (step or {})
    root = {
        "SpecificCharacterSet": "ISO_IR 192",
        "PatientName": "",
        "StudyInstanceUID": "",
        "AccessionNumber": "",
    } | root
    result = service.find(file_bytes(identifier(step, **root)), aet)
    return [pydicom.dcmread(BytesIO(a), force=True) for a in result.answers]


def sps(answer: Dataset) -> Dataset:
    return answer[SPS][0]


def ids(answers: list[Dataset]) -> set[str]:
    return {sps(a).ScheduledProcedureStepID for a in answers}


def want(items: list[dict], **conditions: Any) -> set[str]:
    return {
        i[SPS][0]["ScheduledProcedureStepID"] for i in items if all(cond(i, i[SPS][0]) for cond in conditions.values())
    }


def test_default_statuses_offer_every_demo_step(sqlite_db: str, demo_items: list[dict], services: list) -> None:
    answers = find(make(services, sqlite_db))
    assert ids(answers) == want(demo_items)
    assert {sps(a).ScheduledProcedureStepStatus for a in answers} == {"SCHEDULED", "ARRIVED", "READY"}
    # The demo's unknown (NULL) statuses are answered as SCHEDULED.
    unknown = want(demo_items, null=lambda i, s: s["ScheduledProcedureStepStatus"] is None)
    assert unknown and all(sps(a).ScheduledProcedureStepStatus == "SCHEDULED" for a in answers if spsid(a) in unknown)


def spsid(answer: Dataset) -> str:
    return sps(answer).ScheduledProcedureStepID


def test_statuses_per_ae(sqlite_db: str, demo_items: list[dict], services: list) -> None:
    service = make(
        services, sqlite_db, Modalities={"STRICT": {"Statuses": ["SCHEDULED"]}, "LATE": {"Statuses": ["READY"]}}
    )
    scheduled = want(demo_items, s=lambda i, s: s["ScheduledProcedureStepStatus"] in ("SCHEDULED", None))
    assert ids(find(service, aet="STRICT")) == scheduled
    assert ids(find(service, aet="LATE")) == want(
        demo_items, s=lambda i, s: s["ScheduledProcedureStepStatus"] == "READY"
    )
    assert ids(find(service, aet="OTHER")) == want(demo_items)


@pytest.mark.parametrize(
    ("status", "matches"),
    [
        ("ARRIVED", ("ARRIVED",)),
        ("SCHEDULED", ("SCHEDULED", None)),
        ("READY", ("READY",)),
        ("*", ("SCHEDULED", "ARRIVED", "READY", None)),
    ],
)
def test_matching_on_status(
    sqlite_db: str, demo_items: list[dict], services: list, status: str, matches: tuple
) -> None:
    answers = find(make(services, sqlite_db), {"ScheduledProcedureStepStatus": status})
    assert ids(answers) == want(demo_items, s=lambda i, s: s["ScheduledProcedureStepStatus"] in matches)


def test_restrict_to_own_station(sqlite_db: str, demo_items: list[dict], services: list) -> None:
    service = make(services, sqlite_db, Modalities={"CR_ROOM2": {"RestrictToOwnStation": True}})
    own = find(service, aet="CR_ROOM2")
    assert ids(own) == want(demo_items, st=lambda i, s: s["ScheduledStationAETitle"] == "CR_ROOM2")
    named = find(service, {"ScheduledStationAETitle": "US_ROOM1"}, aet="CR_ROOM2")
    assert ids(named) == want(demo_items, st=lambda i, s: s["ScheduledStationAETitle"] == "US_ROOM1")
    assert ids(find(service, aet="DX_ROOM1")) == want(demo_items)  # not restricted


def test_modality_alias_answers_the_asked_modality(sqlite_db: str, demo_items: list[dict], services: list) -> None:
    service = make(services, sqlite_db, Modalities={"CR_ROOM2": {"ModalityAliases": {"DX": ["DX", "CR"]}}})
    answers = find(service, {"Modality": "DX"}, aet="CR_ROOM2")
    assert ids(answers) == want(demo_items, m=lambda i, s: s["Modality"] in ("DX", "CR"))
    assert {sps(a).Modality for a in answers} == {"DX"}
    assert ids(find(service, {"Modality": "DX"}, aet="DX_ROOM1")) == want(
        demo_items, m=lambda i, s: s["Modality"] == "DX"
    )
    plain_cr = find(service, {"Modality": "CR"}, aet="CR_ROOM2")
    assert {sps(a).Modality for a in plain_cr} == {"CR"}


def test_latin1_ae_gets_transliterated_iso_ir_100(sqlite_db: str, services: list) -> None:
    service = make(services, sqlite_db, Modalities={"OLD_CR": {"CharacterSet": "ISO_IR 100"}})
    latin1 = find(service, aet="OLD_CR", PatientName="Παπαδόπουλος*")
    assert latin1 and all(a.SpecificCharacterSet == "ISO_IR 100" for a in latin1)
    assert {str(a.PatientName) for a in latin1} == {"????????????^?????"}
    utf8 = find(service, aet="NEW_US", PatientName="Müller*")
    assert {(a.SpecificCharacterSet, str(a.PatientName)) for a in utf8} == {("ISO_IR 192", "Müller^Bello")}
    kept = find(service, aet="OLD_CR", PatientName="Müller*")
    assert {(a.SpecificCharacterSet, str(a.PatientName)) for a in kept} == {("ISO_IR 100", "Müller^Bello")}


def test_derived_study_uid_matches(sqlite_db: str, demo_items: list[dict], services: list) -> None:
    service = make(services, sqlite_db)
    order = demo_items[9]
    uid = derived_study_uid({**order, **order[SPS][0]})
    answers = find(service, StudyInstanceUID=uid)
    assert [a.AccessionNumber for a in answers] == [order["AccessionNumber"]]
    assert answers[0].StudyInstanceUID == uid
    other = demo_items[20]
    both = find(service, StudyInstanceUID=[uid, derived_study_uid({**other, **other[SPS][0]}), "1.2.3"])
    assert {a.AccessionNumber for a in both} == {order["AccessionNumber"], other["AccessionNumber"]}
    assert find(service, StudyInstanceUID="2.25.1") == []


@pytest.fixture
def bare_view(sqlite_db: str, tmp_path: Path) -> str:
    """A copy of the demo file with a view lacking Study Instance UID, status and the code columns."""
    source = Path(sqlite_db.split("Database=", 1)[1])
    copy = tmp_path / "bare.sqlite"
    shutil.copy(source, copy)
    kept = [c for c in reference_columns() if c not in ("StudyInstanceUID", "ScheduledProcedureStepStatus")]
    kept = [c for c in kept if "Code" not in c and "Registr" not in c and c != "AdditionalAttributes"]
    with sqlite3.connect(copy) as connection:
        connection.execute(f"CREATE VIEW bare AS SELECT {', '.join(kept)} FROM worklist")
    return f"Driver=SQLite3;Database={copy}"


def test_view_without_uid_and_status_columns(bare_view: str, demo_items: list[dict], services: list) -> None:
    """Every UID is then derived (and still matched), every status SCHEDULED, every code derived."""
    service = make(services, bare_view, View="bare")
    order = demo_items[3]
    uid = derived_study_uid({**order, **order[SPS][0]})
    answers = find(service, StudyInstanceUID=uid)
    assert [a.AccessionNumber for a in answers] == [order["AccessionNumber"]]
    assert {sps(a).ScheduledProcedureStepStatus for a in find(service)} == {"SCHEDULED"}
    assert len(find(service, {"ScheduledProcedureStepStatus": "SCHEDULED"})) == len(demo_items)
    assert find(service, {"ScheduledProcedureStepStatus": "ARRIVED"}) == []
    strict = make(services, bare_view, View="bare", Statuses=["ARRIVED"])
    assert find(strict) == []


def test_veterinary_code_sequences_from_the_demo(sqlite_db: str, demo_items: list[dict], services: list) -> None:
    service = make(services, sqlite_db)
    vet = {"PatientSpeciesCodeSequence": [], "PatientBreedCodeSequence": [], "BreedRegistrationSequence": []}
    rex = find(service, PatientName="Smith^Rex", **vet)[0]
    assert [(c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning) for c in rex.PatientSpeciesCodeSequence] == [
        ("448771007", "SCT", "Canis lupus familiaris")
    ]
    assert [c.CodeValue for c in rex.PatientBreedCodeSequence] == ["62137007"]  # Labrador, derived
    (registration,) = rex.BreedRegistrationSequence
    assert registration.BreedRegistrationNumber == "SR12345601"
    assert [(c.CodeValue, c.CodingSchemeDesignator) for c in registration.BreedRegistryCodeSequence] == [
        ("109200", "DCM")
    ]
    shiba = find(service, PatientName="山田^ポチ", **vet)[0]
    assert [c.CodeValue for c in shiba.PatientSpeciesCodeSequence] == ["448771007"]
    assert len(shiba.PatientBreedCodeSequence) == 0  # Shiba Inu: not in the table, present and empty
    assert len(shiba.BreedRegistrationSequence) == 0
    ferret = find(service, PatientName="Taylor^Bandit", **vet)[0]
    assert [c.CodeValue for c in ferret.PatientSpeciesCodeSequence] == ["449310008"]


def test_a_repeated_identifier_is_prepared_once(services: list[WorklistService], sqlite_db: str) -> None:
    """Polling modalities send the same identifier again: parsing, options and SQL are reused."""
    from vetmwl.service import identifier_bytes

    service = make(services, sqlite_db, Modalities={"DX_ROOM1": {"RestrictToOwnStation": True}})
    query = identifier(STEP_KEYS, PatientName="")
    first, second = file_bytes(query), file_bytes(query)  # two files: different meta, same dataset
    assert first != second or identifier_bytes(first) == identifier_bytes(second)
    assert identifier_bytes(first) == identifier_bytes(second) and len(identifier_bytes(first)) < len(first)
    prepared = service.plan(first, None)
    assert service.plan(second, None) is prepared
    own_station = service.plan(first, "DX_ROOM1")
    assert own_station is not prepared  # the calling AE's options are part of the key
    assert (
        "ScheduledStationAETitle" in own_station.sql and "ScheduledStationAETitle" not in prepared.sql.split("WHERE")[1]
    )
    everyone = service.find(first)
    mine = service.find(first, "DX_ROOM1")
    assert len(mine.answers) < len(everyone.answers)
    assert identifier_bytes(b"not a file") == b"not a file"


@pytest.fixture
def lower_case_view(sqlite_db: str, tmp_path: Path) -> str:
    """A copy of the demo file with a view whose columns are spelled in lower case."""
    source = Path(sqlite_db.split("Database=", 1)[1])
    copy = tmp_path / "lower.sqlite"
    shutil.copy(source, copy)
    columns = ", ".join(f"{c} AS {c.lower()}" for c in reference_columns())
    with sqlite3.connect(copy) as connection:
        connection.execute(f"CREATE VIEW lower_case AS SELECT {columns} FROM worklist")
    return f"Driver=SQLite3;Database={copy}"


def test_the_sql_names_columns_as_the_view_spells_them(
    lower_case_view: str, sqlite_db: str, demo_items: list[dict], services: list
) -> None:
    """SQL Server under a case-sensitive collation would refuse any other spelling (ORDER BY included)."""
    service = make(services, lower_case_view, View="lower_case")
    plan = service.plan(file_bytes(identifier(STEP_KEYS | {"Modality": "DX"}, PatientName="smith*")))
    assert "ORDER BY scheduledprocedurestepstartdatetime, scheduledprocedurestepid" in plan.sql
    assert not any(c in plan.sql for c in reference_columns() if c != c.lower())
    same = [spsid(a) for a in find(make(services, sqlite_db), {"Modality": "DX"}, PatientName="smith*")]
    assert [spsid(a) for a in find(service, {"Modality": "DX"}, PatientName="smith*")] == same != []


def test_an_attribute_with_its_own_column_never_selects_the_catch_all(sqlite_db: str, services: list) -> None:
    """The catch-all's JSON is read (and hashed into the answer cache's key) only for what needs it."""
    service = make(services, sqlite_db)
    only_name = service.plan(file_bytes(identifier(None, PatientName="")))
    assert "AdditionalAttributes" not in only_name.sql
    assert only_name.encoder.columns == ("PatientName",)
    with_sequence = service.plan(file_bytes(identifier(None, PatientName="", ReferencedStudySequence=[])))
    assert "AdditionalAttributes" not in with_sequence.sql
    elsewhere = service.plan(file_bytes(identifier(None, PatientName="", PatientAge="")))
    assert "AdditionalAttributes" in elsewhere.sql  # PatientAge has no column: the catch-all holds it


def test_python_checks_stop_at_the_query_timeout_naming_the_key() -> None:
    """No C-FIND holds the worklist past QueryTimeout, in SQL or in Python's own checks of the rows."""
    from vetmwl.errors import CheckTimeout, DatabaseError
    from vetmwl.service import Check, _checked

    def slow(value: object) -> bool:
        time.sleep(0.01)
        return True

    rows = [("a",)] * 1000
    check = Check("MedicalAlerts", lambda row: row[0], slow)
    with pytest.raises(CheckTimeout, match=r"QueryTimeout.*MedicalAlerts") as caught:
        _checked(rows, (check,), time.perf_counter() + 0.05, 5)
    assert isinstance(caught.value, DatabaseError) and caught.value.timeout  # a failure status, not a crash
    assert _checked(rows[:3], (check,), time.perf_counter() + 60, 5) == rows[:3]
