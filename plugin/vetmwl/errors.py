"""The three ways a C-FIND can fail, by whose fault it is; the log, metrics and query log name them.

- :class:`QueryError` ("refused"): the modality's query cannot be understood. Nothing is retried.
- :class:`DatabaseError` ("failed"): the database is down, slow, or its view is wrong. Only a lost
  connection is reopened and the query retried once.
- :class:`InternalError` ("internal"): the plugin wrote something the database or Orthanc rejects.
  That is a bug of ours: it is logged with the SQL, and the connection is kept.
"""

from __future__ import annotations

#: Outcome names, as the query log, the metrics and the REST API show them.
OK, REFUSED, FAILED, INTERNAL = "ok", "refused", "failed", "internal"
OUTCOMES = (OK, REFUSED, FAILED, INTERNAL)


class QueryError(ValueError):
    """The identifier cannot be understood; the message is meant for the log and the modality."""

    outcome = REFUSED


class DatabaseError(RuntimeError):
    """A database failure, explained for the person who reads Orthanc's log.

    ``connection``: the connection is lost or was never made (SQLSTATE class 08, the server closed
    it), so it is reopened; ``timeout``: the database did not answer in time.
    """

    outcome = FAILED

    def __init__(self, message: str, sqlstate: str = "", timeout: bool = False, connection: bool = False) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.timeout = timeout
        self.connection = connection


class InternalError(RuntimeError):
    """The plugin's own mistake: SQL the driver rejects, or an answer Orthanc refuses."""

    outcome = INTERNAL

    def __init__(self, message: str, sqlstate: str = "") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        #: The SQL and the query's matching keys, for the log line that reports the bug.
        self.sql = ""
        self.keys: dict[str, str] = {}


class CheckTimeout(DatabaseError):
    """The plugin's own checks of the rows SQL returned ran past QueryTimeout: the C-FIND fails as a
    slow database would, and releases the worklist, rather than hold every modality waiting."""

    def __init__(self, message: str, keys: tuple[str, ...]) -> None:
        super().__init__(message, timeout=True)
        self.keys_checked = keys
