"""Shared fixtures: the demo schedule, databases filled with it, and Orthanc serving them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from support.runtimes import REPO
from support.servers import MariaDBServer, OrthancServer, PostgresServer
from vetmwl.tools import demo, importer

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


def sqlite_connection_string(path: Path) -> str:
    return f"Driver=SQLite3;Database={path}"


@pytest.fixture(scope="session")
def sqlite_db(demo_file: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database (reached through ODBC) holding the demo schedule; its connection string."""
    path = tmp_path_factory.mktemp("sqlite") / "worklist.sqlite"
    connection = sqlite_connection_string(path)
    status = importer.main(["--dialect", "sqlite", "--connection", connection, "--create-schema", str(demo_file)])
    assert status == 0
    return connection


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().init()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def postgres_db(postgres: PostgresServer, demo_file: Path) -> str:
    """A PostgreSQL database holding the demo schedule; its ODBC connection string."""
    postgres.psql("CREATE DATABASE worklist")
    connection = postgres.connection_string("worklist")
    status = importer.main(["--dialect", "postgresql", "--connection", connection, "--create-schema", str(demo_file)])
    assert status == 0
    return connection


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
    server = MariaDBServer().init()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def mariadb_db(mariadb: MariaDBServer, demo_file: Path) -> str:
    """A MariaDB database holding the demo schedule; its ODBC connection string."""
    mariadb.sql("CREATE DATABASE worklist")
    connection = mariadb.connection_string("worklist")
    status = importer.main(["--dialect", "mariadb", "--connection", connection, "--create-schema", str(demo_file)])
    assert status == 0
    return connection


def plugin_settings(connection: str, dialect: str, **extra: object) -> dict:
    return {"ConnectionString": connection, "Dialect": dialect, "QueryTimeout": 5, **extra}


@pytest.fixture(scope="session")
def sqlite_orthanc(sqlite_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-sqlite"), plugin_settings(sqlite_db, "sqlite"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_orthanc(postgres_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-pg"), plugin_settings(postgres_db, "postgresql"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mariadb_orthanc(mariadb_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-mariadb"), plugin_settings(mariadb_db, "mariadb"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
