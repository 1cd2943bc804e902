"""The web side of the wiring: REST routes, the Explorer entry, the query log, metrics and log lines.

Driven like Orthanc drives it: the worklist callback and the REST callback of a fake ``orthanc``
module, over the real demo SQLite file.
"""

from __future__ import annotations

import base64
import re
from datetime import date

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.fake_orthanc import FakeOrthanc
from support.wiring import dx_query, find, orthanc_config, start, todays
from vetmwl.orthanc_wiring import basic_user
from vetmwl.service import WorklistService
from vetmwl.web import rest


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    raise KeyError(name)


def test_routes_and_explorer_entry_are_registered(sqlite_db: str, services: list[WorklistService]) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db))
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
    health = orthanc.get("/sql-worklist/health")
    assert health.status == 200
    assert health.json()["orthanc"]["version"] == "1.10.1"
    assert orthanc.rest_api_calls == ["/system"]


def test_a_cfind_shows_up_in_the_query_log_and_the_metrics(
    sqlite_db: str,
    demo_items: list[dict],
    today: date,
    services: list[WorklistService],
) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db))
    start(orthanc, services)
    answers = find(orthanc, dx_query(today), PatientName="", PatientID="")
    assert len(answers.added) == len(todays(demo_items, today, "DX"))

    (entry,) = orthanc.get("/sql-worklist/queries").json()["queries"]
    assert entry["calling_aet"] == "DX_ROOM1" and entry["called_aet"] == "VETMWL"
    assert entry["calling_address"] is None
    assert entry["status"] == "ok" and entry["error"] == ""
    assert entry["answers"] == len(answers.added)
    assert entry["keys"] == {"Modality": "DX", "ScheduledProcedureStepStartDate": f"{today:%Y%m%d}"}
    assert {"PatientName", "PatientID", "ScheduledProcedureStepID"} <= set(entry["requested"])
    assert entry["ms"] > 0

    metrics = orthanc.get("/sql-worklist/metrics")
    assert metrics.content_type.startswith("text/plain; version=0.0.4")
    text = metrics.body.decode()
    assert metric(text, "vetmwl_cfind_queries_total", status="ok") == 1
    assert metric(text, "vetmwl_cfind_answers_total") == len(answers.added)
    assert metric(text, "vetmwl_cfind_duration_seconds_count") == 1


def test_refused_and_failed_cfinds_are_recorded(sqlite_db: str, services: list[WorklistService]) -> None:
    refusing = FakeOrthanc(orthanc_config(sqlite_db))
    start(refusing, services)
    with pytest.raises(RuntimeError):
        find(refusing, {"ScheduledProcedureStepStartDate": "20261340"})
    (entry,) = refusing.get("/sql-worklist/queries").json()["queries"]
    assert entry["status"] == "refused" and "20261340" in entry["error"]
    assert entry["keys"] == {"ScheduledProcedureStepStartDate": "20261340"}

    failing = FakeOrthanc(orthanc_config(sqlite_db, View="no_such_view"))
    start(failing, services)
    with pytest.raises(RuntimeError):
        find(failing, {"Modality": "DX"})
    (entry,) = failing.get("/sql-worklist/queries").json()["queries"]
    assert entry["status"] == "failed" and "no_such_view" in entry["error"]
    text = failing.get("/sql-worklist/metrics").body.decode()
    assert metric(text, "vetmwl_cfind_queries_total", status="failed") == 1
    assert metric(text, "vetmwl_database_errors_total", origin="cfind") == 1


def test_patient_names_stay_out_of_the_info_line(sqlite_db: str, services: list[WorklistService]) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db))
    start(orthanc, services)
    find(orthanc, {"Modality": ""}, PatientName="Müller*", ReferringPhysicianName="Lindqvist*")
    (summary,) = [line for line in orthanc.lines("INFO") if "answers=" in line]
    assert "'PatientName': '<given>'" in summary
    assert "'ReferringPhysicianName': '<given>'" in summary
    assert not [line for _, line in orthanc.logs if "Müller" in line or "Lindqvist" in line]


def test_trace_level_shows_the_names(sqlite_db: str, services: list[WorklistService]) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db), arguments=("--trace", "orthanc.json"))
    start(orthanc, services)
    find(orthanc, {"Modality": ""}, PatientName="Müller*")
    (named,) = [line for line in orthanc.lines("INFO") if "with names" in line]
    assert "'PatientName': 'Müller*'" in named


def test_broken_configuration_still_explains_itself_over_rest(services: list[WorklistService]) -> None:
    orthanc = FakeOrthanc({"DicomAlwaysAllowFindWorklist": True, "DefaultEncoding": "Utf8"})
    start(orthanc, services)
    with pytest.raises(RuntimeError, match="not configured"):
        find(orthanc, {"Modality": "DX"})
    health = orthanc.get("/sql-worklist/health")
    assert health.status == 503
    assert health.headers["Content-Type"].startswith("application/json")
    assert '"SqlWorklist" section' in health.json()["problems"][0]
    (entry,) = orthanc.get("/sql-worklist/queries").json()["queries"]
    assert entry["status"] == "failed" and "not configured" in entry["error"]
    assert entry["keys"] == {"Modality": "DX"}


def test_redirects_and_methods_reach_orthanc(sqlite_db: str, services: list[WorklistService]) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db))
    start(orthanc, services)
    assert orthanc.get("/sql-worklist").location == "/sql-worklist/app/index.html"
    refused = orthanc.get("/sql-worklist/queries", method="DELETE")
    assert (refused.status, refused.allowed) == (405, "GET")
    page = orthanc.get("/sql-worklist/app/index.html")
    assert page.status == 200 and page.content_type.startswith("text/html")


def test_a_bug_in_a_handler_answers_500_and_logs_the_traceback(
    sqlite_db: str,
    services: list[WorklistService],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db))
    start(orthanc, services)

    def broken(self: rest.RestApi, args: object) -> rest.Response:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(rest.RestApi, "queries", broken)
    output = orthanc.get("/sql-worklist/queries")
    assert output.status == 500
    assert "see Orthanc's log" in output.json()["error"]
    (error,) = [line for line in orthanc.lines("ERROR") if "/sql-worklist/queries" in line]
    assert "Traceback" in error and "ZeroDivisionError: a bug" in error


def test_an_orthanc_python_without_rest_still_serves_the_worklist(
    sqlite_db: str,
    today: date,
    services: list[WorklistService],
) -> None:
    orthanc = FakeOrthanc(orthanc_config(sqlite_db), missing=frozenset({"RegisterRestCallback"}))
    start(orthanc, services)
    assert any("cannot register REST routes" in line for line in orthanc.lines("WARNING"))
    assert find(orthanc, dx_query(today)).added


@pytest.mark.parametrize("api", [4, 5, 7])
def test_error_statuses_reach_every_orthanc_python(sqlite_db: str, services: list[WorklistService], api: int) -> None:
    """SendHttpStatus takes (status, text, size) in orthanc-python 4.0 and (status, body) from 4.2 on."""
    orthanc = FakeOrthanc(orthanc_config(sqlite_db), api=api)
    start(orthanc, services)
    missing = orthanc.get("/sql-worklist/nothing-here")
    assert missing.status == 404 and missing.json()["status"] == "not found"
    refused = orthanc.get("/sql-worklist/worklist", date="tomorrow")
    assert refused.status == 400 and "YYYYMMDD" in refused.json()["error"]


@pytest.mark.parametrize(
    ("headers", "user"),
    [
        ({"authorization": "Basic " + base64.b64encode(b"admin:s3cret:x").decode()}, "admin"),
        ({"Authorization": "basic " + base64.b64encode("frontdesk\u00e9:pw".encode()).decode()}, "frontdesk\u00e9"),
        ({"authorization": "Bearer abc"}, ""),
        ({"authorization": "Basic ###"}, ""),
        ({}, ""),
    ],
)
def test_the_user_of_a_request_is_read_from_basic_authentication(headers: dict[str, str], user: str) -> None:
    """Orthanc checked the password before; only the name is kept, for the history of a void."""
    assert basic_user(headers) == user
