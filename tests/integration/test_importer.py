"""The import command, run as a user runs it, against SQLite (ODBC), a real PostgreSQL and a real MariaDB."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyodbc
import pytest

from support.k61_items import SPS, k61_items, keyword_of_key, normalized_dataset, normalized_item, row_dataset
from support.servers import REPO, OrthancServer, sqlite_connection_string
from vetmwl import model

PYTHON = str(REPO / ".venv" / "bin" / "python")


def run_import(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "vetmwl.tools.importer", *args],
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


def rows_of(connection_string: str, table: str = "worklist") -> list[dict[str, Any]]:
    """Every row, as {column name as the database spells it: value}, in step ID order."""
    with pyodbc.connect(connection_string) as connection:
        cursor = connection.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    return sorted(rows, key=lambda r: next(v for k, v in r.items() if k.lower() == "scheduledprocedurestepid"))


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
    from vetmwl.tools.demo import schedule

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


# -- every attribute of the model, stored and read back -----------------------------------------------
def test_k61_items_round_trip(empty_database, tmp_path: Path) -> None:
    """Every attribute of the K.6-1 items is in the table: the row, rebuilt, equals the item."""
    dialect, connection = empty_database
    path = tmp_path / "k61.json"
    path.write_text(json.dumps(k61_items(), ensure_ascii=False), encoding="utf-8")
    done = run_import("--dialect", dialect, "--connection", connection, str(path))
    assert done.returncode == 0, done.stderr
    rows = rows_of(connection)
    assert len(rows) == len(k61_items())
    for item, row in zip(k61_items(), rows, strict=True):
        assert normalized_dataset(row_dataset(row)) == normalized_item(item)
    bello = {k.lower(): v for k, v in rows[0].items()}
    assert bello["medicalalerts"] == "Bites when in pain\\Epilepsy"
    assert bello["patientname"] == "Müller^Bello" and bello["responsiblepersonrole"] == "OWNER"
    assert float(bello["patientsize"]) == 0.62
    assert json.loads(bello["scheduledprotocolcodesequence"])[1]["00400440"]["Value"][0]["0040A160"]["Value"] == [
        "Take in full inspiration"
    ]
    mouse = {k.lower(): v for k, v in rows[2].items()}
    assert mouse["patientname"] == "山田研究室^マウス42"
    assert json.loads(mouse["additionalattributes"])["00100213"]["Value"] == ["C57BL/6J"]  # Strain Nomenclature


#: A practice's own table: lower-case names, a key of its own, a column the plugin does not read,
#: and only some of the attributes, the rest kept in the catch-all.
SITE_TABLE = {
    "sqlite": "internal_id INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "internal_id SERIAL PRIMARY KEY",
    "mariadb": "internal_id INTEGER AUTO_INCREMENT PRIMARY KEY",
}
SITE_COLUMNS = (
    "scheduledprocedurestepid VARCHAR(16) NOT NULL, scheduledprocedurestepstartdatetime {datetime} NOT NULL, "
    "modality VARCHAR(16) NOT NULL, patientname VARCHAR(324) NOT NULL, patientid VARCHAR(64) NOT NULL, "
    "studydate DATE, studytime VARCHAR(16), patientweight DECIMAL(8,3), medicalalerts VARCHAR(1024), "
    "otherpatientidssequence TEXT, billing_code VARCHAR(10), additionalattributes TEXT"
)


def test_k61_items_into_a_site_table(empty_database, tmp_path: Path) -> None:
    dialect, connection = empty_database
    datetime_type = "DATETIME" if dialect == "mariadb" else "TIMESTAMP"
    columns = SITE_COLUMNS.format(datetime=datetime_type)
    with pyodbc.connect(connection, autocommit=True) as db:
        suffix = " DEFAULT CHARACTER SET utf8mb4" if dialect == "mariadb" else ""
        db.execute(f"CREATE TABLE site_worklist ({SITE_TABLE[dialect]}, {columns}){suffix}")
    path = tmp_path / "k61.json"
    path.write_text(json.dumps(k61_items(), ensure_ascii=False), encoding="utf-8")
    done = run_import("--dialect", dialect, "--connection", connection, "--table", "site_worklist", str(path))
    assert done.returncode == 0, done.stderr
    rows = rows_of(connection, "site_worklist")
    for item, row in zip(k61_items(), rows, strict=True):
        assert normalized_dataset(row_dataset(row)) == normalized_item(item)
        assert row["billing_code"] is None
    assert str(rows[0]["studydate"]) == "2026-11-27" and rows[0]["studytime"] == "093000"
    assert json.loads(rows[0]["otherpatientidssequence"])[0]["00100020"]["Value"] == ["276098106123456"]


def test_long_text_arrives_whole(empty_database) -> None:
    """LT at its longest, in several scripts (MariaDB's driver once dropped characters of long values)."""
    dialect, connection = empty_database
    item = good_item(1)
    item["PatientComments"] = ("Müller's dog Άργος, 山田さんの犬. " * 400)[:10240].rstrip()
    item["StudyComments"] = "é" * 10240  # a retired LT without a column: to the catch-all
    done = run_import("--dialect", dialect, "--connection", connection, "-", stdin=json.dumps([item]))
    assert done.returncode == 0, done.stderr
    (row,) = rows_of(connection)
    assert normalized_dataset(row_dataset(row)) == normalized_item(item)


def test_decimal_places_the_column_would_round_are_refused(empty_database, tmp_path: Path) -> None:
    dialect, connection = empty_database
    item = good_item(1)
    item["PatientWeight"] = "38.1234"
    done = run_import("--dialect", dialect, "--connection", connection, "-", stdin=json.dumps([item, good_item(2)]))
    if dialect == "sqlite":  # SQLite keeps any number as it is given
        assert done.returncode == 0, done.stderr
        with pyodbc.connect(connection) as db:
            weight = db.execute("SELECT PatientWeight FROM worklist WHERE PatientID = '000001'").fetchone()[0]
        assert float(weight) == 38.1234
    else:
        assert done.returncode == 1
        assert "item 1: PatientWeight: 38.1234 has more decimal places than its column keeps (3)" in done.stderr
        assert count(connection) == 0


# -- the items are what Orthanc itself takes ----------------------------------------------------------
@pytest.fixture(scope="module")
def plain_orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """Orthanc without plugins: its JSON-to-DICOM is the one ``/worklists/create`` uses."""
    with OrthancServer(tmp_path_factory.mktemp("orthanc-plain"), None, Plugins=[]) as server:
        yield server


def orthanc_json(server: OrthancServer, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{server.http_port}{path}", data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("position", range(len(k61_items())))
def test_orthanc_makes_dicom_of_every_k61_item(plain_orthanc: OrthancServer, position: int) -> None:
    """Orthanc's JSON-to-DICOM (/tools/create-dicom, as /worklists/create) takes each item whole.

    ``Force`` lets the item carry its own Study Instance UID, which create-dicom otherwise makes up.
    """
    item = k61_items()[position]
    try:
        created = orthanc_json(plain_orthanc, "POST", "/tools/create-dicom", {"Tags": item, "Force": True})
    except urllib.error.HTTPError as error:
        pytest.fail(f"Orthanc refused item {position + 1}: {error.read().decode()}")
    tags = orthanc_json(plain_orthanc, "GET", f"/instances/{created['ID']}/tags?short")
    for key in item:
        tag = model.tag_of(keyword_of_key(key))
        assert f"{tag >> 16:04x},{tag & 0xFFFF:04x}" in tags, key
    (step,) = tags["0040,0100"]
    assert len(step) == len(item[SPS][0])
    orthanc_json(plain_orthanc, "DELETE", f"/instances/{created['ID']}")


def test_it_runs_from_any_folder_and_says_when_the_sql_folder_is_missing(tmp_path: Path) -> None:
    """Run as a user runs it, outside the checkout and without $VETMWL_SQL_DIR: it finds the sql
    folder beside its package; a copy of the package without it cannot run, and says so (status 3)."""
    env = {k: v for k, v in os.environ.items() if k != "VETMWL_SQL_DIR"}
    items = tmp_path / "items.json"
    items.write_text(json.dumps([good_item(1)]))
    connection = sqlite_connection_string(tmp_path / "w.sqlite")
    command = [PYTHON, "-m", "vetmwl.tools.importer", "--dialect", "sqlite", "--connection", connection]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [*command, "--create-schema", str(items)], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert count(connection) == 1
    copied = tmp_path / "copy" / "plugin"
    shutil.copytree(REPO / "plugin", copied, ignore=shutil.ignore_patterns("__pycache__"))
    env["PYTHONPATH"] = f"{copied}:{env.get('PYTHONPATH', '')}"
    done = subprocess.run([*command, str(items)], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert done.returncode == 3
    assert "is not the plugin's sql folder" in done.stderr and "Traceback" not in done.stderr
