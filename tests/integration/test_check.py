"""The site check (python -m vetmwl.tools.check) on real PostgreSQL: the ImproMed site passes, each
problem planted in a bad site is found, an unreachable database is told apart; the list it prints
for an AE title is what Orthanc answers that AE with findscu."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from io import StringIO
from pathlib import Path

import pyodbc
import pytest

from support import impromed
from support.clients import findscu
from support.runtimes import REPO
from support.servers import OrthancServer, PostgresServer, unreachable_postgres
from vetmwl.tools import check

#: A site whose view has a problem of each kind: (SPS ID, station, Owner^Pet, species, weight in kg).
BAD_ROWS = [
    ("GOOD1", "DX_ROOM1", "Smith^Rex", "P1", "Canine", 29.9),
    ("DUP1", "DX_ROOM1", "Brown^Bella", "P2", "Canine", 20.0),
    ("DUP1", "DX_ROOM1", "Brown^Bella", "P2", "Canine", 20.0),  # the same SPS ID twice
    ("LB1", "DX_ROOM1", "Jones^Tom", "P3", "Feline", 11.0),  # an 11 lb cat sent as 11 kg
    ("MOJI1", "DX_ROOM1", "LefÃ¨vre^FÃ©lix", "P4", "Feline", 4.5),  # UTF-8 read as Windows-1252
    ("NOSTATION1", None, "Green^Max", "P5", "Canine", 25.0),  # no Scheduled Station AE Title
]
BAD_TABLE = """CREATE TABLE site_rows (
    ScheduledProcedureStepID varchar(16), ScheduledProcedureStepStartDateTime timestamp, Modality varchar(16),
    ScheduledStationAETitle varchar(16), PatientName varchar(324), PatientID varchar(64),
    PatientSpeciesDescription varchar(64), PatientWeight numeric(8, 3))"""


def configuration(folder: Path, connection: str, view: str) -> Path:
    """Orthanc's configuration as Debian keeps it: a folder of JSON files, with comments."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "orthanc.json").write_text(
        '{\n  // Orthanc\'s own settings\n  "DefaultEncoding": "Utf8", /* names in every language */\n'
        '  "DicomAlwaysAllowFindWorklist": true\n}\n'
    )
    section = {"ConnectionString": connection, "Dialect": "postgresql", "View": view}
    (folder / "sqlworklist.json").write_text(json.dumps({"SqlWorklist": section}))
    return folder


def run_check(*argv: str) -> tuple[int, list[str]]:
    out = StringIO()
    status = check.main([*argv, "--sql-dir", str(REPO / "sql")], out=out)
    return status, out.getvalue().splitlines()


@pytest.fixture(scope="session")
def bad_db(postgres: PostgresServer, today: date) -> str:
    """A site with a problem of each kind (view ``bad_site``) and a view without PatientID (``no_patient_id``)."""
    postgres.create_database("badsite")
    connection = postgres.connection_string("badsite")
    with pyodbc.connect(connection, autocommit=True) as db:
        db.execute(BAD_TABLE)
        for n, (sps_id, station, name, patient, species, weight) in enumerate(BAD_ROWS):
            start = datetime.combine(today, time(8 + n))
            db.execute(
                "INSERT INTO site_rows VALUES (?, ?, 'DX', ?, ?, ?, ?, ?)",
                sps_id, start, station, name, patient, species, weight,
            )  # fmt: skip
        db.execute("CREATE VIEW bad_site AS SELECT * FROM site_rows")
        db.execute(
            "CREATE VIEW no_patient_id AS SELECT ScheduledProcedureStepID, ScheduledProcedureStepStartDateTime, "
            "Modality, ScheduledStationAETitle, PatientName FROM site_rows WHERE ScheduledProcedureStepID = 'GOOD1'"
        )
    return connection


def test_the_impromed_site_is_ready_and_the_list_is_what_orthanc_answers(
    impromed_db: str, impromed_orthanc: OrthancServer, tmp_path: Path, today: date
) -> None:
    folder = configuration(tmp_path / "etc", impromed_db, impromed.VIEW)
    status, lines = run_check(str(folder), "--aet", "DX_ROOM1", "--modality", "DX")
    assert status == check.READY, "\n".join(lines)
    assert lines[-1] == "ready" and not [line for line in lines if line.startswith("problem")]
    assert f"  {today:%Y-%m-%d} (today): 4 step(s)" in lines  # 3 DX and the ultrasound
    assert "  weights of Feline: 1 animal(s), 4.99 to 4.99 kg, median 4.99 kg" in lines
    title = lines.index(f"DX_ROOM1 receives 3 item(s) for {today:%Y-%m-%d} (DX):")
    listed = [line.split()[1] for line in lines[title + 1 : -1]]
    keys = [
        "ScheduledProcedureStepSequence[0].Modality=DX",
        f"ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate={today:%Y%m%d}",
        "ScheduledProcedureStepSequence[0].ScheduledProcedureStepID=",
    ]
    answered = findscu(impromed_orthanc.dicom_port, keys, aet="DX_ROOM1")
    assert listed == [a.ScheduledProcedureStepSequence[0].ScheduledProcedureStepID for a in answered.answers]
    assert listed == [impromed.sps_id(k) for k in impromed.TODAYS_DX]
    assert "Lefèvre^Félix  P1001  Feline/Domestic Shorthair  M ALTERED  4.99 kg" in lines[title + 1]


def test_each_planted_problem_is_found_one_line_each(bad_db: str, tmp_path: Path) -> None:
    status, lines = run_check(str(configuration(tmp_path, bad_db, "bad_site")))
    assert status == check.PROBLEMS, "\n".join(lines)
    problems = [line for line in lines if line.startswith("problem: ")]
    expected = [
        "SPS ID DUP1 is given to 2 rows",
        "PatientName: 1 value(s) look mis-encoded (e.g. SPS ID MOJI1: 'LefÃ¨vre^FÃ©lix' reads 'Lefèvre^Félix'",
        "PatientWeight: the weights of Feline look like pounds sent as kilograms (median 7.75 kg, e.g. patient P3: 11",
        "DX_ROOM1 gets 1 of 6 item(s) without Scheduled Station AE Title (e.g. SPS ID NOSTATION1)",
    ]
    for words in expected:
        assert sum(words in line for line in problems) == 1, (words, problems)
    assert len(problems) == len(expected), problems
    assert lines[-1] == f"{len(expected)} problem(s): not ready"


def test_a_missing_column_is_found(bad_db: str, tmp_path: Path) -> None:
    status, lines = run_check(str(configuration(tmp_path, bad_db, "no_patient_id")))
    assert status == check.PROBLEMS
    assert "problem: the view has no PatientID column, which the plugin requires: add it (see sql/README.md)" in lines


def test_a_database_that_cannot_be_reached_exits_2(tmp_path: Path) -> None:
    status, lines = run_check(str(configuration(tmp_path, unreachable_postgres(), "worklist")))
    assert status == check.UNREACHABLE
    assert lines[-1].startswith("cannot connect: the database server cannot be reached")


def test_a_configuration_orthanc_would_refuse_exits_2(tmp_path: Path) -> None:
    folder = configuration(tmp_path, unreachable_postgres(), "worklist")
    (folder / "more.json").write_text('{"DefaultEncoding": "Latin1"}')
    status, lines = run_check(str(folder))
    assert status == check.UNREACHABLE
    assert lines == [f'cannot check: {folder / "orthanc.json"}: "DefaultEncoding" is also defined in another file'
                     f" of {folder}, which Orthanc refuses"]  # fmt: skip


def test_it_runs_as_a_module(impromed_db: str, tmp_path: Path) -> None:
    """As the Debian service and the Docker image run it: python -m, the configuration file's path."""
    folder = configuration(tmp_path, impromed_db, impromed.VIEW)
    merged = {**json.loads((folder / "sqlworklist.json").read_text()), "DicomAlwaysAllowFindWorklist": True,
              "DefaultEncoding": "Utf8"}  # fmt: skip
    (tmp_path / "single.json").write_text(json.dumps(merged))
    done = subprocess.run(
        [sys.executable, "-m", "vetmwl.tools.check", str(tmp_path / "single.json"), "--days", "1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO / "plugin"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "ready"
    assert f"{date.today() + timedelta(days=1):%Y-%m-%d}: 1 step(s)" in done.stdout


def test_the_demo_schedule_on_sqlite_is_ready(sqlite_db: str, tmp_path: Path, today: date) -> None:
    """Another dialect, and a view of every reference column (codes, sequences, the catch-all)."""
    (tmp_path / "orthanc.json").write_text(
        json.dumps({"DefaultEncoding": "Utf8", "DicomAlwaysAllowFindWorklist": True,
                    "SqlWorklist": {"ConnectionString": sqlite_db, "Dialect": "sqlite"}})
    )  # fmt: skip
    status, lines = run_check(str(tmp_path / "orthanc.json"), "--aet", "US_ROOM1", "--modality", "US")
    assert status == check.READY, "\n".join(lines)
    assert f"  {today:%Y-%m-%d} (today): 15 step(s)" in lines
    assert any(line.startswith(f"US_ROOM1 receives 4 item(s) for {today:%Y-%m-%d} (US):") for line in lines)
