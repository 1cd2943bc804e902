"""The plugin's REST routes on the real Orthanc: worklist, query log, health, metrics, authentication."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydicom.dataset import Dataset

from support.clients import findscu, pynetdicom_find
from support.servers import UNREACHABLE_PASSWORD, OrthancServer, plugin_settings
from support.web import credentials_for_urllib, get
from vetmwl.web.identifiers import ROOT_KEYS, STEP_KEYS

SECRET = UNREACHABLE_PASSWORD
USERS = {"clinic-it": "right-horse-battery"}


def dx_today_keys(today: date) -> list[str]:
    """findscu keys asking for the same keys as the worklist page, for today's DX procedures."""
    step = {"Modality": "DX", "ScheduledProcedureStepStartDate": f"{today:%Y%m%d}"}
    keys = [f"{k}=" for k in ROOT_KEYS]
    keys += [f"ScheduledProcedureStepSequence[0].{k}={step.get(k, '')}" for k in STEP_KEYS]
    return keys


def newest(port: int, calling_aet: str, auth: tuple[str, str] | None = None) -> dict:
    """The newest query-log entry from ``calling_aet``."""
    entries = [q for q in get(port, "/sql-worklist/queries", auth).json()["queries"] if q["calling_aet"] == calling_aet]
    assert entries, f"no C-FIND from {calling_aet} in the query log"
    return entries[0]


def metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = get(port, "/sql-worklist/metrics")
    assert reply.status == 200 and reply.content_type.startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }


def test_worklist_route_equals_what_findscu_gets(sqlite_orthanc: OrthancServer, today: date) -> None:
    reply = get(sqlite_orthanc.http_port, "/sql-worklist/worklist", date=f"{today:%Y%m%d}", modality="DX")
    assert reply.status == 200
    items = reply.json()["items"]
    found = findscu(sqlite_orthanc.dicom_port, dx_today_keys(today), aet="RESTCMP")
    assert found.final_status == 0, found.output
    assert len(items) == len(found.answers) >= 4
    for item, answer in zip(items, found.answers, strict=True):
        step = answer.ScheduledProcedureStepSequence[0]
        dicom = {k: str(answer[k].value if answer[k].value is not None else "") for k in ROOT_KEYS}
        dicom |= {k: str(step[k].value if step[k].value is not None else "") for k in STEP_KEYS}
        assert {k: item.get(k, "") for k in dicom} == dicom


def test_a_findscu_query_appears_in_the_query_log(sqlite_orthanc: OrthancServer, today: date) -> None:
    found = findscu(sqlite_orthanc.dicom_port, dx_today_keys(today), aet="RESTLOG1")
    assert found.final_status == 0
    entry = newest(sqlite_orthanc.http_port, "RESTLOG1")
    assert entry["called_aet"] == "VETMWL"
    assert entry["calling_address"] is None
    assert entry["status"] == "ok" and entry["error"] == ""
    assert entry["answers"] == len(found.answers)
    assert entry["keys"] == {"Modality": "DX", "ScheduledProcedureStepStartDate": f"{today:%Y%m%d}"}
    assert "PatientName" in entry["requested"]
    assert entry["ms"] > 0 and entry["sql_ms"] is not None


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
def test_a_refused_query_shows_its_error(sqlite_orthanc: OrthancServer) -> None:
    query = Dataset()
    query.PatientName = ""
    step = Dataset()
    step.ScheduledProcedureStepStartDate = "2026-13-45"
    query.ScheduledProcedureStepSequence = [step]
    result = pynetdicom_find(sqlite_orthanc.dicom_port, query, aet="RESTBAD")
    assert result.final_status is not None and result.final_status >= 0xC000
    entry = newest(sqlite_orthanc.http_port, "RESTBAD")
    assert entry["status"] == "refused"
    assert "'2026-13-45' is neither a single value nor a range" in entry["error"]


def test_patient_names_are_not_in_the_info_line(sqlite_orthanc: OrthancServer) -> None:
    query = Dataset()
    query.PatientName = "smith*"
    query.ScheduledProcedureStepSequence = [Dataset()]
    assert pynetdicom_find(sqlite_orthanc.dicom_port, query, aet="RESTNAME").answers
    lines = [line for line in sqlite_orthanc.log().splitlines() if "SqlWorklist: C-FIND from RESTNAME" in line]
    assert len(lines) == 1
    assert "'PatientName': '<given>'" in lines[0]
    assert "smith" not in lines[0].lower()


def test_health_is_ok_with_latency_and_versions(sqlite_orthanc: OrthancServer) -> None:
    reply = get(sqlite_orthanc.http_port, "/sql-worklist/health")
    assert reply.status == 200
    data = reply.json()
    assert data["status"] == "ok" and data["problems"] == []
    assert data["database"]["reachable"] is True and data["database"]["probe_ms"] > 0
    assert data["orthanc"]["version"] == "1.10.1"
    assert data["plugin"]["version"]
    assert data["configuration"]["dialect"] == "sqlite"


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
def test_metrics_count_each_cfind(sqlite_orthanc: OrthancServer, today: date) -> None:
    before = metrics(sqlite_orthanc.http_port)
    found = findscu(sqlite_orthanc.dicom_port, dx_today_keys(today), aet="RESTMETRICS")
    assert found.final_status == 0
    bad = Dataset()
    bad.ScheduledProcedureStepSequence = [Dataset()]
    bad.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate = "20261399"
    pynetdicom_find(sqlite_orthanc.dicom_port, bad, aet="RESTMETRICS")
    after = metrics(sqlite_orthanc.http_port)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after[key] - before[key]

    assert grew("vetmwl_cfind_queries_total", status="ok") == 1
    assert grew("vetmwl_cfind_queries_total", status="refused") == 1
    assert grew("vetmwl_cfind_answers_total") == len(found.answers)
    assert grew("vetmwl_cfind_duration_seconds_count") == 2
    assert grew("vetmwl_cfind_duration_seconds_bucket", le="+Inf") == 2
    (info,) = [dict(labels) for name, labels in after if name == "vetmwl_info"]
    assert info["dialect"] == "sqlite" and info["version"]


def test_explorer_gets_the_worklist_entry(sqlite_orthanc: OrthancServer) -> None:
    script = get(sqlite_orthanc.http_port, "/plugins/explorer.js")
    assert script.status == 200 and "sql-worklist-entry" in script.text
    plugin = get(sqlite_orthanc.http_port, "/plugins/python").json()
    assert plugin["RootUri"] == "../sql-worklist/app/index.html"
    page = get(sqlite_orthanc.http_port, "/sql-worklist/app/index.html")
    assert page.status == 200 and page.content_type.startswith("text/html")
    assert get(sqlite_orthanc.http_port, "/sql-worklist/app/../rest.py").status == 404


def test_health_is_degraded_when_the_database_is_down(database_down: OrthancServer) -> None:
    started = time.monotonic()
    reply = get(database_down.http_port, "/sql-worklist/health")
    assert time.monotonic() - started < 10
    assert reply.status == 503
    data = reply.json()
    assert data["status"] == "degraded"
    assert "the database server cannot be reached" in data["problems"][0]
    assert data["database"]["reachable"] is False
    assert "Pwd=***" in data["configuration"]["connection_string"]
    assert SECRET not in reply.text

    worklist = get(database_down.http_port, "/sql-worklist/worklist")
    assert worklist.status == 503
    assert "the database server cannot be reached" in worklist.json()["error"]

    found = findscu(database_down.dicom_port, ["PatientName=", "ScheduledProcedureStepSequence[0].Modality=DX"])
    assert found.final_status == -1
    entry = newest(database_down.http_port, "FINDSCU")
    assert entry["status"] == "failed" and "cannot be reached" in entry["error"]
    assert SECRET not in get(database_down.http_port, "/sql-worklist/queries").text

    log = database_down.log()
    assert "SqlWorklist: health check: degraded: the database server cannot be reached" in log
    assert SECRET not in log


@pytest.fixture(scope="module")
def secured(sqlite_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """Orthanc with HTTP authentication on, and a password in the connection string."""
    connection = sqlite_db.replace("Database=", f"PWD={SECRET};Database=")
    server = OrthancServer(
        tmp_path_factory.mktemp("orthanc-auth"),
        plugin_settings(connection, "sqlite"),
        AuthenticationEnabled=True,
        RegisteredUsers=USERS,
    )
    ((user, password),) = USERS.items()
    with credentials_for_urllib(server.http_port, user, password):
        server.start()
    with server:
        yield server


@pytest.mark.parametrize(
    "path", ["/sql-worklist/health", "/sql-worklist/queries", "/sql-worklist/metrics", "/sql-worklist/app/index.html"]
)
def test_rest_obeys_orthancs_authentication(secured: OrthancServer, path: str) -> None:
    ((user, password),) = USERS.items()
    assert get(secured.http_port, path).status == 401
    assert get(secured.http_port, path, auth=(user, "wrong")).status == 401
    assert get(secured.http_port, path, auth=(user, password)).status == 200


def test_the_connection_password_is_never_shown(secured: OrthancServer, today: date) -> None:
    auth = next(iter(USERS.items()))
    health = get(secured.http_port, "/sql-worklist/health", auth=auth)
    assert health.status == 200
    assert "PWD=***" in health.json()["configuration"]["connection_string"]
    found = findscu(secured.dicom_port, dx_today_keys(today), aet="RESTSECURE")
    assert found.final_status == 0
    assert newest(secured.http_port, "RESTSECURE", auth)["answers"] == len(found.answers)
    for path in ("/sql-worklist/health", "/sql-worklist/queries", "/sql-worklist/worklist", "/sql-worklist/metrics"):
        assert SECRET not in get(secured.http_port, path, auth=auth).text
    assert SECRET not in secured.log()
    assert SECRET in Path(secured.config_path).read_text()  # it was there to hide
