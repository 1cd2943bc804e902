"""The bounded ring of recent C-FINDs: order, bounds, filters and concurrent writers."""

from __future__ import annotations

import threading

import pytest

from vetmwl.web.querylog import QueryLog


def add(log: QueryLog, n: int, status: str = "ok") -> None:
    log.record(time=1000.0 + n, calling_aet=f"AE{n}", called_aet="VETMWL", status=status, answers=n)


def test_records_are_numbered_and_listed_newest_first() -> None:
    log = QueryLog(capacity=10)
    for n in range(3):
        add(log, n)
    assert [r.seq for r in log.recent()] == [3, 2, 1]
    assert [r.calling_aet for r in log.recent()] == ["AE2", "AE1", "AE0"]
    assert log.total == 3


def test_the_ring_keeps_only_the_newest() -> None:
    log = QueryLog(capacity=3)
    for n in range(5):
        add(log, n)
    assert [r.seq for r in log.recent()] == [5, 4, 3]
    assert log.total == 5


def test_since_and_limit() -> None:
    log = QueryLog(capacity=10)
    for n in range(6):
        add(log, n)
    assert [r.seq for r in log.recent(since=4)] == [6, 5]
    assert [r.seq for r in log.recent(limit=2)] == [6, 5]
    assert [r.seq for r in log.recent(since=1, limit=3)] == [6, 5, 4]
    assert log.recent(since=6) == []


def test_a_record_keeps_what_the_callback_knew() -> None:
    log = QueryLog()
    entry = log.record(
        time=12.5,
        calling_aet="DX_ROOM1",
        called_aet="VETMWL",
        status="failed",
        seconds=0.25,
        error="the database server cannot be reached",
        identifier=b"raw",
    )
    assert entry.calling_address is None
    assert (entry.answers, entry.incomplete, entry.sql_seconds) == (0, False, None)
    assert log.recent() == [entry]


def test_unknown_status_and_empty_ring_are_refused() -> None:
    with pytest.raises(ValueError, match="status"):
        add(QueryLog(), 1, status="maybe")
    with pytest.raises(ValueError, match="at least one"):
        QueryLog(capacity=0)


def test_concurrent_writers_lose_nothing() -> None:
    log = QueryLog(capacity=50)
    readers_saw: list[int] = []

    def write() -> None:
        for n in range(500):
            add(log, n)

    def read() -> None:
        for _ in range(200):
            seqs = [r.seq for r in log.recent()]
            assert seqs == sorted(seqs, reverse=True)
            readers_saw.append(len(seqs))

    threads = [threading.Thread(target=write) for _ in range(4)] + [threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.total == 2000
    assert [r.seq for r in log.recent()] == list(range(2000, 1950, -1))
    assert max(readers_saw) <= 50
