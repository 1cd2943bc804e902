"""The void and the retention pass on the shared state stores of real servers (PostgreSQL, MariaDB):
the same SQL as on SQLite, with the server's own parser, locks and row counts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.servers import MariaDBServer, PostgresServer
from vetmwl.config import load_settings
from vetmwl.performed import DAY_US, Housekeeping, make_store
from vetmwl.progress import IN_PROGRESS, MPPS, VOIDED, PerformedStep, ProgressStore, Reference, StepKeys

NOW_US = 1_900_000_000 * 1_000_000


@pytest.fixture(params=["postgresql", "mariadb"])
def store(request: pytest.FixtureRequest) -> Iterator[ProgressStore]:
    name = f"housekeeping_{request.param}"
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        server.create_database(name)
        connection = server.connection_string(name)
    else:
        maria: MariaDBServer = request.getfixturevalue("mariadb")
        maria.sql(f"CREATE DATABASE {name}")
        connection = maria.connection_string(name)
    settings = load_settings(
        {
            "SqlWorklist": {
                "ConnectionString": "Driver=unused",
                "Dialect": "sqlite",
                "StudyArrival": {"Event": "StableStudy"},
                "StateStore": {"ConnectionString": connection, "Dialect": request.param},
            }
        }
    )
    made = make_store(settings, "housekeeping test")
    assert made is not None
    ticks = iter(range(NOW_US, NOW_US + 10**9))
    made.clock = lambda: next(ticks)
    yield made
    made.database.close()


def aged(store: ProgressStore, uid: str, days: float, accession: str) -> None:
    stamp = NOW_US - int(days * DAY_US)
    step = PerformedStep(
        uid,
        MPPS,
        IN_PROGRESS,
        calling_aet="DX_ROOM1",
        created_us=stamp,
        updated_us=stamp,
        references=(Reference("SPS1", accession, f"{uid}.9"),),
    )
    store.ensure_schema()
    store.database.transaction(store._inserts(step))


def test_void_and_retention_on_a_shared_store(store: ProgressStore) -> None:
    aged(store, "1.1", 400, "ACC1")
    aged(store, "1.2", 500, "ACC2")
    aged(store, "1.3", 10, "ACC3")
    keys = StepKeys("SPS1", "ACC3", "")
    assert [s.status for s in store.states([keys])] == [IN_PROGRESS]
    assert store.void("1.3", "frontdesk", "voided over REST by frontdesk: test")
    assert not store.void("1.3", "frontdesk", "again")
    assert store.states([keys]) == []
    voided = store.get("1.3")
    assert voided is not None and voided.status == VOIDED and [e.event for e in voided.events] == ["VOID"]
    keeper = Housekeeping(store, 365, first=3600, batch=1, batches=5)
    try:
        assert keeper.run_once() == 2
    finally:
        keeper.stop()
    assert [s.uid for s in store.recent()] == ["1.3"]
    left = store.database.fetch("SELECT COUNT(*) FROM vetmwl_step_reference WHERE step_uid <> ?", ("1.3",))
    assert left.rows[0][0] == 0
