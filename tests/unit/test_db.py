"""The self-healing connection, its hard deadline and its error messages, with a fake ODBC driver."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from vetmwl.db import Database, explain
from vetmwl.errors import DatabaseError, InternalError

CONNECTION = "Driver=FreeTDS;Server=db;UID=sa;PWD=s3cret"


class FakeOdbcError(Exception):
    """Like pyodbc.Error: args are (sqlstate, message)."""


class ProgrammingError(FakeOdbcError):
    """Named like pyodbc's, which its own statement checks raise with the generic state HY000."""


class FakeCursor:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.description: list[tuple[str, ...]] | None = None

    def execute(self, sql: str, *params: object) -> None:
        driver = self.connection.driver
        self.connection.executed.append((sql, params))
        if sql.startswith("SET"):
            if driver.session_error:
                raise driver.session_error
            return
        if self.connection.broken:
            raise FakeOdbcError("08S01", "[08S01] [FreeTDS][SQL Server]Communication link failure")
        if driver.query_errors:
            raise driver.query_errors.pop(0)
        if driver.hang:
            driver.release.wait(10)
        self.description = [("ScheduledProcedureStepID",), ("Modality",)]

    def fetchall(self) -> list[tuple[str, str]]:
        return list(self.connection.driver.rows)

    def fetchmany(self, size: int) -> list[tuple[str, str]]:
        return list(self.connection.driver.rows[:size])

    def close(self) -> None:
        pass


class FakeConnection:
    def __init__(self, driver: FakeDriver) -> None:
        self.driver = driver
        self.executed: list[tuple[str, tuple[object, ...]]] = []
        self.broken = False
        self.closed = False
        self.timeout = 0

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def close(self) -> None:
        self.closed = True


class FakeDriver:
    """Stands in for ``pyodbc.connect`` and records every connection it opens."""

    def __init__(self) -> None:
        self.connections: list[FakeConnection] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.connect_error: Exception | None = None
        self.session_error: Exception | None = None
        self.query_errors: list[Exception] = []
        self.hang = False
        self.release = threading.Event()
        self.rows = [("SPS1", "DX"), ("SPS2", "CR"), ("SPS3", "DX")]

    def __call__(self, connection_string: str, **kwargs: Any) -> FakeConnection:
        self.calls.append((connection_string, kwargs))
        if self.connect_error:
            raise self.connect_error
        connection = FakeConnection(self)
        self.connections.append(connection)
        return connection


@pytest.fixture
def driver() -> Iterator[FakeDriver]:
    fake = FakeDriver()
    yield fake
    fake.release.set()  # let an abandoned worker thread finish


def database(driver: FakeDriver, query_timeout: int = 5, connect_timeout: int = 5, **kwargs: Any) -> Database:
    return Database(CONNECTION, query_timeout, connect_timeout, connect=driver, **kwargs)


def test_fetch_returns_columns_and_rows(driver: FakeDriver) -> None:
    db = database(driver)
    result = db.fetch("SELECT 1 WHERE a = ? AND b = ?", ["DX", 3])
    assert result.columns == ("ScheduledProcedureStepID", "Modality")
    assert result.rows == driver.rows
    assert result.seconds >= 0
    assert driver.connections[0].executed == [("SELECT 1 WHERE a = ? AND b = ?", ("DX", 3))]
    assert driver.calls == [(CONNECTION, {"autocommit": True, "timeout": 5})]
    assert driver.connections[0].timeout == 5  # the per-statement timeout for drivers that have one


def test_max_rows_limits_the_fetch(driver: FakeDriver) -> None:
    assert database(driver).fetch("SELECT 1", max_rows=2).rows == driver.rows[:2]
    assert database(driver).fetch("SELECT 1", max_rows=0).rows == []


def test_one_connection_is_reused(driver: FakeDriver) -> None:
    db = database(driver)
    for _ in range(3):
        db.fetch("SELECT 1")
    assert len(driver.connections) == 1
    assert len(driver.connections[0].executed) == 3
    assert not driver.connections[0].closed


def test_session_sql_runs_on_every_new_connection(driver: FakeDriver) -> None:
    db = database(
        driver, session_sql=["SET LOCK_TIMEOUT 5000", "  \n", "\nSET TRANSACTION ISOLATION LEVEL READ COMMITTED"]
    )
    db.fetch("SELECT 1")
    db.fetch("SELECT 2")
    driver.connections[0].broken = True
    db.fetch("SELECT 3")
    assert len(driver.connections) == 2
    for connection in driver.connections:
        sqls = [sql for sql, _ in connection.executed]
        assert sqls[:2] == ["SET LOCK_TIMEOUT 5000", "\nSET TRANSACTION ISOLATION LEVEL READ COMMITTED"]
        assert all(s.strip() for s in sqls)
    assert [sql for sql, _ in driver.connections[0].executed[2:]] == ["SELECT 1", "SELECT 2", "SELECT 3"]
    assert [sql for sql, _ in driver.connections[1].executed[2:]] == ["SELECT 3"]


def test_failing_session_sql_is_an_internal_error(driver: FakeDriver) -> None:
    """The session statements are the plugin's own SQL: a syntax error there is our bug."""
    driver.session_error = FakeOdbcError("42000", "[42000] syntax error near SET")
    with pytest.raises(InternalError) as error:
        database(driver, session_sql=["SET nonsense"]).fetch("SELECT 1")
    assert error.value.sqlstate == "42000"
    assert driver.connections[0].closed


def test_failure_on_a_reused_connection_reconnects_and_retries_once(driver: FakeDriver) -> None:
    """The server restarted while we were idle: the first query after the outage already works."""
    db = database(driver)
    db.fetch("SELECT 1")
    driver.connections[0].broken = True
    result = db.fetch("SELECT 2", ["DX"])
    assert result.rows == driver.rows
    assert len(driver.connections) == 2
    assert driver.connections[0].closed
    assert driver.connections[1].executed == [("SELECT 2", ("DX",))]
    assert db.opened == 2
    db.fetch("SELECT 3")
    assert len(driver.connections) == 2  # and the new connection is reused


def test_a_retry_that_fails_too_raises(driver: FakeDriver) -> None:
    db = database(driver)
    db.fetch("SELECT 1")
    driver.connections[0].broken = True
    driver.connect_error = FakeOdbcError("08001", "[08001] could not connect to server")
    with pytest.raises(DatabaseError) as error:
        db.fetch("SELECT 2")
    assert error.value.sqlstate == "08001"
    assert len(driver.calls) == 2  # one retry, not more


def test_connect_failure_raises_without_retry(driver: FakeDriver) -> None:
    driver.connect_error = FakeOdbcError("08001", "[08001] [FreeTDS]Unable to connect to data source")
    db = database(driver)
    with pytest.raises(DatabaseError) as error:
        db.fetch("SELECT 1")
    assert error.value.sqlstate == "08001"
    assert "cannot be reached" in str(error.value)
    assert len(driver.calls) == 1


def test_a_missing_view_fails_without_retry_and_keeps_the_connection(driver: FakeDriver) -> None:
    driver.query_errors = [FakeOdbcError("42S02", "[42S02] Invalid object name 'worklist'")]
    db = database(driver)
    with pytest.raises(DatabaseError) as error:
        db.fetch("SELECT 1")
    assert error.value.sqlstate == "42S02"
    assert not error.value.connection
    assert len(driver.connections) == 1
    assert not driver.connections[0].closed
    db.fetch("SELECT 1")  # the view is back: the same connection serves
    assert len(driver.connections) == 1
    assert db.opened == 1


@pytest.mark.parametrize(
    "exc",
    [
        ProgrammingError("HY000", "The SQL contains 4 parameter markers, but 3 parameters were supplied"),
        FakeOdbcError("07002", "[07002] COUNT field incorrect or syntax error"),
        FakeOdbcError("42601", '[42601] ERROR: syntax error at or near "AND"'),
        FakeOdbcError("42000", "[42000] [FreeTDS][SQL Server]Incorrect syntax near '?'."),
        FakeOdbcError("22007", "[22007] invalid input syntax for type timestamp"),
        FakeOdbcError("HY004", "[HY004] Invalid SQL data type"),
    ],
)
def test_a_statement_the_server_refuses_is_internal_and_never_reconnects(driver: FakeDriver, exc: Exception) -> None:
    """Our own SQL is wrong: no reconnect, no retry, the connection stays (a modality cannot make
    the plugin tear it down by sending a strange query)."""
    db = database(driver)
    db.fetch("SELECT 1")
    driver.query_errors = [exc]
    with pytest.raises(InternalError) as error:
        db.fetch("SELECT broken")
    assert "rejected the plugin's SQL" in str(error.value)
    assert len(driver.calls) == 1
    assert not driver.connections[0].closed
    assert [sql for sql, _ in driver.connections[0].executed].count("SELECT broken") == 1
    db.fetch("SELECT 2")
    assert db.opened == 1


def test_an_unknown_error_on_a_reused_connection_is_not_retried(driver: FakeDriver) -> None:
    """Only a lost connection is retried; an error nobody recognises fails the query, and the next
    query starts on a fresh connection in case the old one is in a bad state."""
    db = database(driver)
    db.fetch("SELECT 1")
    driver.query_errors = [FakeOdbcError("HY000", "[HY000] something odd")]
    with pytest.raises(DatabaseError) as error:
        db.fetch("SELECT 2")
    assert not error.value.connection
    assert len(driver.calls) == 1
    db.fetch("SELECT 3")
    assert db.opened == 2


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("08S01", "[08S01] Communication link failure"),
        ("HY000", "server closed the connection unexpectedly"),
        ("HY000", "Lost connection to server during query"),
        ("57P01", "terminating connection due to administrator command"),
    ],
)
def test_connection_class_failures_reconnect_and_retry(driver: FakeDriver, sqlstate: str, message: str) -> None:
    db = database(driver)
    db.fetch("SELECT 1")
    driver.query_errors = [FakeOdbcError(sqlstate, message)]
    assert db.fetch("SELECT 2").rows == driver.rows
    assert db.opened == 2
    assert driver.connections[0].closed


def test_permission_denied_is_the_databases_fault() -> None:
    error = explain(FakeOdbcError("42000", "[42000] The SELECT permission was denied on the object 'worklist'"))
    assert isinstance(error, DatabaseError)
    assert "may not read the worklist view" in str(error)


@pytest.mark.parametrize(
    ("reuse", "query_timeout", "connect_timeout", "deadline"),
    [
        (True, 0, 5, 1),  # reused connection: query_timeout + 1, the connect timeout does not count
        (False, 0, 1, 2),  # new connection: query_timeout + connect_timeout + 1
    ],
)
def test_hanging_query_is_abandoned_at_the_deadline(
    driver: FakeDriver, reuse: bool, query_timeout: int, connect_timeout: int, deadline: int
) -> None:
    db = database(driver, query_timeout=query_timeout, connect_timeout=connect_timeout)
    if reuse:
        db.fetch("SELECT 1")
    connections_before = len(driver.connections)
    driver.hang = True
    started = time.monotonic()
    with pytest.raises(DatabaseError) as error:
        db.fetch("SELECT hangs")
    elapsed = time.monotonic() - started
    assert error.value.timeout
    assert error.value.sqlstate == "HYT00"
    assert f"within {deadline} seconds" in str(error.value)
    assert deadline - 0.2 <= elapsed < deadline + 1
    assert len(driver.calls) == connections_before + (0 if reuse else 1)  # a timeout is not retried

    driver.hang = False
    result = db.fetch("SELECT 2")  # a fresh worker and a fresh connection, without waiting for the old one
    assert result.rows == driver.rows
    assert len(driver.connections) == connections_before + (1 if reuse else 2)
    assert driver.connections[-1].executed == [("SELECT 2", ())]


def test_close_closes_the_connection_and_ends_the_worker_thread(driver: FakeDriver) -> None:
    db = database(driver)
    db.fetch("SELECT 1")
    worker = db._worker
    assert worker is not None and worker.thread.is_alive()
    db.close()
    assert driver.connections[0].closed
    assert not worker.thread.is_alive()
    with pytest.raises(DatabaseError, match="is closed: Orthanc is stopping"):
        db.fetch("SELECT 1")  # a thread still busy at Orthanc's stop opens nothing again
    assert len(driver.connections) == 1


def test_worker_threads_are_daemons(driver: FakeDriver) -> None:
    """A worker stuck in a driver must never keep Orthanc's interpreter from finalizing."""
    db = database(driver)
    db.fetch("SELECT 1")
    assert db._worker is not None and db._worker.thread.daemon


@pytest.mark.parametrize(
    ("sqlstate", "message", "hint"),
    [
        ("08001", "[08001] [FreeTDS]Unable to connect to data source", "cannot be reached"),
        ("28000", "[28000] [FreeTDS][SQL Server]Login failed for user 'sa'", "refused the login"),
        ("42S02", "[42S02] [FreeTDS][SQL Server]Invalid object name 'worklist'", "does not exist"),
        ("IM002", "[IM002] [unixODBC][Driver Manager]Data source name not found", "odbcinst -q -d"),
        ("42S22", "[42S22] Invalid column name 'Modality'", "column of the worklist view is missing"),
        ("HYT00", "[HYT00] Query timeout expired", "did not answer within SqlWorklist.QueryTimeout"),
    ],
)
def test_explain_gives_a_hint(sqlstate: str, message: str, hint: str) -> None:
    error = explain(FakeOdbcError(sqlstate, message))
    assert isinstance(error, DatabaseError)
    assert error.sqlstate == sqlstate
    assert hint in str(error)
    assert str(error).count(f"[{sqlstate}]") == 1  # the driver's duplicated prefix is removed
    assert message[len(sqlstate) + 3 :] in str(error)


def test_explain_marks_timeouts() -> None:
    assert explain(FakeOdbcError("HYT00", "timeout")).timeout
    assert explain(FakeOdbcError("57014", "canceling statement due to statement timeout")).timeout
    assert not explain(FakeOdbcError("08001", "x")).timeout


@pytest.mark.parametrize(
    ("exc", "hint"),
    [
        (FakeOdbcError("HY000", "could not connect to server: Connection refused"), "cannot be reached"),
        (
            FakeOdbcError("HY000", "server closed the connection unexpectedly"),
            "connection to the database server was lost",
        ),
        (RuntimeError("login timeout expired"), "did not answer in time"),
    ],
)
def test_explain_recognises_messages_without_a_known_state(exc: Exception, hint: str) -> None:
    assert hint in str(explain(exc))


def test_explain_without_a_hint_keeps_the_driver_message() -> None:
    error = explain(FakeOdbcError("HY000", "[HY000] something odd"))
    assert str(error) == "[HY000] something odd"


def test_explain_masks_an_echoed_password() -> None:
    message = f"[08001] [unixODBC]cannot connect with '{CONNECTION}'"
    error = explain(FakeOdbcError("08001", message), CONNECTION)
    assert "s3cret" not in str(error)
    assert "PWD=***" in str(error)
    assert "Server=db" in str(error)
