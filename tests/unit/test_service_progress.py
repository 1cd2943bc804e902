"""The worklist follows the performed steps: a step our store says is IN PROGRESS, COMPLETED or
DISCONTINUED leaves the default answers, an AE may ask to see it with its status, and the answer
limit and order stay exact. Over the demo SQLite file (ODBC) and a real SQLite state store."""

from __future__ import annotations

import time
from io import BytesIO
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from support.identifier_files import identifier
from vetmwl.config import load_settings, sql_dir
from vetmwl.db import Database
from vetmwl.errors import DatabaseError, InternalError
from vetmwl.progress import (
    COMPLETED,
    DISCONTINUED,
    IN_PROGRESS,
    MPPS,
    STUDY,
    PerformedStep,
    ProgressStore,
    Reference,
)
from vetmwl.service import STORE_PAUSE, WorklistService
from vetmwl.web.identifiers import file_bytes

SPS = "ScheduledProcedureStepSequence"
MATCH_ON = ("StudyInstanceUID", "AccessionNumber")


def make(services: list, connection: str, store: ProgressStore | None, **section: Any) -> WorklistService:
    settings = load_settings({"SqlWorklist": {"ConnectionString": connection, "Dialect": "sqlite", **section}})
    service = WorklistService(settings, progress=store)
    services.append(service)
    return service


def find(service: WorklistService, aet: str | None = None, **step: Any) -> tuple[list[Dataset], bool]:
    keys = {"Modality": "DX", "ScheduledProcedureStepID": "", "ScheduledProcedureStepStatus": ""} | step
    root = {"PatientName": "", "StudyInstanceUID": "", "AccessionNumber": ""}
    result = service.find(file_bytes(identifier(keys, **root)), aet)
    return [pydicom.dcmread(BytesIO(a), force=True) for a in result.answers], result.incomplete


def spsids(answers: list[Dataset]) -> list[str]:
    return [a[SPS][0].ScheduledProcedureStepID for a in answers]


def status(answers: list[Dataset], spsid: str) -> str:
    (answer,) = [a for a in answers if a[SPS][0].ScheduledProcedureStepID == spsid]
    return answer[SPS][0].ScheduledProcedureStepStatus


def performed(uid: str, answer: Dataset, status: str = IN_PROGRESS, kind: str = MPPS) -> PerformedStep:
    reference = Reference(answer[SPS][0].ScheduledProcedureStepID, answer.AccessionNumber, answer.StudyInstanceUID)
    return PerformedStep(uid, kind, status, calling_aet="DX_ROOM1", references=(reference,))


def test_performed_steps_leave_the_default_answers(sqlite_db: str, store: ProgressStore, services: list) -> None:
    service = make(services, sqlite_db, store)
    before, _ = find(service)
    first, second, third = before[:3]
    store.create(performed("1.1", first), "N-CREATE")
    store.create(performed("1.2", second), "N-CREATE")
    store.update("1.2", COMPLETED, "", "{}", "DX_ROOM1", "N-SET")
    study = PerformedStep(
        "study:" + third.StudyInstanceUID, STUDY, COMPLETED, references=(performed("x", third).references)
    )
    store.study_arrived(study, "arrived")
    after, _ = find(service)
    assert spsids(after) == [s for s in spsids(before) if s not in spsids([first, second, third])]


def test_an_ae_that_asks_for_them_sees_them_with_their_status(
    sqlite_db: str, store: ProgressStore, services: list
) -> None:
    statuses = ["SCHEDULED", "ARRIVED", "READY", "IN PROGRESS", "COMPLETED", "DISCONTINUED"]
    service = make(services, sqlite_db, store, Modalities={"DESK": {"Statuses": statuses}})
    before, _ = find(service, aet="DESK")
    first, second = before[:2]
    store.create(performed("2.1", first), "N-CREATE")
    store.create(performed("2.2", second), "N-CREATE")
    store.update("2.2", DISCONTINUED, "", "{}", "DX_ROOM1", "N-SET")
    after, _ = find(service, aet="DESK")
    assert spsids(after) == spsids(before)
    assert status(after, spsids([first])[0]) == IN_PROGRESS
    assert status(after, spsids([second])[0]) == DISCONTINUED
    # A query that names a status gets the steps whose status, as answered, is that one.
    (only,), _ = find(service, aet="DESK", ScheduledProcedureStepStatus="IN PROGRESS")
    assert spsids([only]) == spsids([first])
    assert find(service, ScheduledProcedureStepStatus="DISCONTINUED")[0][0][SPS][0].ScheduledProcedureStepStatus == (
        DISCONTINUED
    )


def test_the_limit_and_the_order_stay_exact(sqlite_db: str, store: ProgressStore, services: list) -> None:
    everything, _ = find(make(services, sqlite_db, None))
    assert len(everything) == 30  # the demo's DX steps
    service = make(services, sqlite_db, store, LimitAnswers=4)
    for n, answer in enumerate(everything[:10]):  # the first ten leave, so the first read of 5 rows finds none
        store.create(performed(f"3.{n}", answer), "N-CREATE")
    limited, incomplete = find(service)
    assert spsids(limited) == spsids(everything[10:14]) and incomplete
    service = make(services, sqlite_db, store, LimitAnswers=20)
    (rest, incomplete) = find(service)
    assert spsids(rest) == spsids(everything[10:]) and not incomplete


def test_without_a_store_nothing_changes(sqlite_db: str, services: list) -> None:
    service = make(services, sqlite_db, None)
    answers, _ = find(service)
    assert {a[SPS][0].ScheduledProcedureStepStatus for a in answers} <= {"SCHEDULED", "ARRIVED", "READY"}


def test_a_store_that_cannot_be_read_leaves_the_worklist_working(
    sqlite_db: str, store: ProgressStore, services: list, caplog: pytest.LogCaptureFixture
) -> None:
    broken = ProgressStore(Database("Driver=NoSuchDriver", 2, 2), "postgresql", sql_dir() / "progress", MATCH_ON)
    expected, _ = find(make(services, sqlite_db, None))
    service = make(services, sqlite_db, broken)
    assert spsids(find(service)[0]) == spsids(expected)
    assert spsids(find(service)[0]) == spsids(expected)
    assert "ODBC driver" in service.progress_error
    warned = [r for r in caplog.records if "state store cannot be read" in r.getMessage()]
    assert len(warned) == 1  # once per outage, not once per query


@pytest.mark.parametrize("failure", [InternalError("a broken template"), ValueError("invalid literal for int()")])
def test_a_store_that_fails_in_any_way_leaves_the_worklist_working(
    sqlite_db: str,
    store: ProgressStore,
    services: list,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
) -> None:
    """Not only a database error: an internal error, or a row the store cannot read, answers from the view."""

    def states(keys: object, **_: object) -> None:
        raise failure

    monkeypatch.setattr(store, "states", states)
    expected, _ = find(make(services, sqlite_db, None))
    service = make(services, sqlite_db, store)
    assert spsids(find(service)[0]) == spsids(expected)
    assert spsids(find(service)[0]) == spsids(expected)
    assert service.progress_error == str(failure)
    warned = [r for r in caplog.records if "state store cannot be read" in r.getMessage()]
    assert len(warned) == 1


def test_a_failed_store_is_asked_again_only_after_a_pause(
    sqlite_db: str, store: ProgressStore, services: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that hangs costs one slow C-FIND per pause, not every C-FIND (under Orthanc's lock)."""
    asked: list[float] = []
    real = store.states
    now = [1000.0]

    def failing(keys: Any, **_: Any) -> Any:
        asked.append(now[0])
        raise DatabaseError("the state store did not answer within 6 seconds", "HYT00", timeout=True)

    monkeypatch.setattr(store, "states", failing)
    service = make(services, sqlite_db, store)
    service.clock = lambda: now[0]
    find(service)
    now[0] += STORE_PAUSE - 1
    find(service)
    assert asked == [1000.0] and service.progress_error  # answered from the view without asking
    monkeypatch.setattr(store, "states", real)
    now[0] += 2
    find(service)
    assert service.progress_error == ""  # asked again after the pause, and it answers


def test_reading_further_waits_only_for_what_is_left_of_the_query_timeout(
    sqlite_db: str, store: ProgressStore, services: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The states turn the first rows down and the service reads further: each read after the first
    may take only what is left of the C-FIND's QueryTimeout, so the reads together stay within it."""
    everything, _ = find(make(services, sqlite_db, None))
    service = make(services, sqlite_db, store, LimitAnswers=4)
    for n, answer in enumerate(everything[:10]):
        store.create(performed(f"4.{n}", answer), "N-CREATE")
    service.view()  # the view's columns are read first, with the usual deadline
    waits: list[float | None] = []
    fetch = service.database.fetch

    def spy(sql: str, params: Any = (), max_rows: Any = None, seconds: float | None = None) -> Any:
        waits.append(seconds)
        return fetch(sql, params, max_rows, seconds)

    monkeypatch.setattr(service.database, "fetch", spy)
    found, _ = find(service)
    assert spsids(found) == spsids(everything[10:14])
    first, *further = waits
    assert first is None and further  # the first read has the usual deadline; then what is left
    assert all(0 < w <= 5 for w in further) and further == sorted(further, reverse=True)


def test_a_read_stops_when_its_time_is_up(sqlite_db: str) -> None:
    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000000) SELECT count(*) FROM c"
    database = Database(sqlite_db, 5, 5)
    try:
        started = time.perf_counter()
        with pytest.raises(DatabaseError) as error:
            database.fetch(slow, seconds=0.5)
        assert error.value.timeout and time.perf_counter() - started < 2
    finally:
        database.close()


def test_a_read_further_that_runs_out_of_time_answers_what_was_found(
    sqlite_db: str, store: ProgressStore, services: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first read found rows; a read further past QueryTimeout does not fail the C-FIND."""
    everything, _ = find(make(services, sqlite_db, None))
    service = make(services, sqlite_db, store, LimitAnswers=4)
    for n, answer in enumerate(everything[:3]):  # three of the first five leave: two remain, fewer than 4
        store.create(performed(f"5.{n}", answer), "N-CREATE")
    service.view()
    fetch = service.database.fetch

    def timing_out(sql: str, params: Any = (), max_rows: Any = None, seconds: float | None = None) -> Any:
        if seconds is not None:
            raise DatabaseError("the database did not answer within 1.2 seconds", "HYT00", timeout=True)
        return fetch(sql, params, max_rows)

    monkeypatch.setattr(service.database, "fetch", timing_out)
    found, incomplete = find(service)
    assert spsids(found) == spsids(everything[3:5]) and incomplete


def test_a_store_that_takes_all_the_time_answers_from_the_view(
    sqlite_db: str, store: ProgressStore, services: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state store's reads stop short of QueryTimeout, leaving time to check and send the view's rows."""
    everything, _ = find(make(services, sqlite_db, None))
    service = make(services, sqlite_db, store, QueryTimeout=2)
    states = store.states

    def slow(keys: Any, **options: Any) -> Any:
        time.sleep(1.7)  # past the store's share (1.6 s of 2 s), not past the C-FIND's
        return states(keys, **options)

    monkeypatch.setattr(store, "states", slow)
    found, _ = find(service)
    assert spsids(found) == spsids(everything) and "QueryTimeout" in service.progress_error
