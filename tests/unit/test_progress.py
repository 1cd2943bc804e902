"""The state store of performed steps: its rule for naming scheduled steps, its SQL in every
dialect, and the store itself on a real SQLite file (PostgreSQL's is in the integration tests)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from support.sql_check import check_sql
from support.stores import sqlite_store
from vetmwl import sqlitefile
from vetmwl.config import sql_dir
from vetmwl.db import Database
from vetmwl.dialects import DIALECTS as FACTS
from vetmwl.errors import DatabaseError, InternalError
from vetmwl.progress import (
    COMPLETED,
    DISCONTINUED,
    IN_PROGRESS,
    MPPS,
    STUDY,
    VOIDED,
    DuplicateStep,
    FinalStep,
    PerformedStep,
    ProgressStore,
    Reference,
    State,
    StepKeys,
    UnknownStep,
    names,
    status_of,
)

DIALECTS = ("sqlite", "postgresql", "mssql", "mariadb")
BOTH = ("StudyInstanceUID", "AccessionNumber")
STEP = StepKeys(sps_id="SPS1", accession_number="ACC1", study_instance_uid="1.2.9")


@pytest.mark.parametrize(
    ("reference", "match_on", "expected"),
    [
        (Reference(study_instance_uid="1.2.9"), BOTH, True),
        (Reference(accession_number="ACC1"), BOTH, True),
        (Reference(accession_number="ACC1", study_instance_uid="9.9"), BOTH, True),  # the device made its own UID
        (Reference(accession_number="ACC1", study_instance_uid="9.9"), ("StudyInstanceUID",), False),
        (Reference(study_instance_uid="1.2.9"), ("AccessionNumber",), False),
        (Reference(sps_id="SPS1", study_instance_uid="1.2.9"), BOTH, True),
        (Reference(sps_id="SPS2", study_instance_uid="1.2.9"), BOTH, False),  # another step of that study
        (Reference(sps_id="SPS1"), BOTH, False),  # an SPS ID alone is not unique enough
        (Reference(), BOTH, False),  # an unscheduled exam names no step
    ],
)
def test_a_reference_names_a_step_by_a_matchon_key_and_its_sps_id(
    reference: Reference, match_on: tuple[str, ...], expected: bool
) -> None:
    assert names(reference, STEP, match_on) is expected


def test_an_empty_key_never_matches_an_empty_key() -> None:
    assert not names(Reference(sps_id="SPS1"), StepKeys("SPS1", "", ""), BOTH)


def test_the_state_that_changed_last_wins() -> None:
    states = [
        State(Reference(study_instance_uid="1.2.9"), IN_PROGRESS, 10, "a"),
        State(Reference(accession_number="ACC1"), COMPLETED, 30, "study:1.2.9"),
        State(Reference(study_instance_uid="1.2.9"), DISCONTINUED, 20, "b"),
        State(Reference(study_instance_uid="7.7"), IN_PROGRESS, 99, "c"),  # another step
    ]
    assert status_of(STEP, states, BOTH) == COMPLETED
    assert status_of(STEP, states[:1] + states[2:], BOTH) == DISCONTINUED
    assert status_of(StepKeys("X", "", "5.5"), states, BOTH) is None


# -- the SQL -------------------------------------------------------------------------------------------
def store_for(dialect: str, database: Database | None = None) -> ProgressStore:
    return ProgressStore(database or Database("unused", 5, 5), dialect, sql_dir() / "progress", BOTH, "test")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_schema_parses_in_every_dialect(dialect: str) -> None:
    statements = store_for(dialect).schema_statements()
    assert len(statements) == 8
    for statement in statements:
        check_sql(statement, dialect)


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("sqlite", []),
        ("postgresql", ["SET statement_timeout = 5000"]),
        ("mssql", ["SET LOCK_TIMEOUT 5000"]),
        ("mariadb", ["SET SESSION max_statement_time = 7"]),
    ],
)
def test_the_stores_session_sets_a_server_timeout_and_allows_writing(dialect: str, expected: list[str]) -> None:
    """Unlike the worklist's session, which makes its transactions read-only."""
    facts = FACTS[dialect]
    statements = facts.session(facts.store_session, 5)
    assert statements == expected
    for statement in statements:
        check_sql(statement, dialect)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_statements_parse_and_bind_every_value(dialect: str) -> None:
    s = store_for(dialect)
    markers = {
        s._statement("insert_step"): 13,
        s._statement("update_step"): 6,
        s._statement("refresh_study"): 3,
        s._statement("insert_reference"): 5,
        s._statement("insert_event"): 6,
        s._statement("select_step"): 1,
        s._statement("recent_steps", 50): 0,
        s._statement("references_of", 3): 3,
        s._statement("events_of", 2): 2,
        s._statement("states_of", [("study_instance_uid", 4)]): 5,
        s._statement("states_of", [("study_instance_uid", 2), ("accession_number", 3)]): 6,
        s._statement("void_step"): 4,
        s._statement("expired_steps", 100): 1,
        s._statement("delete_steps", 3): 4,
        s._statement("delete_orphans", "vetmwl_step_reference", 3): 3,
        s._statement("delete_orphans", "vetmwl_step_event", 2): 2,
    }
    for sql, count in markers.items():
        assert sql.count("?") == count, sql
        check_sql(sql, dialect)


def test_sql_server_reads_the_newest_with_top() -> None:
    sql = store_for("mssql")._statement("recent_steps", 50)
    (select,) = check_sql(sql, "mssql")
    assert sql.startswith("SELECT TOP (50) ") and select.args["limit"].expression.this == "50"


# -- the store, on a real SQLite file ------------------------------------------------------------------
def mpps(uid: str = "1.2.3", *references: Reference) -> PerformedStep:
    return PerformedStep(uid, MPPS, IN_PROGRESS, calling_aet="DX_ROOM1", station_aet="DX_ROOM1", references=references)


def test_a_session_is_recorded_with_its_history(store: ProgressStore) -> None:
    store.create(mpps("1.2.3", Reference("SPS1", "ACC1", "1.2.9", "RP1")), "N-CREATE from DX_ROOM1")
    assert store.states([STEP])[0].status == IN_PROGRESS
    store.update("1.2.3", COMPLETED, "20260105093000", '{"x": 1}', "DX_ROOM1", "N-SET from DX_ROOM1")
    step = store.get("1.2.3")
    assert step is not None
    assert (step.status, step.ended, step.attributes, step.recorded_by) == (
        COMPLETED,
        "20260105093000",
        '{"x": 1}',
        "test",
    )
    assert step.references == (Reference("SPS1", "ACC1", "1.2.9", "RP1"),)
    assert [(e.event, e.status) for e in step.events] == [("N-CREATE", IN_PROGRESS), ("N-SET", COMPLETED)]
    assert step.created_us < step.updated_us
    assert status_of(STEP, store.states([STEP]), BOTH) == COMPLETED


def test_duplicates_unknown_and_final_steps_are_refused_and_change_nothing(store: ProgressStore) -> None:
    store.create(mpps("1.2.3", Reference(study_instance_uid="1.2.9")), "first")
    with pytest.raises(DuplicateStep):
        store.create(mpps("1.2.3", Reference(study_instance_uid="5.5")), "again")
    with pytest.raises(UnknownStep):
        store.update("9.9.9", COMPLETED, "", "{}", "DX_ROOM1", "unknown")
    store.update("1.2.3", DISCONTINUED, "", "{}", "DX_ROOM1", "stopped")
    with pytest.raises(FinalStep) as final:
        store.update("1.2.3", COMPLETED, "", "{}", "DX_ROOM1", "too late")
    assert final.value.status == DISCONTINUED
    (step,) = store.recent()
    assert step.status == DISCONTINUED and len(step.references) == 1 and len(step.events) == 2


def test_an_n_set_whose_history_cannot_be_written_changes_nothing(store: ProgressStore) -> None:
    """The status and its event are one transaction: a modality told "failed" may send it again."""
    store.create(mpps("1.2.3"), "first")
    store.database.transaction([("ALTER TABLE vetmwl_step_event RENAME TO moved_away", ())])
    with pytest.raises((DatabaseError, InternalError)):
        store.update("1.2.3", COMPLETED, "", "{}", "DX_ROOM1", "finished")
    status = store.database.fetch("SELECT step_status FROM vetmwl_performed_step WHERE step_uid = ?", ("1.2.3",))
    assert status.rows[0][0] == IN_PROGRESS
    store.database.transaction([("ALTER TABLE moved_away RENAME TO vetmwl_step_event", ())])
    store.update("1.2.3", COMPLETED, "", "{}", "DX_ROOM1", "finished, sent again")
    step = store.get("1.2.3")
    assert step is not None and step.status == COMPLETED
    assert [e.detail for e in step.events] == ["first", "finished, sent again"]


def test_a_long_orthanc_name_is_cut_to_its_column(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path / "progress.sqlite", recorded_by="Orthanc of the clinic " * 5)
    store.create(mpps("1.2.3"), "first")
    step = store.get("1.2.3")
    assert step is not None and step.recorded_by == ("Orthanc of the clinic " * 5)[:64]
    store.database.close()


def test_a_study_arriving_twice_is_one_performed_step(store: ProgressStore) -> None:
    study = PerformedStep("study:1.2.9", STUDY, COMPLETED, references=(Reference("", "ACC1", "1.2.9"),))
    assert store.study_arrived(study, "new study") is True
    assert store.study_arrived(study, "stable study") is False
    (step,) = store.recent()
    assert [e.detail for e in step.events] == ["new study", "stable study"]
    assert status_of(STEP, store.states([STEP]), BOTH) == COMPLETED


def test_an_unscheduled_exam_is_kept(store: ProgressStore) -> None:
    store.create(mpps("4.5.6"), "no scheduled step")
    assert store.get("4.5.6") is not None
    assert store.states([STEP]) == []


def test_states_are_asked_in_batches(store: ProgressStore) -> None:
    steps = [StepKeys(f"SPS{n}", f"ACC{n}", f"1.2.{n}") for n in range(1200)]
    store.create(mpps("7.7", Reference(study_instance_uid="1.2.1199")), "the last one")
    (state,) = store.states(steps)
    assert state.step_uid == "7.7"


def test_the_state_survives_a_new_connection(store: ProgressStore, tmp_path: Path) -> None:
    store.create(mpps("1.2.3", Reference(study_instance_uid="1.2.9")), "before the restart")
    store.database.close()
    again = store_for("sqlite", Database(str(tmp_path / "state" / "progress.sqlite"), 5, 5, connect=sqlitefile.connect))
    assert again.get("1.2.3") is not None


def test_an_insert_sent_again_after_its_commit_is_not_a_duplicate(store: ProgressStore) -> None:
    """A connection lost after the commit makes the database layer send the transaction again."""
    real = store.database.transaction

    def committed_then_lost(statements: Any, only_if_first_changes: bool = False) -> list[int]:
        real(statements, only_if_first_changes)  # committed; the answer is lost, so it is sent again
        return real(statements, only_if_first_changes)

    store.database.transaction = committed_then_lost  # type: ignore[method-assign]
    created = store.create(mpps("1.2.3"), "first")
    assert created.uid == "1.2.3"
    with pytest.raises(DuplicateStep):
        store.create(mpps("1.2.3"), "a second N-CREATE of the same instance")


def test_the_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """It holds names and accession numbers: 0600 whatever the umask, its -wal and -shm alike."""
    old = os.umask(0o022)
    try:
        store = sqlite_store(tmp_path / "state" / "progress.sqlite")
        store.create(mpps("1.2.3"), "one")
    finally:
        os.umask(old)
    files = sorted((tmp_path / "state").iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files), files
    store.database.close()


def test_a_looser_sqlite_file_made_before_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "progress.sqlite"
    path.touch(mode=0o644)
    path.chmod(0o644)
    sqlitefile.connect(str(path)).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def study(uid: str, accession: str) -> PerformedStep:
    return PerformedStep(f"study:{uid}", STUDY, COMPLETED, references=(Reference("", accession, uid),))


def test_a_voided_step_no_longer_names_its_scheduled_step(store: ProgressStore) -> None:
    store.create(mpps("1.2.3", Reference("SPS1", "ACC1", "1.2.9")), "N-CREATE from an intruder")
    store.study_arrived(study("1.2.9", "ACC1"), "arrived")
    assert status_of(STEP, store.states([STEP]), BOTH) == COMPLETED
    assert store.void("study:1.2.9", "admin", "voided over REST by admin: wrong patient")
    assert status_of(STEP, store.states([STEP]), BOTH) == IN_PROGRESS  # the MPPS still counts
    assert store.void("1.2.3", "vetmwl.tools", "voided from the command line")
    assert store.states([STEP]) == []  # back on the worklist
    voided = store.get("1.2.3")
    assert voided is not None and voided.status == VOIDED
    assert [(e.event, e.status, e.calling_aet) for e in voided.events] == [
        ("N-CREATE", IN_PROGRESS, "DX_ROOM1"),
        ("VOID", VOIDED, "vetmwl.tools"),
    ]
    assert voided.references  # kept, with the history


def test_voiding_twice_or_an_unknown_step(store: ProgressStore) -> None:
    store.create(mpps("1.2.3"), "N-CREATE")
    assert store.void("1.2.3", "admin", "once")
    assert not store.void("1.2.3", "admin", "twice")
    step = store.get("1.2.3")
    assert step is not None and [e.event for e in step.events] == ["N-CREATE", "VOID"]  # no second event
    with pytest.raises(UnknownStep):
        store.void("9.9.9", "admin", "nothing")


def test_an_n_set_after_a_void_is_refused_and_changes_nothing(store: ProgressStore) -> None:
    store.create(mpps("1.2.3", Reference("SPS1", "ACC1", "1.2.9")), "N-CREATE")
    store.void("1.2.3", "admin", "a wrongly hidden step")
    with pytest.raises(FinalStep) as refused:
        store.update("1.2.3", COMPLETED, "", "{}", "DX_ROOM1", "N-SET")
    assert refused.value.status == VOIDED
    assert store.states([STEP]) == []


def test_a_voided_study_stays_voided_when_more_images_arrive(store: ProgressStore) -> None:
    store.study_arrived(study("1.2.9", "ACC1"), "arrived")
    store.void("study:1.2.9", "admin", "not this patient's")
    assert not store.study_arrived(study("1.2.9", "ACC1"), "a new series")
    assert store.states([STEP]) == []


def test_retention_removes_only_what_is_old_in_bounded_batches(store: ProgressStore) -> None:
    for n in range(7):
        store.create(mpps(f"1.2.{n}", Reference(f"SPS{n}", f"ACC{n}", f"1.9.{n}")), "N-CREATE")
    old = [store.get(f"1.2.{n}") for n in range(7)]
    assert all(s is not None for s in old)
    cutoff = old[5].updated_us  # type: ignore[union-attr]
    store.update("1.2.0", COMPLETED, "", "{}", "DX_ROOM1", "N-SET: changed since, so kept")
    assert store.purge(cutoff, batch=2) == 2  # 1.2.1 and 1.2.2, the oldest
    assert store.purge(cutoff, batch=2) == 2  # 1.2.3 and 1.2.4
    assert store.purge(cutoff, batch=2) == 0
    kept = {s.uid for s in store.recent()}
    assert kept == {"1.2.0", "1.2.5", "1.2.6"}
    rows = store.database.fetch(
        "SELECT step_uid FROM vetmwl_step_reference UNION ALL SELECT step_uid FROM vetmwl_step_event"
    )
    assert {r[0] for r in rows.rows} == kept  # no reference or event of a deleted step is left


def test_a_step_changed_between_the_selection_and_the_delete_is_kept(store: ProgressStore) -> None:
    store.create(mpps("1.2.3", Reference("SPS1", "ACC1", "1.2.9")), "N-CREATE")
    cutoff = store.clock()
    real = store.database.fetch

    def then_changed(sql: str, params: Any = (), max_rows: Any = None) -> Any:
        found = real(sql, params, max_rows)
        if "ORDER BY updated_us" in sql and "step_uid FROM" in sql:
            store.update("1.2.3", COMPLETED, "", "{}", "DX_ROOM1", "N-SET meanwhile")
        return found

    store.database.fetch = then_changed  # type: ignore[method-assign]
    assert store.purge(cutoff) == 0
    store.database.fetch = real  # type: ignore[method-assign]
    step = store.get("1.2.3")
    assert step is not None and step.references and [e.event for e in step.events] == ["N-CREATE", "N-SET"]
