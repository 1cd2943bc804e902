"""Retention: the housekeeping thread deletes what is older than StateStore.RetentionDays, in short
batches, on a real SQLite store, while the worklist goes on reading the store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.stores import sqlite_store
from vetmwl.performed import DAY_US, Housekeeping
from vetmwl.progress import IN_PROGRESS, MPPS, PerformedStep, ProgressStore, Reference, StepKeys

NOW_US = 2_000_000_000 * 1_000_000  # 2033, the store's clock below


def old_steps(store: ProgressStore, count: int, age_days: float, prefix: str) -> None:
    """``count`` performed steps last changed ``age_days`` ago, in one transaction (fast)."""
    stamp = NOW_US - int(age_days * DAY_US)
    statements = []
    for n in range(count):
        step = PerformedStep(
            f"{prefix}.{n}",
            MPPS,
            IN_PROGRESS,
            calling_aet="DX_ROOM1",
            created_us=stamp,
            updated_us=stamp,
            references=(Reference(f"SPS{n}", f"{prefix}-{n}", f"{prefix}.9.{n}"),),
        )
        statements += store._inserts(step)
    store.ensure_schema()
    store.database.transaction(statements)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProgressStore]:
    s = sqlite_store(tmp_path / "progress.sqlite", start_us=NOW_US, step_us=1)
    yield s
    s.database.close()


def test_a_pass_deletes_only_what_is_older_than_the_retention(store: ProgressStore) -> None:
    old_steps(store, 3, 400, "1.1")
    old_steps(store, 2, 364, "1.2")
    keeper = Housekeeping(store, 365, first=3600)
    try:
        assert keeper.run_once() == 3
        assert keeper.run_once() == 0
    finally:
        keeper.stop()
    assert sorted(s.uid for s in store.recent()) == ["1.2.0", "1.2.1"]


def test_a_pass_is_bounded_and_the_backlog_drains_over_passes(store: ProgressStore) -> None:
    old_steps(store, 25, 800, "1.3")
    keeper = Housekeeping(store, 365, first=3600, batch=4, batches=3)
    try:
        assert [keeper.run_once() for _ in range(4)] == [12, 12, 1, 0]
    finally:
        keeper.stop()


def test_the_thread_runs_a_pass_and_the_worklist_keeps_reading_meanwhile(
    store: ProgressStore, caplog: pytest.LogCaptureFixture
) -> None:
    """2,000 expired steps in batches of 200: a reader of the store (as a C-FIND) never waits long."""
    caplog.set_level("INFO", logger="vetmwl")
    old_steps(store, 2000, 500, "1.4")
    old_steps(store, 1, 1, "1.5")
    waits: list[float] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            started = time.perf_counter()
            store.states([StepKeys("SPS0", "1.5-0", "1.5.9.0")])
            waits.append(time.perf_counter() - started)

    thread = threading.Thread(target=reader)
    thread.start()
    keeper = Housekeeping(store, 365, first=0.05, interval=3600)
    try:
        deadline = time.monotonic() + 30
        while len(store.recent(5)) > 1:
            assert time.monotonic() < deadline, "the housekeeping pass did not finish"
            time.sleep(0.05)
    finally:
        keeper.stop()
        done.set()
        thread.join()
    assert [s.uid for s in store.recent()] == ["1.5.0"]
    assert any("2000 performed step(s) unchanged for 365 days deleted" in r.getMessage() for r in caplog.records)
    assert len(waits) > 10 and max(waits) < 0.5, max(waits)


def test_the_thread_stops_promptly(store: ProgressStore) -> None:
    keeper = Housekeeping(store, 365)
    started = time.monotonic()
    keeper.stop()
    assert time.monotonic() - started < 1
    assert not any(t.name == "vetmwl-housekeeping" and t.is_alive() for t in threading.enumerate())
