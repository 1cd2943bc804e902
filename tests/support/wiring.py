"""Driving the plugin's wiring with the fake ``orthanc`` module over the demo data."""

from __future__ import annotations

from datetime import date
from typing import Any

from support.fake_orthanc import FakeAnswers, FakeOrthanc
from support.identifier_files import identifier
from vetmwl.orthanc_wiring import register
from vetmwl.service import WorklistService
from vetmwl.web.identifiers import file_bytes

SPS = "ScheduledProcedureStepSequence"


def orthanc_config(connection: str, **section: Any) -> dict[str, Any]:
    return {
        "DicomAlwaysAllowFindWorklist": True,
        "DefaultEncoding": "Utf8",
        "SqlWorklist": {"ConnectionString": connection, "Dialect": "sqlite", "QueryTimeout": 5, **section},
    }


def start(orthanc: FakeOrthanc, services: list[WorklistService]) -> FakeOrthanc:
    """register() the plugin with ``orthanc``; the service goes to ``services`` to be closed later."""
    service = register(orthanc)
    if service is not None:
        services.append(service)
    assert len(orthanc.callbacks) == 1
    return orthanc


def find(
    orthanc: FakeOrthanc,
    step: dict[str, str],
    calling_aet: str = "DX_ROOM1",
    answers: FakeAnswers | None = None,
    **root: str,
) -> FakeAnswers:
    """One C-FIND with this SPS item and these root keys, from ``calling_aet``."""
    return orthanc.find(file_bytes(identifier(step, **root)), calling_aet=calling_aet, answers=answers)


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
