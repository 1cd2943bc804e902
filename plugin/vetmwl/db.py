"""One reused ODBC connection that recovers by itself, with timeouts and errors in plain words.

Orthanc serialises all worklist callbacks, so one connection is enough and pooling buys nothing.
A connection that failed is dropped; the next query opens a new one. When a query fails on a
connection that had worked before (the server restarted while we were idle), it is retried once
on a fresh connection, so the first modality query after an outage already succeeds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .config import mask_secrets

log = logging.getLogger("vetmwl.db")

_TIMEOUT_STATES = {"HYT00", "HYT01", "57014"}
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
}


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
    if connection_string:
        detail = detail.replace(connection_string, mask_secrets(connection_string))
    hint = _HINTS.get(sqlstate)
    if not hint and "timeout" in detail.lower():
        hint = "the database did not answer in time"
    if not hint and ("could not connect" in detail.lower() or "connection refused" in detail.lower()):
        hint = _HINTS["08001"]
    message = f"{hint}. Driver said: [{sqlstate}] {detail}" if hint else f"[{sqlstate}] {detail}"
    return DatabaseError(message, sqlstate, timeout=sqlstate in _TIMEOUT_STATES)


class Database:
    """Runs read-only queries on one lazily opened, self-healing ODBC connection."""

    def __init__(
        self,
        connection_string: str,
        query_timeout: int,
        connect_timeout: int,
        connect: Callable[..., Any] | None = None,
    ) -> None:
        if connect is None:
            import pyodbc

            connect = pyodbc.connect
        self._connection_string = connection_string
        self._query_timeout = query_timeout
        self._connect_timeout = connect_timeout
        self._connect = connect
        self._connection: Any = None
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def _open(self) -> Any:
        try:
            connection = self._connect(
                self._connection_string, autocommit=True, timeout=self._connect_timeout
            )
            connection.timeout = self._query_timeout
        except Exception as exc:
            raise explain(exc, self._connection_string) from exc
        log.info("connected to the worklist database")
        return connection

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    def fetch(self, sql: str, params: Sequence[object] = (), max_rows: int | None = None) -> FetchResult:
        """Run ``sql``; return column names and up to ``max_rows`` rows. Raises DatabaseError."""
        with self._lock:
            reused = self._connection is not None
            try:
                return self._fetch_once(sql, params, max_rows)
            except DatabaseError as error:
                self._drop()
                if not reused or error.timeout:
                    self.last_error = str(error)
                    raise
                log.warning("the database connection failed (%s); reconnecting and retrying once", error)
            try:
                return self._fetch_once(sql, params, max_rows)
            except DatabaseError as error:
                self._drop()
                self.last_error = str(error)
                raise

    def _fetch_once(self, sql: str, params: Sequence[object], max_rows: int | None) -> FetchResult:
        if self._connection is None:
            self._connection = self._open()
        started = time.perf_counter()
        try:
            cursor = self._connection.cursor()
            try:
                cursor.execute(sql, *params) if params else cursor.execute(sql)
                columns = tuple(d[0] for d in cursor.description or ())
                rows = cursor.fetchmany(max_rows) if max_rows is not None else cursor.fetchall()
            finally:
                cursor.close()
        except DatabaseError:
            raise
        except Exception as exc:
            raise explain(exc, self._connection_string) from exc
        self.last_error = None
        return FetchResult(columns, rows, time.perf_counter() - started)


class FetchResult:
    """Column names as the driver reports them, the rows, and the seconds the query took."""

    __slots__ = ("columns", "rows", "seconds")

    def __init__(self, columns: tuple[str, ...], rows: list[Any], seconds: float) -> None:
        self.columns = columns
        self.rows = rows
        self.seconds = seconds
