"""The import command, run as a user runs it, against SQLite (ODBC), a real PostgreSQL and a real MariaDB."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import pyodbc
import pytest

from conftest import sqlite_connection_string
from support.servers import REPO

PYTHON = str(REPO / ".venv" / "bin" / "python")


def run_import(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "vetmwl.importer", *args],
        cwd=REPO / "plugin",
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
    )


def count(connection_string: str) -> int:
    with pyodbc.connect(connection_string) as connection:
        return connection.execute("SELECT COUNT(*) FROM worklist").fetchone()[0]


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def empty_database(request, tmp_path: Path) -> tuple[str, str]:
    """(dialect, connection string) of a database with the reference schema and no rows."""
    name = f"import_{tmp_path.name.lower().replace('-', '_')}"[:60]
    if request.param == "sqlite":
        connection = sqlite_connection_string(tmp_path / "import.sqlite")
    elif request.param == "mariadb":
        mariadb = request.getfixturevalue("mariadb")
        mariadb.sql(f"CREATE DATABASE {name}")
        connection = mariadb.connection_string(name)
    else:
        postgres = request.getfixturevalue("postgres")
        postgres.psql(f"CREATE DATABASE {name}")
        connection = postgres.connection_string(name)
    done = run_import("--dialect", request.param, "--connection", connection, "--create-schema", "-", stdin="[]")
    assert done.returncode == 0, done.stderr
    return request.param, connection


def good_item(n: int) -> dict:
    return {
        "PatientName": "Müller^Bello",
        "PatientID": f"{n:06d}",
        "PatientBirthDate": "20190117",
        "PatientSex": "M",
        "PatientWeight": 38.5,
        "PatientSpeciesDescription": "Canis lupus familiaris",
        "ResponsiblePerson": "Müller",
        "ResponsiblePersonRole": "OWNER",
        "AccessionNumber": f"ACC{n}",
        "SpecificCharacterSet": "ISO_IR 192",
        "ScheduledProcedureStepSequence": [
            {
                "Modality": "DX",
                "ScheduledStationAETitle": "DX_ROOM1",
                "ScheduledProcedureStepStartDate": "20261127",
                "ScheduledProcedureStepStartTime": "0930",
                "ScheduledProcedureStepID": f"S{n}",
            }
        ],
    }


def test_good_items_load(empty_database, tmp_path: Path) -> None:
    dialect, connection = empty_database
    items = tmp_path / "items.json"
    items.write_text(json.dumps([good_item(1), good_item(2), good_item(3)]))
    done = run_import("--dialect", dialect, "--connection", connection, str(items))
    assert done.returncode == 0, done.stderr
    assert "imported 3 worklist item(s)" in done.stdout
    assert count(connection) == 3
    with pyodbc.connect(connection) as db:
        name, start, weight = db.execute(
            "SELECT PatientName, ScheduledProcedureStepStartDateTime, PatientWeight FROM worklist WHERE PatientID = ?",
            "000002",
        ).fetchone()
    assert name == "Müller^Bello"
    assert str(start).startswith("2026-11-27 09:30:00")
    assert float(weight) == 38.5


def test_json_lines_from_stdin(empty_database) -> None:
    dialect, connection = empty_database
    lines = "\n".join(json.dumps(good_item(n)) for n in range(5))
    done = run_import("--dialect", dialect, "--connection", connection, "-", stdin=lines)
    assert done.returncode == 0, done.stderr
    assert count(connection) == 5


def test_bad_items_are_reported_and_nothing_is_loaded(empty_database, tmp_path: Path) -> None:
    dialect, connection = empty_database
    bad_date = good_item(2)
    bad_date["PatientBirthDate"] = "20191301"
    bad_modality = good_item(4)
    bad_modality["ScheduledProcedureStepSequence"][0]["Modality"] = "dx"
    two_steps = good_item(5)
    two_steps["ScheduledProcedureStepSequence"].append({"Modality": "CR"})
    long_accession = good_item(6)
    long_accession["AccessionNumber"] = "A" * 17
    items = [good_item(1), bad_date, good_item(3), bad_modality, two_steps, long_accession, good_item(1)]
    path = tmp_path / "items.json"
    path.write_text(json.dumps(items))
    done = run_import("--dialect", dialect, "--connection", connection, str(path))
    assert done.returncode == 1
    errors = done.stderr
    assert "item 2: PatientBirthDate" in errors
    assert "item 4: Modality" in errors
    assert "item 5: ScheduledProcedureStepSequence must be a list holding exactly one object" in errors
    assert "item 6: AccessionNumber" in errors and "16" in errors
    assert "item 7: ScheduledProcedureStepID 'S1' repeats item 1" in errors
    assert "item 1:" not in errors and "item 3:" not in errors
    assert "nothing imported: 5 of 7 item(s) are invalid" in errors
    assert count(connection) == 0


def test_demo_schedule_round_trips(empty_database, tmp_path: Path) -> None:
    from vetmwl.demo import schedule

    dialect, connection = empty_database
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(schedule(date(2026, 12, 30), days=4), ensure_ascii=False))
    done = run_import("--dialect", dialect, "--connection", connection, str(path))
    assert done.returncode == 0, done.stderr
    assert count(connection) == len(schedule(date(2026, 12, 30), days=4))


def test_unreachable_database_is_explained(tmp_path: Path) -> None:
    from support.servers import free_port

    connection = f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={free_port()};Database=x;Uid=u;Pwd=hunter2;"
    done = run_import("--dialect", "postgresql", "--connection", connection, "-", stdin=json.dumps([good_item(1)]))
    assert done.returncode == 3
    assert "nothing imported: the database server cannot be reached" in done.stderr
    assert "hunter2" not in done.stderr
