"""What a modality and the log see when the database or the configuration is wrong."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

from support.clients import broad_query, echo, is_failure, pynetdicom_find
from support.outage import outage_and_recovery, restart_is_invisible
from support.servers import (
    REPO,
    UNREACHABLE_PASSWORD,
    OrthancServer,
    PostgresServer,
    plugin_settings,
    unreachable_postgres,
)


def test_postgres_outage_fails_fast_and_recovers_without_restart(own_postgres: PostgresServer, tmp_path) -> None:
    settings = plugin_settings(own_postgres.connection_string("worklist"), "postgresql")
    with OrthancServer(tmp_path, settings) as orthanc:
        outage_and_recovery(orthanc, own_postgres, "the database server cannot be reached")


def test_postgres_restart_between_queries_is_invisible(own_postgres: PostgresServer, tmp_path) -> None:
    settings = plugin_settings(own_postgres.connection_string("worklist"), "postgresql")
    with OrthancServer(tmp_path, settings) as orthanc:
        restart_is_invisible(orthanc, own_postgres)


def test_database_down_at_startup(tmp_path) -> None:
    with OrthancServer(tmp_path, plugin_settings(unreachable_postgres(), "postgresql")) as orthanc:
        result = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert is_failure(result.final_status)
        log = orthanc.log()
        assert "the worklist database is not usable yet" in log
        assert "the database server cannot be reached" in log
        assert UNREACHABLE_PASSWORD not in log and "Pwd=***" in log


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
    with OrthancServer(tmp_path, settings) as orthanc:
        result = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert is_failure(result.final_status)
        assert message in orthanc.log()
        assert orthanc.alive() and echo(orthanc.dicom_port) == 0


def test_view_missing_a_required_column(sqlite_db: str, tmp_path) -> None:
    import pyodbc

    connection = pyodbc.connect(sqlite_db, autocommit=True)
    connection.execute(
        "CREATE VIEW IF NOT EXISTS nameless AS SELECT ScheduledProcedureStepID, "
        "ScheduledProcedureStepStartDateTime, Modality, PatientID FROM worklist"
    )
    connection.close()
    with OrthancServer(tmp_path, plugin_settings(sqlite_db, "sqlite", View="nameless")) as orthanc:
        result = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert is_failure(result.final_status)
        assert "lacks the required column(s) PatientName" in orthanc.log()


def test_answer_limit_returns_exactly_that_many(sqlite_db: str, tmp_path) -> None:
    with OrthancServer(tmp_path, plugin_settings(sqlite_db, "sqlite", LimitAnswers=3)) as orthanc:
        result = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert len(result.answers) == 3
        # Orthanc reports an incomplete answer set with the final status FE00 (matching terminated).
        assert result.statuses == [0xFF00, 0xFF00, 0xFF00, 0xFE00]
        assert "limit reached, marked incomplete" in orthanc.log()


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
    with OrthancServer(tmp_path, settings) as orthanc:
        assert pynetdicom_find(orthanc.dicom_port, broad_query()).final_status == 0
        pids = _cluster_pids(own_postgres)  # the plugin's connection's backend among them
        try:
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
        recovered = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert recovered.final_status == 0 and len(recovered.answers) == 30


def test_connection_killed_mid_query(own_postgres: PostgresServer, tmp_path) -> None:
    own_postgres.psql(
        "CREATE VIEW sleepy AS WITH s AS MATERIALIZED (SELECT pg_sleep(2)) SELECT w.* FROM worklist w, s",
        database="worklist",
    )
    settings = plugin_settings(own_postgres.connection_string("worklist"), "postgresql", View="sleepy", QueryTimeout=10)
    with OrthancServer(tmp_path, settings) as orthanc:
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


def test_read_only_role_is_enough(own_postgres: PostgresServer, tmp_path) -> None:
    script = (REPO / "sql" / "postgresql" / "readonly-role.sql").read_text()
    own_postgres.psql(script.replace(":'password'", "'reader-secret'"), database="worklist")
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.run(
            [*own_postgres.psql_command("worklist", user="worklist_reader"), "-c", "DELETE FROM worklist"],
            check=True,
            capture_output=True,
            text=True,
        )
    settings = plugin_settings(
        own_postgres.connection_string("worklist", user="worklist_reader", password="reader-secret"), "postgresql"
    )
    with OrthancServer(tmp_path, settings) as orthanc:
        result = pynetdicom_find(orthanc.dicom_port, broad_query())
        assert result.final_status == 0 and len(result.answers) == 30
        assert "reader-secret" not in orthanc.log()


def test_only_configured_modalities_may_query(sqlite_db: str, tmp_path) -> None:
    with OrthancServer(
        tmp_path,
        plugin_settings(sqlite_db, "sqlite"),
        DicomAlwaysAllowFindWorklist=False,
        DicomModalities={"xray": {"AET": "DX_ROOM1", "Host": "127.0.0.1", "Port": 104, "AllowFindWorklist": True}},
    ) as orthanc:
        allowed = pynetdicom_find(orthanc.dicom_port, broad_query(), aet="DX_ROOM1")
        assert allowed.final_status == 0 and allowed.answers
        try:
            stranger = pynetdicom_find(orthanc.dicom_port, broad_query(), aet="STRANGER")
        except RuntimeError:
            return  # association refused: also a refusal
        assert stranger.answers == [] and stranger.final_status != 0


def test_two_instances_give_identical_answers(postgres_db: str, tmp_path) -> None:
    """Scale-out: two Orthancs on one database answer alike, derived Study Instance UIDs included."""
    settings = plugin_settings(postgres_db, "postgresql")
    with OrthancServer(tmp_path / "a", settings) as first, OrthancServer(tmp_path / "b", settings) as second:
        query = broad_query("US")
        query.StudyInstanceUID = ""
        query.AccessionNumber = ""
        answers = []
        for server in (first, second, first, second):
            result = pynetdicom_find(server.dicom_port, query)
            assert result.final_status == 0 and result.answers
            answers.append([(a.AccessionNumber, a.StudyInstanceUID, a.PatientID) for a in result.answers])
        assert answers[0] == answers[1] == answers[2] == answers[3]
