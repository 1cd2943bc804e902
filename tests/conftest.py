"""Shared fixtures: the demo schedule, databases filled with it, and Orthanc serving them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from support import impromed
from support.runtimes import REPO
from support.servers import (
    MariaDBServer,
    OrthancServer,
    PostgresServer,
    import_items,
    plugin_settings,
    sqlite_connection_string,
    unreachable_postgres,
)
from vetmwl.tools import demo

# The tools and the settings find the repository's sql folder through this (see vetmwl.config.sql_dir).
os.environ.setdefault("VETMWL_SQL_DIR", str(REPO / "sql"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def today() -> date:
    return date.today()


@pytest.fixture(scope="session")
def demo_items(today: date) -> list[dict]:
    return demo.schedule(today, days=5)


@pytest.fixture(scope="session")
def demo_file(demo_items: list[dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("items") / "demo-items.json"
    path.write_text(json.dumps(demo_items, ensure_ascii=False))
    return path


@pytest.fixture(scope="session")
def sqlite_db(demo_file: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database (reached through ODBC) holding the demo schedule; its connection string."""
    connection = sqlite_connection_string(tmp_path_factory.mktemp("sqlite") / "worklist.sqlite")
    import_items("sqlite", connection, demo_file, "--create-schema")
    return connection


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_db(postgres: PostgresServer, demo_file: Path) -> str:
    """A PostgreSQL database holding the demo schedule; its ODBC connection string."""
    return postgres.with_items(demo_file)


@pytest.fixture
def own_postgres(demo_file: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL server holding the demo schedule (database ``worklist``) for one test alone,
    which may stop, restart or slow it."""
    with PostgresServer() as server:
        server.with_items(demo_file)
        yield server


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
    with MariaDBServer() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb_db(mariadb: MariaDBServer, demo_file: Path) -> str:
    """A MariaDB database holding the demo schedule; its ODBC connection string."""
    return mariadb.with_items(demo_file)


def _serving(workdir: Path, connection: str, dialect: str) -> Iterator[OrthancServer]:
    with OrthancServer(workdir, plugin_settings(connection, dialect)) as server:
        yield server


@pytest.fixture(scope="session")
def sqlite_orthanc(sqlite_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    yield from _serving(tmp_path_factory.mktemp("orthanc-sqlite"), sqlite_db, "sqlite")


@pytest.fixture(scope="session")
def postgres_orthanc(postgres_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    yield from _serving(tmp_path_factory.mktemp("orthanc-pg"), postgres_db, "postgresql")


@pytest.fixture(scope="session")
def mariadb_orthanc(mariadb_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    yield from _serving(tmp_path_factory.mktemp("orthanc-mariadb"), mariadb_db, "mariadb")


@pytest.fixture(scope="session")
def database_down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """Orthanc whose PostgreSQL database is down (nobody listens on its port)."""
    yield from _serving(tmp_path_factory.mktemp("orthanc-down"), unreachable_postgres(), "postgresql")


@pytest.fixture(scope="session")
def impromed_db(postgres: PostgresServer, today: date) -> str:
    """The ImproMed-shaped database with the transpiled view (support/impromed.py); the read-only
    reader's connection string."""
    postgres.create_database("impromed")
    impromed.build(postgres.connection_string("impromed"), today)
    return postgres.connection_string("impromed", user=impromed.READER, password=impromed.READER_PASSWORD)


@pytest.fixture(scope="session")
def impromed_orthanc(impromed_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """The host's Orthanc serving the ImproMed view, logged in as the reader."""
    settings = plugin_settings(impromed_db, "postgresql", View=impromed.VIEW)
    with OrthancServer(tmp_path_factory.mktemp("orthanc-impromed"), settings) as server:
        yield server
