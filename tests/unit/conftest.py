"""Fixtures of the unit tests that drive the wiring."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.stores import sqlite_store
from vetmwl.progress import ProgressStore
from vetmwl.service import WorklistService


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """register() sends the 'vetmwl' logger to Orthanc only; give it back to pytest afterwards."""
    logger = logging.getLogger("vetmwl")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.fixture
def services() -> Iterator[list[WorklistService]]:
    """Services the test registered, closed at its end."""
    created: list[WorklistService] = []
    yield created
    for service in created:
        service.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProgressStore]:
    """A state store of performed steps on a fresh SQLite file (see support.stores), closed at the end."""
    s = sqlite_store(tmp_path / "state" / "progress.sqlite")
    yield s
    s.database.close()
