"""One reused ODBC connection that recovers by itself, with a hard deadline and plain-word errors.

Orthanc serialises all worklist callbacks, so one connection is enough, and a query that hangs
would hang every modality. So each query runs on a worker thread and the caller waits at most
``query_timeout`` (+1 s of grace for the driver's own timeout to speak first). A worker that misses
the deadline is abandoned with its connection; the next query gets a fresh worker and connection.
A query that fails because a connection that had worked before is lost (the server restarted
while we were idle) is retried once on a fresh connection, so the first query after an outage
already succeeds. Any other error is raised at once, and a statement the server refuses (our SQL,
see :mod:`vetmwl.errors`) keeps the connection: a modality cannot make the plugin reconnect.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from .config import mask_secrets
from .errors import DatabaseError, InternalError

log = logging.getLogger("vetmwl.db")

_TIMEOUT_STATES = {"HYT00", "HYT01", "57014", "HY018"}
#: PostgreSQL's "operator intervention" states: the server is shutting down or restarting.
_SHUTDOWN_STATES = {"57P01", "57P02", "57P03"}
#: The view or a column is missing: the database's (or its administrator's) fault, not ours.
_MISSING_STATES = {"42S02", "42P01", "42S22", "42703"}
#: States of statements the driver or server rejects as written: dynamic SQL (07), data (22),
#: syntax or access rule (42), cardinality (21), invalid SQL data type or attribute (HY004, HY105).
_STATEMENT_CLASSES = ("07", "21", "22", "42")
_STATEMENT_STATES = {"HY004", "HY105", "HY003", "HY090", "07002", "07006"}
_HINTS = {
    "IM002": "the ODBC driver named in the connection string is not installed "
    "(list installed drivers with: odbcinst -q -d)",
    "01000": "the ODBC driver could not be loaded (check the driver's file in /etc/odbcinst.ini)",
    "08001": "the database server cannot be reached: check that it runs, and the host and port",
    "08S01": "the connection to the database server was lost",
    "08004": "the database server refused the connection",
    "28000": "the database refused the login: check the user name and password",
    "28P01": "the database refused the login: check the user name and password",
    "42S02": "the worklist view or table does not exist: check SqlWorklist.View",
    "42P01": "the worklist view or table does not exist: check SqlWorklist.View",
    "42S22": "a column of the worklist view is missing: compare the view with sql/README.md",
    "42703": "a column of the worklist view is missing: compare the view with sql/README.md",
    "42501": "the database login may not read the worklist view: grant it SELECT (see sql/README.md)",
    "HYT00": "the database did not answer within SqlWorklist.QueryTimeout",
    "HYT01": "the database did not answer within SqlWorklist.ConnectTimeout",
    "57014": "the database cancelled the query: it took longer than SqlWorklist.QueryTimeout",
    "HY018": "the database cancelled the query: it took longer than SqlWorklist.QueryTimeout",
    "57P01": "the database server is shutting down or restarting",
    "57P02": "the database server is shutting down or restarting",
    "57P03": "the database server is starting up and does not accept connections yet",
}
_UNREACHABLE = (
    "could not connect",
    "can't connect",
    "connection refused",
    "no route to host",
    "could not translate host",
)
#: What drivers say when a connection that had worked is gone (psqlODBC, MariaDB, FreeTDS, Microsoft's).
_LOST = (
    "server closed the connection",
    "connection dead",
    "connection has been lost",
    "lost connection",
    "server has gone away",
    "communication link failure",
    "connection is busy",
    "no connection to the server",
    "terminating connection",
)
_PERMISSION = ("permission denied", "permission was denied")


#: What SQL Server's drivers (FreeTDS, Microsoft's ODBC Driver 18) and SQL Server say when a connection
#: cannot be made, and what to change. Read before the SQLSTATE, which they use loosely: FreeTDS says
#: 08S01 ("lost") for a server it never reached, SQL Server 42000 for a database the login cannot open.
_SQLSERVER_MESSAGES = (
    (
        ("adaptive server is unavailable", "named pipes provider", "tcp provider: error code 0x2749"),
        "SQL Server cannot be reached: check the host name, the port (Port=1433, or Server=tcp:host,1433 for "
        "Driver 18), that SQL Server accepts TCP/IP connections, and the firewalls in between",
    ),
    (
        ("error locating server/instance specified",),
        "SQL Server's named instance was not found: check the instance name after the backslash "
        "(Server=host\\IMPROMED1), that the SQL Server Browser service runs and UDP 1434 is open, or give the "
        "instance's fixed TCP port instead",
    ),
    (
        ("unable to connect to data source",),
        "SQL Server cannot be reached through FreeTDS, or the connection ended before the login: check that the "
        "server's name resolves here (getent hosts NAME), that the host and port (or instance) are SQL Server's, "
        "the options of the connection string (TDS_Version=7.4, Encryption=request|require|off), and with "
        "Encryption=require that the server can encrypt",
    ),
    (
        ("untrusted domain",),
        "SQL Server refused the Windows login: give it as UID=DOMAIN\\user with the account's password (FreeTDS "
        "NTLM; UseNTLMv2=yes where the domain requires it), check the server trusts that domain, or use a SQL login",
    ),
    (
        ("login failed for user",),
        "SQL Server refused the login: check UID and PWD (a Windows account as UID=DOMAIN\\user), that the login "
        "exists and is enabled, and that the server allows SQL logins (mixed mode) for a SQL login",
    ),
    (
        ("cannot open database",),
        "the login may not open the database of Database=: check its name (ImproMed's is usually Impromed) and "
        "that the login has a user in it (sql/mssql/readonly-login.sql)",
    ),
    (
        ("certificate verify failed", "certificate chain was issued by an authority that is not trusted"),
        "SQL Server's TLS certificate is not trusted by this host: install the certificate of its authority "
        "(update-ca-certificates), or on a network you trust TrustServerCertificate=yes (Driver 18); "
        "see docs/sqlserver.md",
    ),
    (
        ("login timeout expired",),
        "the database did not answer in time (SqlWorklist.ConnectTimeout): check the host and port, or for a SQL "
        "Server named instance the SQL Server Browser (UDP 1434)",
    ),
)
#: A named instance without a port in a connection string (``Server=host\INSTANCE``): then the
#: instance's name and the SQL Server Browser are as likely a cause as the host.
_NAMED_INSTANCE = re.compile(r"(?i)(?:^|;)\s*(?:server|address|addr)\s*=\s*(?:tcp:)?[^;,\\]+\\[^;,]+(?:;|$)")
_PORT = re.compile(r"(?i)(?:^|;)\s*port\s*=")


def _connecting_hint(connection_string: str) -> str:
    """Why connecting may hang: FreeTDS asks the SQL Server Browser for a named instance for 16 s,
    and the Browser never answers for an instance it does not know."""
    if _NAMED_INSTANCE.search(connection_string) and not _PORT.search(connection_string):
        return (
            "; the connection string names a SQL Server instance (Server=host\\INSTANCE): check the instance's "
            "name and that the SQL Server Browser answers on UDP 1434 (it stays silent for an unknown instance), "
            "or give the instance's fixed port"
        )
    return ""


def _sqlserver_hint(lowered: str, connection_string: str) -> str:
    """What to change, from a SQL Server driver's message; '' for messages of other drivers."""
    hint = next((h for phrases, h in _SQLSERVER_MESSAGES if any(p in lowered for p in phrases)), "")
    if hint.startswith("SQL Server cannot be reached:"):
        hint += _connecting_hint(connection_string)
    return hint


#: SQLite's messages (always state HY000), and the state other drivers give for the same thing.
_SQLITE_MESSAGES = (
    ("no such table", "42S02"),
    ("no such column", "42S22"),
    ("syntax error", "42000"),
    ("unique constraint failed", "23000"),
)
_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")


def _state_and_detail(exc: BaseException) -> tuple[str, str]:
    """The SQLSTATE and the message of a pyodbc exception. pyodbc's own errors put the message
    first (``('The SQL contains 4 parameter markers, ...', 'HY000')``), the driver's put it second."""
    args = [a for a in getattr(exc, "args", ()) if isinstance(a, str)]
    state = next((a for a in args if _SQLSTATE.match(a)), "")
    detail = next((a for a in args if a != state), "") or str(exc)
    if state and detail.startswith(f"[{state}]"):
        detail = detail[len(state) + 2 :].lstrip()
    return state, detail


def _statement_rejected(exc: BaseException, sqlstate: str) -> bool:
    """Whether the driver or server refused the statement as the plugin wrote it."""
    if sqlstate in _MISSING_STATES or sqlstate == "42501":
        return False
    if sqlstate.startswith(_STATEMENT_CLASSES) or sqlstate in _STATEMENT_STATES:
        return True
    # pyodbc's own checks (e.g. "The SQL contains 4 parameter markers, but 3 parameters were
    # supplied") come with the generic state HY000 and one of these classes.
    return type(exc).__name__ in ("ProgrammingError", "DataError", "NotSupportedError") and sqlstate in ("", "HY000")


def explain(exc: BaseException, connection_string: str = "") -> DatabaseError | InternalError:
    """Turn a pyodbc exception into a :class:`DatabaseError` with a hint on what to fix, or, when the
    statement itself was refused, an :class:`InternalError` (the plugin's SQL is wrong)."""
    sqlstate, detail = _state_and_detail(exc)
    if connection_string:
        detail = detail.replace(connection_string, mask_secrets(connection_string))
    lowered = detail.lower()
    sqlserver = _sqlserver_hint(lowered, connection_string)
    if sqlserver:
        # No connection was made (or the login was refused): never the plugin's SQL, nothing to retry.
        return DatabaseError(f"{sqlserver}. Driver said: [{sqlstate}] {detail}", sqlstate, connection=True)
    if sqlstate == "42000" and any(words in lowered for words in _PERMISSION):
        sqlstate = "42501"  # SQL Server says "The SELECT permission was denied" with the syntax state
    elif sqlstate in ("", "HY000"):
        # SQLite's driver says everything with the generic state: read its message instead.
        sqlstate = next((state for words, state in _SQLITE_MESSAGES if words in lowered), sqlstate)
    lost = sqlstate.startswith("08") or sqlstate in _SHUTDOWN_STATES or any(words in lowered for words in _LOST)
    if not lost and _statement_rejected(exc, sqlstate):
        return InternalError(f"the database rejected the plugin's SQL: [{sqlstate}] {detail}", sqlstate)
    hint = _HINTS.get(sqlstate)
    if not hint and any(words in lowered for words in _UNREACHABLE):
        hint, lost = _HINTS["08001"], True
    if not hint and "timeout" in lowered:
        hint = "the database did not answer in time"
    if not hint and lost:
        hint = _HINTS["08S01"]
    message = f"{hint}. Driver said: [{sqlstate}] {detail}" if hint else f"[{sqlstate}] {detail}"
    return DatabaseError(message, sqlstate, timeout=sqlstate in _TIMEOUT_STATES, connection=lost)


class FetchResult:
    """Column names and Python types as the driver reports them, the rows, and the seconds it took."""

    __slots__ = ("columns", "rows", "seconds", "types")

    def __init__(
        self, columns: tuple[str, ...], rows: list[Any], seconds: float, types: tuple[type | None, ...] = ()
    ) -> None:
        self.columns = columns
        self.rows = rows
        self.seconds = seconds
        self.types = types


class _Worker:
    """One daemon thread that runs the database calls, one at a time.

    A daemon thread rather than a ``ThreadPoolExecutor``: the executor's threads are joined when
    the embedded interpreter finalizes, so a worker stuck inside a driver would keep Orthanc from
    stopping. A stuck worker is simply abandoned (see :meth:`Database._run`).
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple, Future] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="vetmwl-db", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            function, args, future = job
            try:
                future.set_result(function(*args))
            except BaseException as exc:  # handed to the caller, whatever it is
                future.set_exception(exc)
            del job, function, args, future  # hold no connection or result between jobs

    def submit(self, function: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        self._jobs.put((function, args, future))
        return future

    def stop(self, timeout: float) -> bool:
        """Let the thread finish its current job and end; whether it did within ``timeout``."""
        self._jobs.put(None)
        self.thread.join(timeout)
        return not self.thread.is_alive()


class Database:
    """Runs queries (and the state store's short transactions) on one lazily opened, self-healing
    ODBC connection.

    ``opened`` counts the connections opened since start: a reconnect that nothing explains
    (the fuzz test checks there is none) shows there.
    """

    def __init__(
        self,
        connection_string: str,
        query_timeout: int,
        connect_timeout: int,
        session_sql: Sequence[str] = (),
        connect: Callable[..., Any] | None = None,
        text_encoding: str | None = None,
        name: str = "the worklist database",
    ) -> None:
        """``text_encoding``: send text parameters in this encoding instead of the driver's UTF-16
        (see :attr:`vetmwl.dialects.Dialect.text_encoding`); ``name``: what the log calls this database."""
        if connect is None:
            import pyodbc

            connect = pyodbc.connect
        self._connection_string = connection_string
        self._query_timeout = query_timeout
        self._connect_timeout = connect_timeout
        self._session_sql = [s for s in session_sql if s.strip()]
        self._connect = connect
        self._text_encoding = text_encoding
        self._connection: Any = None
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._closed = False
        self.name = name
        self.opened = 0

    # -- runs on the worker thread -------------------------------------------------------------
    def _open(self) -> Any:
        connection = None
        try:
            connection = self._connect(self._connection_string, autocommit=True, timeout=self._connect_timeout)
            # Drivers that support a per-statement timeout enforce it themselves; psqlODBC does not
            # (it gets statement_timeout from the session SQL instead), and the deadline covers all.
            with contextlib.suppress(Exception):
                connection.timeout = self._query_timeout
            if self._text_encoding:
                connection.setencoding(encoding=self._text_encoding)
            cursor = connection.cursor()
            for statement in self._session_sql:
                cursor.execute(statement)
            cursor.close()
        except Exception as exc:
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.close()
            raise explain(exc, self._connection_string) from exc
        self.opened += 1
        log.info("connected to %s", self.name)
        return connection

    def _job(self, connection: Any, work: Callable[[Any], Any]) -> tuple:
        """Returns ``(connection, result, error)``: the connection to keep (None to drop it)."""
        if connection is None:
            connection = self._open()
        try:
            result = work(connection)
        except Exception as exc:
            error = explain(exc, self._connection_string)
            if _keeps_connection(error):
                return connection, None, error
            with contextlib.suppress(Exception):
                connection.close()
            return None, None, error
        return connection, result, None

    # -- runs on the caller's thread (Orthanc's) ------------------------------------------------
    def _run(self, work: Callable[[Any], Any], seconds: float | None = None) -> Any:
        connection, self._connection = self._connection, None
        deadline = self._query_timeout + (0 if connection else self._connect_timeout) + 1
        if seconds is not None:
            deadline = round(min(deadline, seconds), 2)  # what is left of a C-FIND's QueryTimeout
        if self._worker is None:
            self._worker = _Worker()
        future = self._worker.submit(self._job, connection, work)
        try:
            self._connection, result, error = future.result(timeout=deadline)
        except FutureTimeout:
            # The worker is stuck inside the driver: leave it (and its connection) behind.
            self._worker.stop(timeout=0)
            self._worker = None
            raise DatabaseError(
                f"the database did not answer within {deadline} seconds (SqlWorklist.QueryTimeout); "
                "the connection was abandoned and a new one will be opened"
                + ("" if connection else _connecting_hint(self._connection_string)),
                "HYT00",
                timeout=True,
            ) from None
        if error is not None:
            raise error
        return result

    def fetch(
        self, sql: str, params: Sequence[object] = (), max_rows: int | None = None, seconds: float | None = None
    ) -> FetchResult:
        """Run ``sql``; return column names and up to ``max_rows`` rows; ``seconds``: wait at most
        that long (what a C-FIND has left of its QueryTimeout), where less than the usual deadline.

        Raises DatabaseError (the database's fault) or InternalError (the SQL was refused). Only a
        lost connection that had worked before is reopened and the query tried once more.
        """
        return self._retried(lambda connection: _query(connection, sql, params, max_rows), seconds)

    def transaction(
        self, statements: Sequence[tuple[str, Sequence[object]]], only_if_first_changes: bool = False
    ) -> list[int]:
        """Run ``statements`` in one transaction: all or nothing; the rows each changed.
        ``only_if_first_changes``: when the first statement changes no row, nothing is kept and the
        rest does not run (a guarded update and its history, together or not at all).

        Raises like :meth:`fetch`; a unique key violated is a DatabaseError of SQLSTATE class 23.
        """
        return self._retried(lambda connection: _transact(connection, statements, only_if_first_changes))

    def _retried(self, work: Callable[[Any], Any], seconds: float | None = None) -> Any:
        with self._lock:
            if self._closed:
                # A thread still busy when Orthanc stopped must not open a connection again.
                raise DatabaseError(f"{self.name} is closed: Orthanc is stopping", "08003")
            reused = self._connection is not None
            try:
                return self._run(work, seconds)
            except DatabaseError as error:
                if not (reused and error.connection and not error.timeout):
                    raise
                log.warning("the database connection was lost (%s); reconnecting and retrying once", error)
            return self._run(work, seconds)

    def close(self, timeout: float = 2.0) -> None:
        """Close the connection and end the worker thread (when Orthanc stops); later calls fail."""
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
            worker, self._worker = self._worker, None
        if worker is not None:
            if connection is not None:
                worker.submit(_close, connection)
            if not worker.stop(timeout):
                log.warning("the database worker did not end within %s s; Orthanc stops anyway", timeout)
        elif connection is not None:
            _close(connection)


def _query(connection: Any, sql: str, params: Sequence[object], max_rows: int | None) -> FetchResult:
    started = time.perf_counter()
    cursor = connection.cursor()
    try:
        cursor.execute(sql, *params) if params else cursor.execute(sql)
        columns = tuple(d[0] for d in cursor.description or ())
        types = tuple(d[1] if len(d) > 1 and isinstance(d[1], type) else None for d in cursor.description or ())
        rows = cursor.fetchmany(max_rows) if max_rows is not None else cursor.fetchall()
    finally:
        with contextlib.suppress(Exception):
            cursor.close()
    return FetchResult(columns, rows, time.perf_counter() - started, types)


def _transact(connection: Any, statements: Sequence[tuple[str, Sequence[object]]], guarded: bool) -> list[int]:
    counts: list[int] = []
    connection.autocommit = False
    try:
        cursor = connection.cursor()
        try:
            for sql, params in statements:
                cursor.execute(sql, *params) if params else cursor.execute(sql)
                counts.append(cursor.rowcount)
                if guarded and counts == [0]:
                    connection.rollback()
                    return counts
        finally:
            with contextlib.suppress(Exception):
                cursor.close()
        connection.commit()
    except Exception:
        with contextlib.suppress(Exception):
            connection.rollback()
        raise
    finally:
        with contextlib.suppress(Exception):
            connection.autocommit = True
    return counts


def _close(connection: Any) -> None:
    with contextlib.suppress(Exception):
        connection.close()


def _keeps_connection(error: DatabaseError | InternalError) -> bool:
    """Whether the connection is still good after this error: the statement failed, not the link."""
    if isinstance(error, InternalError) or error.sqlstate.startswith("23"):  # a key violated: the data's doing
        return True
    return not (error.connection or error.timeout) and error.sqlstate in _MISSING_STATES | {"42501"}
