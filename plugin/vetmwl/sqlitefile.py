"""Python's own sqlite3 behind the face of a pyodbc connection, for the state store's default file.

The state store runs on :class:`vetmwl.db.Database` (its deadline, reconnects and plain-word
errors) whatever holds it. Its default is a SQLite file beside Orthanc's storage, which must work
without an ODBC driver (Docker images rarely carry SQLite's), so this adapter gives ``sqlite3``
the few pyodbc manners the database code uses: ``connect(path, autocommit=, timeout=)``,
``cursor().execute(sql, *params)``, ``autocommit``, ``commit`` and ``rollback``.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class _Cursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, *params: object) -> _Cursor:
        self._cursor.execute(sql, params)
        return self

    @property
    def description(self) -> Sequence[Sequence[Any]] | None:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall()

    def fetchmany(self, size: int) -> list[tuple]:
        return self._cursor.fetchmany(size)

    def close(self) -> None:
        self._cursor.close()


class SqliteConnection:
    """One sqlite3 connection, usable from the database worker thread that opened it or another."""

    timeout: int = 0  # set by Database like pyodbc's; SQLite waits for locks ``busy_timeout`` instead

    def __init__(self, path: str, timeout: int) -> None:
        private_file(Path(path))
        self._connection = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer

    @property
    def autocommit(self) -> bool:
        return self._connection.isolation_level is None

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self._connection.isolation_level = None if value else "DEFERRED"

    def cursor(self) -> _Cursor:
        return _Cursor(self._connection.cursor())

    def commit(self) -> None:
        self._connection.commit()

    def rollback(self) -> None:
        self._connection.rollback()

    def setencoding(self, **_: object) -> None:
        """pyodbc's text encoding switch: sqlite3 always speaks UTF-8."""

    def close(self) -> None:
        self._connection.close()


def private_file(path: Path) -> None:
    """Make ``path`` (and its folder) if missing, readable by Orthanc's user only (0600): the state
    store holds patients' names and accession numbers. SQLite gives its -wal and -shm files the
    database file's mode. A file made earlier with looser permissions is tightened when it is ours."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        info = path.stat()
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
            path.chmod(stat.S_IMODE(info.st_mode) & 0o700)


def connect(path: str, autocommit: bool = True, timeout: int = 5) -> SqliteConnection:
    """Open the SQLite file ``path`` (its folder made if missing), as ``pyodbc.connect`` would a DSN."""
    connection = SqliteConnection(path, timeout)
    connection.autocommit = autocommit
    return connection
