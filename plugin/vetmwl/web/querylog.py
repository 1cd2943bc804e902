"""The recent C-FINDs, kept in a bounded ring in memory for the REST log and the Explorer page.

Orthanc runs worklist callbacks one at a time under a global lock, so recording must be cheap: a
record keeps the raw identifier bytes as Orthanc handed them over, and the REST side decodes them
only when somebody looks. The ring is read from Orthanc's HTTP threads, hence the lock.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from ..errors import OUTCOMES

#: How many C-FINDs the ring keeps; older ones drop out.
DEFAULT_CAPACITY = 200

#: Outcomes of a C-FIND: answered, refused (the query's fault), failed (the database's or the
#: configuration's), internal (the plugin's); see vetmwl.errors.
STATUSES = OUTCOMES


@dataclass(frozen=True)
class QueryRecord:
    """One C-FIND as the plugin saw it."""

    seq: int
    time: float
    calling_aet: str
    called_aet: str
    status: str
    answers: int
    incomplete: bool
    seconds: float
    sql_seconds: float | None
    error: str
    identifier: bytes
    #: The modality's IP address, where orthanc-python tells it (RegisterWorklistCallback2), else None.
    calling_address: str | None = None


class QueryLog:
    """A thread-safe ring of the last ``capacity`` C-FINDs, each numbered from 1."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("the query log needs room for at least one record")
        self.capacity = capacity
        self._records: deque[QueryRecord] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._seq = 0

    def record(
        self,
        *,
        time: float,
        calling_aet: str,
        called_aet: str,
        status: str,
        answers: int = 0,
        incomplete: bool = False,
        seconds: float = 0.0,
        sql_seconds: float | None = None,
        error: str = "",
        identifier: bytes = b"",
        calling_address: str | None = None,
    ) -> QueryRecord:
        """Append one C-FIND; the oldest drops out when the ring is full."""
        if status not in STATUSES:
            raise ValueError(f"unknown C-FIND status {status!r}")
        with self._lock:
            self._seq += 1
            entry = QueryRecord(
                seq=self._seq,
                time=time,
                calling_aet=calling_aet,
                called_aet=called_aet,
                status=status,
                answers=answers,
                incomplete=incomplete,
                seconds=seconds,
                sql_seconds=sql_seconds,
                error=error,
                identifier=identifier,
                calling_address=calling_address,
            )
            self._records.append(entry)
        return entry

    def recent(self, since: int = 0, limit: int | None = None) -> list[QueryRecord]:
        """Records newer than sequence number ``since``, newest first, at most ``limit`` of them."""
        with self._lock:
            snapshot = list(self._records)
        newest_first = [r for r in reversed(snapshot) if r.seq > since]
        return newest_first if limit is None else newest_first[:limit]

    @property
    def total(self) -> int:
        """How many C-FINDs were recorded since Orthanc started, including those that dropped out."""
        with self._lock:
            return self._seq
