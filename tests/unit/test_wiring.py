"""The Orthanc wiring, driven by a fake ``orthanc`` module over a real SQLite file (ODBC, no server)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date
from io import BytesIO
from typing import Any

import pydicom
import pytest

from unit.helpers import file_bytes, identifier
from vetmwl.orthanc_wiring import register
from vetmwl.service import WorklistService

SPS = "ScheduledProcedureStepSequence"


class FakeOrthanc:
    """The part of the orthanc-python module the plugin uses."""

    def __init__(self, configuration: dict[str, Any]) -> None:
        self.configuration = configuration
        self.logs: list[tuple[str, str]] = []
        self.callbacks: list[Any] = []

    def GetConfiguration(self) -> str:
        return json.dumps(self.configuration)

    def LogInfo(self, text: str) -> None:
        self.logs.append(("INFO", text))

    def LogWarning(self, text: str) -> None:
        self.logs.append(("WARNING", text))

    def LogError(self, text: str) -> None:
        self.logs.append(("ERROR", text))

    def RegisterWorklistCallback(self, callback: Any) -> None:
        self.callbacks.append(callback)

    def lines(self, level: str) -> list[str]:
        return [text for lvl, text in self.logs if lvl == level]


class FakeQuery:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def WorklistGetDicomQuery(self) -> bytes:
        return self.raw


class FakeAnswers:
    def __init__(self) -> None:
        self.added: list[bytes] = []
        self.incomplete = False

    def WorklistAddAnswer(self, query: FakeQuery, answer: bytes) -> None:
        assert isinstance(query, FakeQuery)
        self.added.append(answer)

    def WorklistMarkIncomplete(self) -> None:
        self.incomplete = True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """register() sends the 'vetmwl' logger to Orthanc only; give it back to pytest afterwards."""
    logger = logging.getLogger("vetmwl")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.fixture
def services() -> Iterator[list[WorklistService]]:
    created: list[WorklistService] = []
    yield created
    for service in created:
        service.database.close()


def orthanc_config(connection: str, **section: Any) -> dict[str, Any]:
    return {
        "DicomAlwaysAllowFindWorklist": True,
        "DefaultEncoding": "Utf8",
        "SqlWorklist": {"ConnectionString": connection, "Dialect": "sqlite", "QueryTimeout": 5, **section},
    }


def start(orthanc: FakeOrthanc, services: list[WorklistService]) -> Any:
    service = register(orthanc)
    if service is not None:
        services.append(service)
    assert len(orthanc.callbacks) == 1
    return orthanc.callbacks[0]


def find(callback: Any, step: dict[str, str], **root: str) -> FakeAnswers:
    answers = FakeAnswers()
    callback(answers, FakeQuery(file_bytes(identifier(step, **root))), "DX_ROOM1", "VETMWL")
    return answers


def todays(items: list[dict], today: date, modality: str) -> list[dict]:
    return [
        i
        for i in items
        if i[SPS][0]["Modality"] == modality and i[SPS][0]["ScheduledProcedureStepStartDate"] == f"{today:%Y%m%d}"
    ]


def dx_query(today: date) -> dict[str, str]:
    return {
        "Modality": "DX",
        "ScheduledProcedureStepStartDate": f"{today:%Y%m%d}",
        "ScheduledProcedureStepStartTime": "",
        "ScheduledProcedureStepID": "",
    }


def test_broken_configuration_registers_a_refusing_callback(services: list[WorklistService]) -> None:
    orthanc = FakeOrthanc({"DicomAlwaysAllowFindWorklist": True, "DefaultEncoding": "Utf8"})
    callback = start(orthanc, services)
    assert services == []
    (error,) = orthanc.lines("ERROR")
    assert error.startswith("SqlWorklist: configuration error")
    assert '"SqlWorklist" section' in error
    with pytest.raises(RuntimeError, match="not configured"):
        find(callback, {"Modality": "DX"})
    assert len(orthanc.lines("ERROR")) == 2
    assert "DX_ROOM1 refused" in orthanc.lines("ERROR")[1]
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
    callback = start(orthanc, services)
    assert len(services) == 1
    assert orthanc.lines("ERROR") == []
    startup = [line for line in orthanc.lines("WARNING") if "serving the worklist from SQL" in line]
    assert len(startup) == 1
    assert "dialect=sqlite" in startup[0]
    assert "s3cret" not in " ".join(text for _, text in orthanc.logs)

    expected = todays(demo_items, today, "DX")
    assert len(expected) >= 4
    answers = find(callback, dx_query(today), PatientName="", PatientID="", SpecificCharacterSet="ISO_IR 192")
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
    callback = start(orthanc, services)
    answers = find(callback, dx_query(today), PatientID="")
    assert len(answers.added) == 2
    assert answers.incomplete
    (summary,) = [line for line in orthanc.lines("INFO") if "answers=" in line]
    assert "answers=2 (limit reached, marked incomplete)" in summary


def test_database_error_fails_the_query_and_is_logged(sqlite_db: str, services: list[WorklistService]) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db, View="no_such_view"))
    callback = start(orthanc, services)
    assert any("not usable yet" in line for line in orthanc.lines("ERROR"))
    errors_before = len(orthanc.lines("ERROR"))
    with pytest.raises(RuntimeError, match="worklist database error"):
        find(callback, {"Modality": "DX"})
    new_errors = orthanc.lines("ERROR")[errors_before:]
    assert len(new_errors) == 1
    assert "C-FIND from DX_ROOM1 -> VETMWL failed" in new_errors[0]
    assert "no_such_view" in new_errors[0]
    assert not [line for line in orthanc.lines("INFO") if "answers=" in line]


def test_malformed_query_is_refused_and_logged(sqlite_db: str, services: list[WorklistService]) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db))
    callback = start(orthanc, services)
    with pytest.raises(RuntimeError, match="worklist query refused"):
        find(callback, {"ScheduledProcedureStepStartDate": "20261340"})
    refused = [line for line in orthanc.lines("WARNING") if "refused" in line]
    assert len(refused) == 1
    assert "20261340" in refused[0]


def test_non_ascii_names_match_ignoring_case_on_sqlite(
    sqlite_db: str, demo_items: list[dict], services: list[WorklistService]
) -> None:
    """The demo's owners include Müller: 'Müller*' must find them through the real SQLite driver."""
    orthanc = FakeOrthanc(orthanc_config(sqlite_db))
    callback = start(orthanc, services)
    expected = [i for i in demo_items if i["PatientName"].startswith("Müller^")]
    assert expected
    answers = find(callback, {"Modality": ""}, PatientName="Müller*", SpecificCharacterSet="ISO_IR 192")
    assert len(answers.added) == len(expected)


def test_the_calling_ae_title_reaches_the_service(sqlite_db: str, today: date, services: list[WorklistService]) -> None:
    """Per-AE options follow Orthanc's issuer AE title: DX_ROOM1 (the caller in find()) gets Latin-1."""
    orthanc = FakeOrthanc(orthanc_config(sqlite_db, Modalities={"DX_ROOM1": {"CharacterSet": "ISO_IR 100"}}))
    callback = start(orthanc, services)
    answers = find(callback, dx_query(today), PatientName="")
    assert answers.added
    assert {pydicom.dcmread(BytesIO(a), force=True).SpecificCharacterSet for a in answers.added} == {"ISO_IR 100"}
    other = FakeAnswers()
    callback(other, FakeQuery(file_bytes(identifier(dx_query(today), PatientName=""))), "CT_SUITE", "VETMWL")
    assert {pydicom.dcmread(BytesIO(a), force=True).SpecificCharacterSet for a in other.added} == {"ISO_IR 192"}
