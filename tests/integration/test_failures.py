"""What a modality and the log see when the database or the configuration is wrong."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from conftest import plugin_settings
from support.clients import echo, findscu, pynetdicom_find
from support.servers import OrthancServer, PostgresServer, free_port


def broad_query(modality: str = "DX") -> Dataset:
    ds = Dataset()
    ds.PatientName = ""
    ds.PatientID = ""
    sps = Dataset()
    sps.Modality = modality
    sps.ScheduledProcedureStepStartDate = ""
    ds.ScheduledProcedureStepSequence = [sps]
    return ds


def is_failure(status: int | None) -> bool:
    return status is not None and 0xC000 <= status <= 0xCFFF


@pytest.fixture
def own_postgres(demo_file: Path):
    """A PostgreSQL server for this test alone, since the test stops and restarts it."""
    from vetmwl import importer

    server = PostgresServer().init()
    server.start()
    server.psql("CREATE DATABASE worklist")
    connection = server.connection_string("worklist")
    assert (
        importer.main(["--dialect", "postgresql", "--connection", connection, "--create-schema", str(demo_file)]) == 0
    )
    try:
        yield server
    finally:
        server.destroy()


def test_postgres_outage_fails_fast_and_recovers_without_restart(own_postgres: PostgresServer, tmp_path) -> None:
    settings = plugin_settings(own_postgres.connection_string("worklist"), "postgresql")
    orthanc = OrthancServer(tmp_path, settings).start()
    try:
        before = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert before.final_status == 0 and len(before.answers) == 30

        own_postgres.stop()
        started = time.monotonic()
        during = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert time.monotonic() - started < 5
        assert is_failure(during.final_status) and during.answers == []
        also = findscu(orthanc.dicom_port, ["PatientName=", "ScheduledProcedureStepSequence[0].Modality=DX"])
        assert also.final_status == -1 and "Failed" in also.output
        assert orthanc.alive() and echo(orthanc.dicom_port) == 0
        assert "the database server cannot be reached" in orthanc.log()

        own_postgres.start()
        after = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert after.final_status == 0 and len(after.answers) == 30
    finally:
        orthanc.stop()


def test_postgres_restart_between_queries_is_invisible(own_postgres: PostgresServer, tmp_path) -> None:
    """A connection the server dropped while idle is replaced on the same query."""
    settings = plugin_settings(own_postgres.connection_string("worklist"), "postgresql")
    orthanc = OrthancServer(tmp_path, settings).start()
    try:
        assert pynetdicom_find(orthanc.dicom_port, broad_query()).final_status == 0
        own_postgres.stop()
        own_postgres.start()
        result = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert result.final_status == 0 and len(result.answers) == 30
        assert "reconnecting and retrying once" in orthanc.log()
    finally:
        orthanc.stop()


def test_database_down_at_startup(tmp_path) -> None:
    dead = f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={free_port()};Database=x;Uid=u;Pwd=secret;"
    orthanc = OrthancServer(tmp_path, plugin_settings(dead, "postgresql")).start()
    try:
        result = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert is_failure(result.final_status)
        log = orthanc.log()
        assert "the worklist database is not usable yet" in log
        assert "the database server cannot be reached" in log
        assert "secret" not in log and "Pwd=***" in log
    finally:
        orthanc.stop()


def test_slow_query_hits_the_timeout_and_frees_orthanc(own_postgres: PostgresServer, tmp_path) -> None:
    own_postgres.psql(
        "CREATE VIEW slow_worklist AS SELECT w.* FROM worklist w, (SELECT pg_sleep(10)) s",
        database="worklist",
    )
    settings = plugin_settings(
        own_postgres.connection_string("worklist"), "postgresql", View="slow_worklist", QueryTimeout=1
    )
    orthanc = OrthancServer(tmp_path, settings).start()
    try:
        started = time.monotonic()
        result = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert time.monotonic() - started < 4
        assert is_failure(result.final_status)
        assert "took longer than SqlWorklist.QueryTimeout" in orthanc.log()
    finally:
        orthanc.stop()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (None, 'orthanc.json has no "SqlWorklist" section'),
        ({"ConnectionString": "Driver=SQLite3;Database=x", "Dialect": "oracle"}, '"SqlWorklist.Dialect" must be'),
        ({"ConnectionString": "Driver=SQLite3;Database=x", "Dialect": "sqlite", "Colour": 1}, "unknown setting"),
        (
            {"ConnectionString": "Driver=SQLite3;Database=x", "Dialect": "sqlite", "View": "w; DROP TABLE w"},
            '"SqlWorklist.View" must be',
        ),
    ],
)
def test_broken_configuration_keeps_orthanc_running(settings, message, tmp_path) -> None:
    orthanc = OrthancServer(tmp_path, settings).start()
    try:
        result = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert is_failure(result.final_status)
        assert message in orthanc.log()
        assert orthanc.alive() and echo(orthanc.dicom_port) == 0
    finally:
        orthanc.stop()


def test_view_missing_a_required_column(sqlite_db: str, tmp_path) -> None:
    import pyodbc

    connection = pyodbc.connect(sqlite_db, autocommit=True)
    connection.execute(
        "CREATE VIEW IF NOT EXISTS nameless AS SELECT ScheduledProcedureStepID, "
        "ScheduledProcedureStepStartDateTime, Modality, PatientID FROM worklist"
    )
    connection.close()
    orthanc = OrthancServer(tmp_path, plugin_settings(sqlite_db, "sqlite", View="nameless")).start()
    try:
        result = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert is_failure(result.final_status)
        assert "lacks the required column(s) PatientName" in orthanc.log()
    finally:
        orthanc.stop()


def test_answer_limit_returns_exactly_that_many(sqlite_db: str, tmp_path) -> None:
    orthanc = OrthancServer(tmp_path, plugin_settings(sqlite_db, "sqlite", LimitAnswers=3)).start()
    try:
        result = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert len(result.answers) == 3
        # Orthanc reports an incomplete answer set with the final status FE00 (matching terminated).
        assert result.statuses == [0xFF00, 0xFF00, 0xFF00, 0xFE00]
        assert "limit reached, marked incomplete" in orthanc.log()
    finally:
        orthanc.stop()
