"""Fixtures of the integration tests that several modules share: the ImproMed-shaped database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from support import impromed
from support.servers import OrthancServer, PostgresServer, plugin_settings


@pytest.fixture(scope="session")
def impromed_db(postgres: PostgresServer, today: date) -> str:
    """The ImproMed-shaped database with the transpiled view; the read-only reader's connection string."""
    postgres.create_database("impromed")
    impromed.build(postgres.connection_string("impromed"), today)
    return postgres.connection_string("impromed", user=impromed.READER, password=impromed.READER_PASSWORD)


@pytest.fixture(scope="session")
def impromed_orthanc(impromed_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """Orthanc serving the ImproMed view, logged in as the reader."""
    settings = plugin_settings(impromed_db, "postgresql", View=impromed.VIEW)
    with OrthancServer(tmp_path_factory.mktemp("orthanc-impromed"), settings) as server:
        yield server
