"""One reused ODBC connection that recovers by itself, with a hard deadline and plain-word errors.

Orthanc serialises all worklist callbacks, so one connection is enough, and a query that hangs
would hang every modality. So each query runs on a worker thread and the caller waits at most
``query_timeout`` (+1 s of grace for the driver's own timeout to speak first). A worker that misses
the deadline is abandoned with its connection; the next query gets a fresh worker and connection.
A query that fails on a connection that had worked before (the server restarted while we were
idle) is retried once on a fresh connection, so the first query after an outage already succeeds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from .config import mask_secrets

log = logging.getLogger("vetmwl.db")

_TIMEOUT_STATES = {"HYT00", "HYT01", "57014", "HY018"}
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
    "HYT00": "the database did not answer within SqlWorklist.QueryTimeout",
    "HYT01": "the database did not answer within SqlWorklist.ConnectTimeout",
    "57014": "the database cancelled the query: it took longer than SqlWorklist.QueryTimeout",
    "HY018": "the database cancelled the query: it took longer than SqlWorklist.QueryTimeout",
}
_UNREACHABLE = (
    "could not connect",
    "can't connect",
    "connection refused",
    "no route to host",
    "could not translate host",
)


class DatabaseError(RuntimeError):
    """A database failure, explained for the person who reads Orthanc's log."""

    def __init__(self, message: str, sqlstate: str = "", timeout: bool = False) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.timeout = timeout


def explain(exc: BaseException, connection_string: str = "") -> DatabaseError:
    """Turn a pyodbc exception into a :class:`DatabaseError` with a hint on what to fix."""
    args = getattr(exc, "args", ())
    sqlstate = args[0] if len(args) > 1 and isinstance(args[0], str) else ""
    detail = str(args[1] if len(args) > 1 else exc)
    if sqlstate and detail.startswith(f"[{sqlstate}]"):
        detail = detail[len(sqlstate) + 2 :].lstrip()
    if connection_string:
        detail = detail.replace(connection_string, mask_secrets(connection_string))
    hint = _HINTS.get(sqlstate)
    lowered = detail.lower()
    if not hint and any(words in lowered for words in _UNREACHABLE):
        hint = _HINTS["08001"]
    if not hint and "timeout" in lowered:
        hint = "the database did not answer in time"
    if not hint and ("server closed the connection" in lowered or ("connection" in lowered and "lost" in lowered)):
        hint = _HINTS["08S01"]
    message = f"{hint}. Driver said: [{sqlstate}] {detail}" if hint else f"[{sqlstate}] {detail}"
    return DatabaseError(message, sqlstate, timeout=sqlstate in _TIMEOUT_STATES)


class FetchResult:
    """Column names as the driver reports them, the rows, and the seconds the query took."""

    __slots__ = ("columns", "rows", "seconds")

    def __init__(self, columns: tuple[str, ...], rows: list[Any], seconds: float) -> None:
        self.columns = columns
        self.rows = rows
        self.seconds = seconds


class Database:
    """Runs read-only queries on one lazily opened, self-healing ODBC connection."""

    def __init__(
        self,
        connection_string: str,
        query_timeout: int,
        connect_timeout: int,
        session_sql: Sequence[str] = (),
        connect: Callable[..., Any] | None = None,
    ) -> None:
        if connect is None:
            import pyodbc

            connect = pyodbc.connect
        self._connection_string = connection_string
        self._query_timeout = query_timeout
        self._connect_timeout = connect_timeout
        self._session_sql = [s for s in session_sql if s.strip()]
        self._connect = connect
        self._connection: Any = None
        self._lock = threading.Lock()
        self._executor = self._new_executor()
        self.abandoned_workers = 0
        self.last_error: str | None = None

    @staticmethod
    def _new_executor() -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="vetmwl-db")

    # -- runs on the worker thread -------------------------------------------------------------
    def _open(self) -> Any:
        connection = None
        try:
            connection = self._connect(self._connection_string, autocommit=True, timeout=self._connect_timeout)
            # Drivers that support a per-statement timeout enforce it themselves; psqlODBC does not
            # (it gets statement_timeout from the session SQL instead), and the deadline covers all.
            with contextlib.suppress(Exception):
                connection.timeout = self._query_timeout
            cursor = connection.cursor()
            for statement in self._session_sql:
                cursor.execute(statement)
            cursor.close()
        except Exception as exc:
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.close()
            raise explain(exc, self._connection_string) from exc
        log.info("connected to the worklist database")
        return connection

    def _job(self, connection: Any, sql: str, params: Sequence[object], max_rows: int | None) -> tuple:
        opened = connection is None
        if opened:
            connection = self._open()
        started = time.perf_counter()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, *params) if params else cursor.execute(sql)
                columns = tuple(d[0] for d in cursor.description or ())
                rows = cursor.fetchmany(max_rows) if max_rows is not None else cursor.fetchall()
            finally:
                cursor.close()
        except Exception as exc:
            with contextlib.suppress(Exception):
                connection.close()
            raise explain(exc, self._connection_string) from exc
        return connection, FetchResult(columns, rows, time.perf_counter() - started)

    # -- runs on the caller's thread (Orthanc's) ------------------------------------------------
    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    def _run(self, sql: str, params: Sequence[object], max_rows: int | None) -> FetchResult:
        connection, self._connection = self._connection, None
        deadline = self._query_timeout + (0 if connection else self._connect_timeout) + 1
        future = self._executor.submit(self._job, connection, sql, params, max_rows)
        try:
            self._connection, result = future.result(timeout=deadline)
        except FutureTimeout:
            # The worker is stuck inside the driver: leave it (and its connection) behind.
            self._executor.shutdown(wait=False)
            self._executor = self._new_executor()
            self.abandoned_workers += 1
            raise DatabaseError(
                f"the database did not answer within {deadline} seconds (SqlWorklist.QueryTimeout); "
                "the connection was abandoned and a new one will be opened",
                "HYT00",
                timeout=True,
            ) from None
        return result

    def fetch(self, sql: str, params: Sequence[object] = (), max_rows: int | None = None) -> FetchResult:
        """Run ``sql``; return column names and up to ``max_rows`` rows. Raises DatabaseError."""
        with self._lock:
            reused = self._connection is not None
            try:
                result = self._run(sql, params, max_rows)
            except DatabaseError as error:
                if not reused or error.timeout:
                    self.last_error = str(error)
                    raise
                log.warning("the database connection failed (%s); reconnecting and retrying once", error)
                try:
                    result = self._run(sql, params, max_rows)
                except DatabaseError as retry_error:
                    self.last_error = str(retry_error)
                    raise
            self.last_error = None
            return result

    def close(self) -> None:
        with self._lock:
            self._drop()
