"""A state store of performed steps on a real SQLite file, with a clock the test sets."""

from __future__ import annotations

import itertools
from pathlib import Path

from vetmwl import sqlitefile
from vetmwl.config import MATCH_KEYS, sql_dir
from vetmwl.db import Database
from vetmwl.progress import ProgressStore


def sqlite_store(
    path: Path,
    *,
    start_us: int = 1_000_000,
    step_us: int = 1_000,
    recorded_by: str = "test",
    database: Database | None = None,
) -> ProgressStore:
    """A store in the SQLite file ``path`` (or on ``database``) whose clock starts at ``start_us``
    and moves ``step_us`` at each reading, so that every change has its own time."""
    database = database if database is not None else Database(str(path), 5, 5, connect=sqlitefile.connect)
    store = ProgressStore(database, "sqlite", sql_dir() / "progress", MATCH_KEYS, recorded_by)
    ticks = itertools.count(start_us, step_us)
    store.clock = lambda: next(ticks)
    return store
