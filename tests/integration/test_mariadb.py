"""MariaDB for real: the session's settings, matching edges, an outage, a restart and a slow view.

The end-to-end worklist tests also run against MariaDB (BACKENDS in test_worklist.py); this file
covers what is particular to it, through the same code path as the plugin (``vetmwl.db.Database``
with the rendered session statements), and through Orthanc where a modality would notice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.identifier_files import identifier
from support.outage import deadline_frees_orthanc, outage_and_recovery, restart_is_invisible
from support.servers import MariaDBServer, OrthancServer, plugin_settings
from support.sql_cases import FILTER_SETS, FRACTION_CASES, MATCHING_CASES, ROWS
from support.views import reference_columns
from vetmwl.config import sql_dir
from vetmwl.db import Database
from vetmwl.dialects import DIALECTS
from vetmwl.errors import DatabaseError, InternalError
from vetmwl.kinds import Like
from vetmwl.query import parse_query
from vetmwl.sqlrender import SqlRenderer
from vetmwl.tools import importer

ALL_COLUMNS = reference_columns()


def renderer() -> SqlRenderer:
    return SqlRenderer(sql_dir() / "queries", "worklist.sql.j2", "mariadb", "worklist")


def database(connection: str, query_timeout: int = 5, session: bool = True) -> Database:
    """The plugin's own connection class, set up as the service sets it up."""
    facts = DIALECTS["mariadb"]
    statements = facts.session(facts.worklist_session, query_timeout)
    return Database(connection, query_timeout, 5, session_sql=statements if session else (), text_encoding="utf-8")


def test_long_text_parameters_arrive_whole(mariadb_db: str) -> None:
    """MariaDB's ODBC driver drops characters of long UTF-16 parameters; the plugin sends UTF-8."""
    db = database(mariadb_db)
    try:
        for text in ("x" * 200, "Müller " * 100, "山田" * 150):
            (row,) = db.fetch("SELECT CHAR_LENGTH(?)", [text]).rows
            assert row[0] == len(text)
    finally:
        db.close()


def fill(mariadb: MariaDBServer, name: str, rows: list[tuple[str, str, str, str, str]]) -> str:
    """A new database with the reference schema and ``rows``; its connection string."""
    mariadb.sql(f"CREATE DATABASE {name}")
    values = ", ".join("(" + ", ".join(f"'{v}'" for v in row) + ")" for row in rows)
    statements = importer.schema_statements("mariadb")
    statements.append(
        "INSERT INTO worklist (ScheduledProcedureStepID, ScheduledProcedureStepStartDateTime, Modality, "
        f"PatientName, PatientID) VALUES {values}"
    )
    mariadb.sql(";\n".join(statements), database=name)
    return mariadb.connection_string(name)


@pytest.fixture(scope="module")
def edges(mariadb: MariaDBServer) -> Iterator[Database]:
    """The rows test_sqlrender.py checks SQLite with, in MariaDB."""
    db = database(fill(mariadb, "edges", ROWS))
    yield db
    db.close()


def spsids(db: Database, step: dict[str, str] | None = None, **root: str) -> list[str]:
    query = parse_query(identifier(step, **root))
    rendered = renderer().render(("ScheduledProcedureStepID",), query.filters, 100)
    return [row[0] for row in db.fetch(rendered.sql, rendered.params).rows]


@pytest.mark.parametrize(("step", "root", "expected"), MATCHING_CASES)
def test_mariadb_selects_what_dicom_matching_selects(
    edges: Database, step: dict[str, str] | None, root: dict[str, str], expected: list[str]
) -> None:
    assert spsids(edges, step, **root) == expected


@pytest.mark.parametrize(("step", "expected"), FRACTION_CASES)
def test_mariadb_fractional_seconds_bounds(edges: Database, step: dict[str, str], expected: list[str]) -> None:
    """The driver drops a bound's fraction; bind_value rounds it up first, so these stay right."""
    assert spsids(edges, step) == expected


@pytest.fixture(scope="module")
def names(mariadb: MariaDBServer) -> Iterator[Database]:
    """Names that differ in case, in accents, in script, and one with a quote."""
    rows = [
        ("N1", "2026-01-05 08:00:00", "DX", "Müller^Bello", "1"),
        ("N2", "2026-01-05 09:00:00", "DX", "Muller^Max", "2"),
        ("N3", "2026-01-05 10:00:00", "DX", "山田^ポチ", "3"),
        ("N4", "2026-01-05 11:00:00", "DX", "O''Connor^Daisy", "4"),
    ]
    db = database(fill(mariadb, "names", rows))
    yield db
    db.close()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("müller*", ["N1"]),
        ("MÜLLER^BELLO", ["N1"]),
        ("m?ller^bello", ["N1"]),
        ("m?ller*", ["N1", "N2"]),  # ? is any one character, accented or not
        ("MULLER*", ["N2"]),  # the collation ignores case, not accents: Muller is another family
        ("山田^ポチ", ["N3"]),
        ("山田*", ["N3"]),
        ("o'connor^daisy", ["N4"]),
        ("García^Luna", []),
    ],
)
def test_person_names_ignore_case_but_not_accents(names: Database, name: str, expected: list[str]) -> None:
    assert spsids(names, PatientName=name) == expected


@pytest.mark.parametrize("name", sorted(FILTER_SETS))
def test_every_query_shape_runs(mariadb_db: str, name: str) -> None:
    """Every shape the renderer produces is SQL that MariaDB runs, with the values bound."""
    db = database(mariadb_db)
    try:
        rendered = renderer().render(ALL_COLUMNS, FILTER_SETS[name], 501)
        result = db.fetch(rendered.sql, rendered.params)
        assert [c.lower() for c in result.columns] == [c.lower() for c in ALL_COLUMNS]
        if name == "none":
            assert len(result.rows) == 75  # the whole demo schedule
        if name == "injection":
            assert result.rows == []
            assert db.fetch("SELECT COUNT(*) FROM worklist").rows[0][0] == 75
    finally:
        db.close()


def test_like_escape_needs_the_session(mariadb_db: str) -> None:
    """``ESCAPE '\\'`` is a syntax error under MariaDB's default sql_mode; the session makes it valid.
    Without it the server refuses the plugin's own SQL: an internal error, not a database failure."""
    rendered = renderer().render(("ScheduledProcedureStepID",), [Like("PatientName", "SMITH*", fold_case=True)], 10)
    bare = database(mariadb_db, session=False)
    try:
        with pytest.raises(InternalError) as error:
            bare.fetch(rendered.sql, rendered.params)
        assert error.value.sqlstate == "42000"
    finally:
        bare.close()
    db = database(mariadb_db)
    try:
        assert db.fetch(rendered.sql, rendered.params).rows
    finally:
        db.close()


def test_session_is_read_only(mariadb_db: str) -> None:
    db = database(mariadb_db)
    try:
        with pytest.raises(DatabaseError) as error:
            db.fetch("DELETE FROM worklist")
        assert error.value.sqlstate == "25006"  # cannot execute statement in a READ ONLY transaction
        assert db.fetch("SELECT COUNT(*) FROM worklist").rows[0][0] == 75
    finally:
        db.close()


# -- failures, seen by a modality through Orthanc ------------------------------------------------


@pytest.fixture(scope="module")
def own_mariadb(demo_file: Path) -> Iterator[MariaDBServer]:
    """A MariaDB server for these tests alone, since they stop and restart it."""
    with MariaDBServer() as server:
        server.with_items(demo_file)
        yield server


@pytest.fixture
def running(own_mariadb: MariaDBServer) -> MariaDBServer:
    """The module's server, started again if a previous test left it stopped."""
    if own_mariadb.process is None or own_mariadb.process.poll() is not None:
        own_mariadb.start()
    return own_mariadb


def test_mariadb_outage_fails_fast_and_recovers_without_restart(running: MariaDBServer, tmp_path) -> None:
    with OrthancServer(tmp_path, plugin_settings(running.connection_string("worklist"), "mariadb")) as orthanc:
        outage_and_recovery(
            orthanc,
            running,
            "the connection to the database server was lost",  # the query in flight
            "Can't connect to server on '127.0.0.1'",  # the reconnection, in the driver's words
        )


def test_mariadb_restart_between_queries_is_invisible(running: MariaDBServer, tmp_path) -> None:
    with OrthancServer(tmp_path, plugin_settings(running.connection_string("worklist"), "mariadb")) as orthanc:
        restart_is_invisible(orthanc, running)


def running_view_queries(server: MariaDBServer, view: str) -> int:
    return int(
        server.sql(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
            f"WHERE INFO LIKE '%{view}%' AND INFO NOT LIKE '%PROCESSLIST%'"
        )
    )


def test_slow_view_fails_at_the_deadline_and_the_server_stops_the_query(running: MariaDBServer, tmp_path) -> None:
    running.sql(
        # Slow for each row it reads, but not for the column probe (LIMIT 0), like a real heavy view.
        "CREATE OR REPLACE VIEW slow_worklist AS SELECT w.* FROM worklist w WHERE SLEEP(0.5) = 0",
        database="worklist",
    )
    settings = plugin_settings(running.connection_string("worklist"), "mariadb", View="slow_worklist", QueryTimeout=1)
    with OrthancServer(tmp_path, settings) as orthanc:
        started = deadline_frees_orthanc(orthanc, "did not answer within")
        # The abandoned query is still running on the server right after the plugin gave up...
        assert running_view_queries(running, "slow_worklist") == 1
        # ...until max_statement_time (QueryTimeout + 2 s) stops it, instead of after 30 rows x 0.5 s.
        deadline = time.monotonic() + 4
        while running_view_queries(running, "slow_worklist") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert running_view_queries(running, "slow_worklist") == 0
        assert time.monotonic() - started < 6
