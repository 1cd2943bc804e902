"""The Orthanc wiring, driven by a fake ``orthanc`` module over a real SQLite file (ODBC, no server)."""

from __future__ import annotations

import logging
import shutil
from datetime import date
from io import BytesIO
from pathlib import Path

import pydicom
import pytest

from support.fake_orthanc import FakeAnswers, FakeOrthanc
from support.identifier_files import identifier
from support.wiring import SPS, dx_query, find, orthanc_config, start, todays
from vetmwl.config import sql_dir
from vetmwl.orthanc_wiring import OrthancLogHandler
from vetmwl.service import WorklistService
from vetmwl.web.identifiers import file_bytes


def test_broken_configuration_registers_a_refusing_callback(services: list[WorklistService]) -> None:
    orthanc = FakeOrthanc({"DicomAlwaysAllowFindWorklist": True, "DefaultEncoding": "Utf8"})
    start(orthanc, services)
    assert services == []
    (error,) = orthanc.lines("ERROR")
    assert error.startswith("SqlWorklist: configuration error")
    assert '"SqlWorklist" section' in error
    with pytest.raises(RuntimeError, match="not configured"):
        find(orthanc, {"Modality": "DX"})
    assert len(orthanc.lines("ERROR")) == 2
    assert "DX_ROOM1 -> VETMWL refused" in orthanc.lines("ERROR")[1]
    assert '"SqlWorklist" section' in orthanc.lines("ERROR")[1]


def test_orthanc_settings_problems_are_logged_as_warnings(services: list[WorklistService]) -> None:
    orthanc = FakeOrthanc({"Worklists": {"Enable": True}})
    start(orthanc, services)
    warnings = " | ".join(orthanc.lines("WARNING"))
    assert '"Worklists" section' in warnings
    assert "refuse every worklist query" in warnings
    assert '"DefaultEncoding" is not "Utf8"' in warnings


def test_good_configuration_answers_from_sqlite(
    sqlite_db: str, demo_items: list[dict], today: date, services: list[WorklistService]
) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db.replace("Database=", "PWD=s3cret;Database=")))
    start(orthanc, services)
    assert len(services) == 1
    assert orthanc.lines("ERROR") == []
    startup = [line for line in orthanc.lines("WARNING") if "serving the worklist from SQL" in line]
    assert len(startup) == 1
    assert "dialect=sqlite" in startup[0]
    assert "s3cret" not in " ".join(text for _, text in orthanc.logs)

    expected = todays(demo_items, today, "DX")
    assert len(expected) >= 4
    answers = find(orthanc, dx_query(today), PatientName="", PatientID="", SpecificCharacterSet="ISO_IR 192")
    assert len(answers.added) == len(expected)
    assert not answers.incomplete
    decoded = [pydicom.dcmread(BytesIO(raw), force=True) for raw in answers.added]
    steps = [d.ScheduledProcedureStepSequence[0] for d in decoded]
    assert {s.Modality for s in steps} == {"DX"}
    assert {s.ScheduledProcedureStepStartDate for s in steps} == {f"{today:%Y%m%d}"}
    got = [(s.ScheduledProcedureStepStartTime, s.ScheduledProcedureStepID) for s in steps]
    assert got == sorted(
        (i[SPS][0]["ScheduledProcedureStepStartTime"], i[SPS][0]["ScheduledProcedureStepID"]) for i in expected
    )
    by_step = {i[SPS][0]["ScheduledProcedureStepID"]: i for i in expected}
    for answer, step in zip(decoded, steps, strict=True):
        assert answer.PatientName == by_step[step.ScheduledProcedureStepID]["PatientName"]

    summaries = [line for line in orthanc.lines("INFO") if "answers=" in line]
    assert len(summaries) == 1
    assert f"answers={len(expected)} " in summaries[0]
    assert "DX_ROOM1 -> VETMWL" in summaries[0]
    assert "'Modality': 'DX'" in summaries[0]


def test_limit_answers_marks_incomplete(sqlite_db: str, today: date, services: list[WorklistService]) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db, LimitAnswers=2))
    start(orthanc, services)
    answers = find(orthanc, dx_query(today), PatientID="")
    assert len(answers.added) == 2
    assert answers.incomplete
    (summary,) = [line for line in orthanc.lines("INFO") if "answers=" in line]
    assert "answers=2 (limit reached, marked incomplete)" in summary


def test_database_error_fails_the_query_and_is_logged(sqlite_db: str, services: list[WorklistService]) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db, View="no_such_view"))
    start(orthanc, services)
    assert any("not usable yet" in line for line in orthanc.lines("ERROR"))
    errors_before = len(orthanc.lines("ERROR"))
    with pytest.raises(RuntimeError, match="worklist database error"):
        find(orthanc, {"Modality": "DX"})
    new_errors = orthanc.lines("ERROR")[errors_before:]
    assert len(new_errors) == 1
    assert "C-FIND from DX_ROOM1 -> VETMWL failed" in new_errors[0]
    assert "no_such_view" in new_errors[0]
    assert not [line for line in orthanc.lines("INFO") if "answers=" in line]


def test_malformed_query_is_refused_and_logged(sqlite_db: str, services: list[WorklistService]) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db))
    start(orthanc, services)
    with pytest.raises(RuntimeError, match="worklist query refused"):
        find(orthanc, {"ScheduledProcedureStepStartDate": "20261340"})
    refused = [line for line in orthanc.lines("WARNING") if "refused" in line]
    assert len(refused) == 1
    assert "20261340" in refused[0]


def test_non_ascii_names_match_ignoring_case_on_sqlite(
    sqlite_db: str, demo_items: list[dict], services: list[WorklistService]
) -> None:
    """The demo's owners include Müller: 'Müller*' must find them through the real SQLite driver."""
    orthanc = FakeOrthanc(orthanc_config(sqlite_db))
    start(orthanc, services)
    expected = [i for i in demo_items if i["PatientName"].startswith("Müller^")]
    assert expected
    answers = find(orthanc, {"Modality": ""}, PatientName="Müller*", SpecificCharacterSet="ISO_IR 192")
    assert len(answers.added) == len(expected)


def test_the_calling_ae_title_reaches_the_service(sqlite_db: str, today: date, services: list[WorklistService]) -> None:
    """Per-AE options follow Orthanc's issuer AE title: DX_ROOM1 (the caller in find()) gets Latin-1."""
    orthanc = FakeOrthanc(orthanc_config(sqlite_db, Modalities={"DX_ROOM1": {"CharacterSet": "ISO_IR 100"}}))
    start(orthanc, services)
    answers = find(orthanc, dx_query(today), PatientName="")
    assert answers.added
    assert {pydicom.dcmread(BytesIO(a), force=True).SpecificCharacterSet for a in answers.added} == {"ISO_IR 100"}
    other = find(orthanc, dx_query(today), calling_aet="CT_SUITE", PatientName="")
    assert {pydicom.dcmread(BytesIO(a), force=True).SpecificCharacterSet for a in other.added} == {"ISO_IR 192"}


def test_orthanc_python_7_gives_the_calling_address(
    sqlite_db: str, today: date, services: list[WorklistService]
) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db), api=7)
    start(orthanc, services)
    assert orthanc.callbacks[0][0] == "connection"  # RegisterWorklistCallback2, not the old one
    assert find(orthanc, dx_query(today)).added
    (summary,) = [line for line in orthanc.lines("INFO") if "answers=" in line]
    assert "C-FIND from DX_ROOM1 (192.0.2.10) -> VETMWL" in summary
    queries = orthanc.get("/sql-worklist/queries").json()
    assert queries["calling_address"] is None  # no excuse needed: the address is known
    assert queries["queries"][0]["calling_address"] == "192.0.2.10"


def test_orthanc_python_4_registers_the_old_callback(
    sqlite_db: str, today: date, services: list[WorklistService]
) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db), api=4)
    start(orthanc, services)
    assert orthanc.callbacks[0][0] == "ae-titles"
    assert find(orthanc, dx_query(today)).added
    queries = orthanc.get("/sql-worklist/queries").json()
    assert "AE titles only" in queries["calling_address"]
    assert queries["queries"][0]["calling_address"] is None


def test_an_entry_for_an_ae_title_at_an_address_applies_to_that_device_only(
    sqlite_db: str, today: date, services: list[WorklistService]
) -> None:
    """Two devices share the AE title DX_ROOM1; the one at 192.0.2.20 reads only Latin-1."""
    modalities = {"DX_ROOM1@192.0.2.20": {"CharacterSet": "ISO_IR 100"}}
    orthanc = FakeOrthanc(orthanc_config(sqlite_db, Modalities=modalities), api=7)
    start(orthanc, services)
    raw = file_bytes(identifier(dx_query(today), PatientName=""))

    def charsets(address: str) -> set[str]:
        added = orthanc.find(raw, address=address).added
        return {pydicom.dcmread(BytesIO(a), force=True).SpecificCharacterSet for a in added}

    assert charsets("192.0.2.20") == {"ISO_IR 100"}
    assert charsets("192.0.2.10") == {"ISO_IR 192"}

    old = FakeOrthanc(orthanc_config(sqlite_db, Modalities=modalities), api=4)
    start(old, services)
    assert any('"@address" never apply' in line for line in old.lines("WARNING"))


def test_orthanc_stopping_closes_the_database_and_ends_the_worker(
    sqlite_db: str, today: date, services: list[WorklistService]
) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db), api=7)
    start(orthanc, services)
    assert find(orthanc, dx_query(today)).added
    worker = services[0].database._worker
    assert worker is not None and worker.thread.is_alive()
    orthanc.stop()
    assert not worker.thread.is_alive()
    assert services[0].database._connection is None
    assert any("database connections are closed" in line for line in orthanc.lines("INFO"))


def test_a_date_with_control_characters_is_refused_without_touching_the_database(
    sqlite_db: str, services: list[WorklistService]
) -> None:
    """Issue #11's first case: the SQL and its parameters could disagree about this value."""
    orthanc = FakeOrthanc(orthanc_config(sqlite_db))
    start(orthanc, services)
    opened = services[0].database.opened
    with pytest.raises(RuntimeError, match="worklist query refused"):
        find(orthanc, {"Modality": ""}, PatientBirthDate="\x1c\x0c")
    (refused,) = [line for line in orthanc.lines("WARNING") if "refused" in line]
    assert "PatientBirthDate (DA) holds the control character(s) U+000C, U+001C" in refused
    assert services[0].database.opened == opened
    assert not [line for line in orthanc.lines("WARNING") if "reconnecting" in line]


def test_sql_the_database_rejects_is_an_internal_error_with_its_sql(
    sqlite_db: str, today: date, services: list[WorklistService], tmp_path: Path
) -> None:
    """A broken query template is our bug: logged once with the keys and the SQL, no reconnect."""
    templates = tmp_path / "queries"
    shutil.copytree(sql_dir() / "queries", templates)
    worklist = templates / "worklist.sql.j2"
    worklist.write_text(worklist.read_text().replace("ORDER BY", "ORDER BY BY"))
    orthanc = FakeOrthanc(orthanc_config(sqlite_db, TemplateDirectory=str(templates)))
    start(orthanc, services)
    with pytest.raises(RuntimeError, match="worklist internal error"):
        find(orthanc, dx_query(today))
    (error,) = [line for line in orthanc.lines("ERROR") if "C-FIND" in line]
    assert "internal error of the plugin" in error
    assert "keys={'Modality': 'DX'" in error and "ORDER BY BY" in error
    assert services[0].database.opened == 1
    assert not [line for line in orthanc.logs if "reconnecting" in line[1]]
    (entry,) = orthanc.get("/sql-worklist/queries").json()["queries"]
    assert entry["status"] == "internal"
    assert 'status="internal"} 1' in orthanc.get("/sql-worklist/metrics").body.decode()


def test_an_answer_orthanc_refuses_for_a_private_attribute_is_a_clear_refusal(
    sqlite_db: str, today: date, services: list[WorklistService]
) -> None:
    """Orthanc 1.10's matcher refuses every answer to a query with a private attribute."""
    orthanc = FakeOrthanc(orthanc_config(sqlite_db))
    start(orthanc, services)
    query = identifier(dx_query(today), PatientName="")
    query.add_new(0x00091010, "LO", "")
    with pytest.raises(RuntimeError, match="worklist query refused"):
        orthanc.find(file_bytes(query), answers=FakeAnswers(refuse=ValueError("Internal error")))
    (refused,) = [line for line in orthanc.lines("WARNING") if "refused" in line]
    assert "private attribute(s) (0009,1010)" in refused

    with pytest.raises(RuntimeError, match="worklist internal error"):
        find(orthanc, dx_query(today), answers=FakeAnswers(refuse=ValueError("Internal error")))


def test_a_log_line_orthanc_cannot_take_does_not_fail_the_caller(capsys: pytest.CaptureFixture[str]) -> None:
    """Orthanc's log refusing a line (at its stop, say) must not turn a C-FIND into an error."""

    class Refusing:
        def LogWarning(self, text: str) -> None:
            raise RuntimeError("Orthanc is finalizing")

    handler = OrthancLogHandler(Refusing())  # type: ignore[arg-type]
    record = logging.LogRecord("vetmwl", logging.WARNING, __file__, 1, "the database is slow", None, None)
    handler.emit(record)
    assert "Orthanc is finalizing" in capsys.readouterr().err  # logging's own report, on stderr


def test_a_site_template_that_does_not_compile_is_a_configuration_error(
    sqlite_db: str, tmp_path: Path, services: list[WorklistService]
) -> None:
    """Not a traceback at Orthanc's start: every C-FIND fails saying which template, and /health says it."""
    shutil.copytree(sql_dir() / "queries", tmp_path / "queries")
    (tmp_path / "queries" / "worklist.sql.j2").write_text("SELECT {% if %}")
    orthanc = FakeOrthanc(orthanc_config(sqlite_db, TemplateDirectory=str(tmp_path / "queries")))
    start(orthanc, services)
    (error,) = orthanc.lines("ERROR")
    assert "worklist.sql.j2 cannot be compiled: Expected an" in error and "SqlWorklist.TemplateDirectory" in error
    with pytest.raises(RuntimeError, match="not configured"):
        find(orthanc, {"Modality": "DX"})
    assert orthanc.get("/sql-worklist/health").status == 503


def test_a_broken_copy_of_the_macros_is_refused_at_start_up(
    sqlite_db: str, tmp_path: Path, services: list[WorklistService]
) -> None:
    """Jinja2 compiles an imported template only when it is used: the renderer renders once at start."""
    shutil.copytree(sql_dir() / "queries", tmp_path / "queries")
    (tmp_path / "queries" / "macros.sql.j2").write_text("{% macro condition(f) %}{% if %}{% endmacro %}")
    orthanc = FakeOrthanc(orthanc_config(sqlite_db, TemplateDirectory=str(tmp_path / "queries")))
    start(orthanc, services)
    (error,) = orthanc.lines("ERROR")
    assert "macros.sql.j2 cannot be compiled" in error
    with pytest.raises(RuntimeError, match="not configured"):
        find(orthanc, {"Modality": "DX"})
    assert orthanc.get("/sql-worklist/health").status == 503
