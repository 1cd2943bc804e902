"""The web side of the wiring: REST routes, the Explorer entry, the query log, metrics and log lines.

Driven like Orthanc drives it: the worklist callback and the REST callback of a fake ``orthanc``
module, over the real demo SQLite file.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from unit.test_wiring import FakeOrthanc, dx_query, find, orthanc_config, start, todays
from vetmwl import rest
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
    created: list[WorklistService] = []
    yield created
    for service in created:
        service.database.close()


class FakeOrthancWeb(FakeOrthanc):
    """The orthanc-python 4.0 calls for REST routes and Orthanc Explorer, besides the worklist ones."""

    def __init__(self, configuration: dict[str, Any], arguments: tuple[str, ...] = ("orthanc.json",)) -> None:
        super().__init__(configuration)
        self.arguments = arguments
        self.rest_callbacks: list[tuple[str, Any]] = []
        self.explorer: list[str] = []
        self.root_uri = ""
        self.rest_api_calls: list[str] = []

    def RegisterRestCallback(self, uri: str, callback: Any) -> None:
        self.rest_callbacks.append((uri, callback))

    def ExtendOrthancExplorer(self, javascript: str) -> None:
        self.explorer.append(javascript)

    def SetRootUri(self, uri: str) -> None:
        self.root_uri = uri

    def RestApiGet(self, uri: str) -> bytes:
        self.rest_api_calls.append(uri)
        return json.dumps({"Name": "vetmwl", "Version": "1.10.1"}).encode()

    def GetCommandLineArgumentsCount(self) -> int:
        return len(self.arguments)

    def GetCommandLineArgument(self, n: int) -> str:
        return self.arguments[n]


class FakeOutput:
    """Records what the REST callback hands to Orthanc's RestOutput."""

    def __init__(self) -> None:
        self.status = 0
        self.body = b""
        self.content_type = ""
        self.headers: dict[str, str] = {}
        self.location = ""
        self.allowed = ""

    def AnswerBuffer(self, body: bytes, content_type: str) -> None:
        self.status, self.body, self.content_type = 200, body, content_type

    def SetHttpHeader(self, key: str, value: str) -> None:
        self.headers[key] = value

    def SendHttpStatus(self, status: int, body: str, size: int) -> None:
        # orthanc-python 4.0 wants text plus its size in bytes (it refuses bytes).
        assert isinstance(body, str) and len(body.encode("utf-8")) == size
        self.status, self.body = status, body.encode("utf-8")

    def Redirect(self, location: str) -> None:
        self.status, self.location = 301, location

    def SendMethodNotAllowed(self, allowed: str) -> None:
        self.status, self.allowed = 405, allowed

    def json(self) -> Any:
        return json.loads(self.body)


def call(orthanc: FakeOrthancWeb, uri: str, method: str = "GET", **args: str) -> FakeOutput:
    """One HTTP request, routed the way Orthanc does: the first registered regex that matches."""
    output = FakeOutput()
    for pattern, callback in orthanc.rest_callbacks:
        match = re.fullmatch(pattern, uri)
        if match:
            callback(output, uri, method=method, groups=match.groups(), get=args, headers={})
            return output
    raise AssertionError(f"no REST callback for {uri}")


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    raise KeyError(name)


def test_routes_and_explorer_entry_are_registered(sqlite_db: str, services: list[WorklistService]) -> None:
    orthanc = FakeOrthancWeb(orthanc_config(sqlite_db))
    start(orthanc, services)
    ((pattern, _),) = orthanc.rest_callbacks
    for uri in ("/sql-worklist", "/sql-worklist/health", "/sql-worklist/app/index.html"):
        assert re.fullmatch(pattern, uri)
    assert not re.fullmatch(pattern, "/sql-worklistx")
    assert not re.fullmatch(pattern, "/app/explorer.html")
    (javascript,) = orthanc.explorer
    assert "$('#lookup')" in javascript and "../sql-worklist/app/index.html" in javascript
    assert orthanc.root_uri == "../sql-worklist/app/index.html"
    # Orthanc refuses REST calls while plugins load: the version is asked for later.
    assert orthanc.rest_api_calls == []
    health = call(orthanc, "/sql-worklist/health")
    assert health.status == 200
    assert health.json()["orthanc"]["version"] == "1.10.1"
    assert orthanc.rest_api_calls == ["/system"]


def test_a_cfind_shows_up_in_the_query_log_and_the_metrics(
    sqlite_db: str,
    demo_items: list[dict],
    today: date,
    services: list[WorklistService],
) -> None:
    orthanc = FakeOrthancWeb(orthanc_config(sqlite_db))
    callback = start(orthanc, services)
    answers = find(callback, dx_query(today), PatientName="", PatientID="")
    assert len(answers.added) == len(todays(demo_items, today, "DX"))

    (entry,) = call(orthanc, "/sql-worklist/queries").json()["queries"]
    assert entry["calling_aet"] == "DX_ROOM1" and entry["called_aet"] == "VETMWL"
    assert entry["calling_address"] is None
    assert entry["status"] == "ok" and entry["error"] == ""
    assert entry["answers"] == len(answers.added)
    assert entry["keys"] == {"Modality": "DX", "ScheduledProcedureStepStartDate": f"{today:%Y%m%d}"}
    assert {"PatientName", "PatientID", "ScheduledProcedureStepID"} <= set(entry["requested"])
    assert entry["ms"] > 0

    metrics = call(orthanc, "/sql-worklist/metrics")
    assert metrics.content_type.startswith("text/plain; version=0.0.4")
    text = metrics.body.decode()
    assert metric(text, "vetmwl_cfind_queries_total", status="ok") == 1
    assert metric(text, "vetmwl_cfind_answers_total") == len(answers.added)
    assert metric(text, "vetmwl_cfind_duration_seconds_count") == 1


def test_refused_and_failed_cfinds_are_recorded(sqlite_db: str, services: list[WorklistService]) -> None:
    refusing = FakeOrthancWeb(orthanc_config(sqlite_db))
    callback = start(refusing, services)
    with pytest.raises(RuntimeError):
        find(callback, {"ScheduledProcedureStepStartDate": "20261340"})
    (entry,) = call(refusing, "/sql-worklist/queries").json()["queries"]
    assert entry["status"] == "refused" and "20261340" in entry["error"]
    assert entry["keys"] == {"ScheduledProcedureStepStartDate": "20261340"}

    failing = FakeOrthancWeb(orthanc_config(sqlite_db, View="no_such_view"))
    callback = start(failing, services)
    with pytest.raises(RuntimeError):
        find(callback, {"Modality": "DX"})
    (entry,) = call(failing, "/sql-worklist/queries").json()["queries"]
    assert entry["status"] == "failed" and "no_such_view" in entry["error"]
    text = call(failing, "/sql-worklist/metrics").body.decode()
    assert metric(text, "vetmwl_cfind_queries_total", status="failed") == 1
    assert metric(text, "vetmwl_database_errors_total", origin="cfind") == 1


def test_patient_names_stay_out_of_the_info_line(sqlite_db: str, services: list[WorklistService]) -> None:
    orthanc = FakeOrthancWeb(orthanc_config(sqlite_db))
    callback = start(orthanc, services)
    find(callback, {"Modality": ""}, PatientName="Müller*", ReferringPhysicianName="Lindqvist*")
    (summary,) = [line for line in orthanc.lines("INFO") if "answers=" in line]
    assert "'PatientName': '<given>'" in summary
    assert "'ReferringPhysicianName': '<given>'" in summary
    assert not [line for _, line in orthanc.logs if "Müller" in line or "Lindqvist" in line]


def test_trace_level_shows_the_names(sqlite_db: str, services: list[WorklistService]) -> None:
    orthanc = FakeOrthancWeb(orthanc_config(sqlite_db), arguments=("--trace", "orthanc.json"))
    callback = start(orthanc, services)
    find(callback, {"Modality": ""}, PatientName="Müller*")
    (named,) = [line for line in orthanc.lines("INFO") if "with names" in line]
    assert "'PatientName': 'Müller*'" in named


def test_broken_configuration_still_explains_itself_over_rest(services: list[WorklistService]) -> None:
    orthanc = FakeOrthancWeb({"DicomAlwaysAllowFindWorklist": True, "DefaultEncoding": "Utf8"})
    callback = start(orthanc, services)
    with pytest.raises(RuntimeError, match="not configured"):
        find(callback, {"Modality": "DX"})
    health = call(orthanc, "/sql-worklist/health")
    assert health.status == 503
    assert health.headers["Content-Type"].startswith("application/json")
    assert '"SqlWorklist" section' in health.json()["problems"][0]
    (entry,) = call(orthanc, "/sql-worklist/queries").json()["queries"]
    assert entry["status"] == "failed" and "not configured" in entry["error"]
    assert entry["keys"] == {"Modality": "DX"}


def test_redirects_and_methods_reach_orthanc(sqlite_db: str, services: list[WorklistService]) -> None:
    orthanc = FakeOrthancWeb(orthanc_config(sqlite_db))
    start(orthanc, services)
    assert call(orthanc, "/sql-worklist").location == "/sql-worklist/app/index.html"
    refused = call(orthanc, "/sql-worklist/queries", method="DELETE")
    assert (refused.status, refused.allowed) == (405, "GET")
    page = call(orthanc, "/sql-worklist/app/index.html")
    assert page.status == 200 and page.content_type.startswith("text/html")


def test_a_bug_in_a_handler_answers_500_and_logs_the_traceback(
    sqlite_db: str,
    services: list[WorklistService],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    orthanc = FakeOrthancWeb(orthanc_config(sqlite_db))
    start(orthanc, services)

    def broken(self: rest.RestApi, args: object) -> rest.Response:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(rest.RestApi, "queries", broken)
    output = call(orthanc, "/sql-worklist/queries")
    assert output.status == 500
    assert "see Orthanc's log" in output.json()["error"]
    (error,) = [line for line in orthanc.lines("ERROR") if "/sql-worklist/queries" in line]
    assert "Traceback" in error and "ZeroDivisionError: a bug" in error


def test_an_orthanc_python_without_rest_still_serves_the_worklist(
    sqlite_db: str,
    today: date,
    services: list[WorklistService],
) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db))
    callback = start(orthanc, services)
    assert any("cannot register REST routes" in line for line in orthanc.lines("WARNING"))
    assert find(callback, dx_query(today)).added
