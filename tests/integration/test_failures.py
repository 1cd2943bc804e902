"""What a modality and the log see when the database or the configuration is wrong."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import plugin_settings
from support.clients import broad_query, echo, findscu, is_failure, pynetdicom_find
from support.servers import REPO, OrthancServer, PostgresServer, free_port


@pytest.fixture
def own_postgres(demo_file: Path):
    """A PostgreSQL server for this test alone, since the test stops and restarts it."""
    from vetmwl.tools import importer

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


def _cluster_pids(server: PostgresServer) -> list[int]:
    """The postmaster and all its children: freezing them all is a frozen database server."""
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True)
    return [postmaster, *(int(p) for p in children.stdout.split())]


def test_frozen_database_times_out_and_recovers(own_postgres: PostgresServer, tmp_path) -> None:
    """SIGSTOP: the server accepts nothing and answers nothing; only our deadline can free the lock."""
    settings = plugin_settings(
        own_postgres.connection_string("worklist"), "postgresql", QueryTimeout=2, ConnectTimeout=2
    )
    orthanc = OrthancServer(tmp_path, settings).start()
    pids = _cluster_pids(own_postgres)
    try:
        assert pynetdicom_find(orthanc.dicom_port, broad_query()).final_status == 0
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        frozen = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert time.monotonic() - started < 5
        assert is_failure(frozen.final_status)
        assert echo(orthanc.dicom_port) == 0  # Orthanc itself is not held up
        again = pynetdicom_find(orthanc.dicom_port, broad_query())  # a new connection, also frozen
        assert is_failure(again.final_status)
        assert "did not answer within" in orthanc.log()
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    try:
        recovered = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert recovered.final_status == 0 and len(recovered.answers) == 30
    finally:
        orthanc.stop()


def test_connection_killed_mid_query(own_postgres: PostgresServer, tmp_path) -> None:
    own_postgres.psql(
        "CREATE VIEW sleepy AS WITH s AS MATERIALIZED (SELECT pg_sleep(2)) SELECT w.* FROM worklist w, s",
        database="worklist",
    )
    settings = plugin_settings(own_postgres.connection_string("worklist"), "postgresql", View="sleepy", QueryTimeout=10)
    orthanc = OrthancServer(tmp_path, settings).start()
    try:
        killer = threading.Timer(
            0.8,
            own_postgres.psql,
            args=(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%FROM sleepy%' "
                "AND pid <> pg_backend_pid()",
            ),
        )
        killer.start()
        started = time.monotonic()
        killed = pynetdicom_find(orthanc.dicom_port, broad_query())
        killer.join()
        # The retry on a fresh connection may succeed (2 s later) or fail; never hang, never crash.
        assert time.monotonic() - started < 8
        assert killed.final_status == 0 or is_failure(killed.final_status)
        assert "the connection to the database server was lost" in orthanc.log() or killed.final_status == 0
        after = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert after.final_status == 0 and len(after.answers) == 30
        assert orthanc.alive()
    finally:
        orthanc.stop()


def test_read_only_role_is_enough(own_postgres: PostgresServer, tmp_path) -> None:
    script = (REPO / "sql" / "postgresql" / "readonly-role.sql").read_text()
    own_postgres.psql(script.replace(":'password'", "'reader-secret'"), database="worklist")
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(own_postgres.port),
                "-U",
                "worklist_reader",
                "-d",
                "worklist",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                "DELETE FROM worklist",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    settings = plugin_settings(
        own_postgres.connection_string("worklist", user="worklist_reader", password="reader-secret"), "postgresql"
    )
    orthanc = OrthancServer(tmp_path, settings).start()
    try:
        result = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert result.final_status == 0 and len(result.answers) == 30
        assert "reader-secret" not in orthanc.log()
    finally:
        orthanc.stop()


def test_only_configured_modalities_may_query(sqlite_db: str, tmp_path) -> None:
    orthanc = OrthancServer(
        tmp_path,
        plugin_settings(sqlite_db, "sqlite"),
        DicomAlwaysAllowFindWorklist=False,
        DicomModalities={"xray": {"AET": "DX_ROOM1", "Host": "127.0.0.1", "Port": 104, "AllowFindWorklist": True}},
    ).start()
    try:
        allowed = pynetdicom_find(orthanc.dicom_port, broad_query(), aet="DX_ROOM1")
        assert allowed.final_status == 0 and allowed.answers
        try:
            stranger = pynetdicom_find(orthanc.dicom_port, broad_query(), aet="STRANGER")
        except RuntimeError:
            return  # association refused: also a refusal
        assert stranger.answers == [] and stranger.final_status != 0
    finally:
        orthanc.stop()


def test_two_instances_give_identical_answers(postgres_db: str, tmp_path) -> None:
    """Scale-out: two Orthancs on one database answer alike, derived Study Instance UIDs included."""
    first = OrthancServer(tmp_path / "a", plugin_settings(postgres_db, "postgresql")).start()
    second = OrthancServer(tmp_path / "b", plugin_settings(postgres_db, "postgresql")).start()
    try:
        query = broad_query("US")
        query.StudyInstanceUID = ""
        query.AccessionNumber = ""
        answers = []
        for server in (first, second, first, second):
            result = pynetdicom_find(server.dicom_port, query)
            assert result.final_status == 0 and result.answers
            answers.append([(a.AccessionNumber, a.StudyInstanceUID, a.PatientID) for a in result.answers])
        assert answers[0] == answers[1] == answers[2] == answers[3]
    finally:
        first.stop()
        second.stop()
