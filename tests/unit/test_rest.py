"""The REST handlers, without Orthanc: a real service over the demo SQLite file (ODBC, no server)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.stores import sqlite_store
from vetmwl import __version__, sqlitefile
from vetmwl.config import Settings, sql_dir
from vetmwl.db import Database, FetchResult
from vetmwl.errors import DatabaseError
from vetmwl.progress import (
    COMPLETED,
    IN_PROGRESS,
    MPPS,
    STUDY,
    VOIDED,
    PerformedStep,
    ProgressStore,
    Reference,
    StepKeys,
    arrived_study,
)
from vetmwl.service import WorklistService
from vetmwl.web.identifiers import worklist_identifier
from vetmwl.web.metrics import Metrics
from vetmwl.web.querylog import QueryLog
from vetmwl.web.rest import JSON, PREFIX, STEPS_NOTE, Response, RestApi, arrived, dicom_datetime_iso

TEMPLATES = sql_dir() / "queries"

SPS = "ScheduledProcedureStepSequence"


def make_api(services: list[WorklistService], connection: str, **settings: Any) -> RestApi:
    service = WorklistService(
        Settings(connection_string=connection, dialect="sqlite", template_dir=TEMPLATES, **settings)
    )
    services.append(service)
    return RestApi(service, QueryLog(), Metrics(), orthanc_version=lambda: "1.10.1")


def body(response: Response) -> Any:
    assert response.content_type.startswith("application/json")
    return json.loads(response.body)


def get(api: RestApi, path: str, **args: str) -> Response:
    return api.handle("GET", path, args)


def step(item: dict) -> dict:
    return item[SPS][0]


def todays(items: list[dict], today: date, **match: str) -> list[dict]:
    chosen = [
        i
        for i in items
        if step(i)["ScheduledProcedureStepStartDate"] == f"{today:%Y%m%d}"
        and all(step(i)[k] == v for k, v in match.items())
    ]
    return sorted(
        chosen, key=lambda i: (step(i)["ScheduledProcedureStepStartTime"], step(i)["ScheduledProcedureStepID"])
    )


# -- /worklist --------------------------------------------------------------------------------------
def test_worklist_defaults_to_today_and_matches_the_schedule(
    sqlite_db: str, demo_items: list[dict], today: date, services: list[WorklistService]
) -> None:
    api = make_api(services, sqlite_db)
    response = get(api, "/worklist", modality="dx")
    assert response.status == 200
    data = body(response)
    want = todays(demo_items, today, Modality="DX")
    assert len(want) >= 4
    assert data["count"] == len(want)
    assert data["date"] == f"{today:%Y%m%d}" and data["modality"] == "DX"
    assert data["keys"] == {"Modality": "DX", "ScheduledProcedureStepStartDate": f"{today:%Y%m%d}"}
    assert [i["ScheduledProcedureStepID"] for i in data["items"]] == [step(i)["ScheduledProcedureStepID"] for i in want]
    for got, item in zip(data["items"], want, strict=True):
        assert got["PatientName"] == item["PatientName"]
        assert got["PatientSpeciesDescription"] == item["PatientSpeciesDescription"]
        assert got["ScheduledStationAETitle"] == step(item)["ScheduledStationAETitle"]
        assert got["StudyInstanceUID"].startswith("2.25.")
    assert data["incomplete"] is False
    assert data["sql_ms"] >= 0 and data["total_ms"] >= data["sql_ms"]


def test_worklist_by_station_over_all_days(
    sqlite_db: str, demo_items: list[dict], services: list[WorklistService]
) -> None:
    api = make_api(services, sqlite_db)
    data = body(get(api, "/worklist", date="", station="US_ROOM1"))
    want = [i for i in demo_items if step(i)["ScheduledStationAETitle"] == "US_ROOM1"]
    assert len(want) > 5
    assert data["keys"] == {"ScheduledStationAETitle": "US_ROOM1"}
    assert sorted(i["ScheduledProcedureStepID"] for i in data["items"]) == sorted(
        step(i)["ScheduledProcedureStepID"] for i in want
    )
    assert len({i["ScheduledProcedureStepStartDate"] for i in data["items"]}) == 5


def test_worklist_limit_marks_incomplete(sqlite_db: str, services: list[WorklistService]) -> None:
    api = make_api(services, sqlite_db, limit_answers=3)
    data = body(get(api, "/worklist", date=""))
    assert data["count"] == 3 and data["incomplete"] is True


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"date": "today"}, "date must be YYYYMMDD"),
        ({"date": "2026-11-27"}, "date must be YYYYMMDD"),
        ({"date": "20261345"}, "'20261345' is not a real calendar date"),  # said by the service itself
        ({"date": "20261127-20261101"}, "ends before it starts"),
        ({"station": "A_VERY_LONG_STATION_NAME"}, "station must be an AE title"),
        ({"station": "DX\\CR"}, "station must be an AE title"),
        ({"modality": "D-X"}, "modality must be a code"),
    ],
)
def test_worklist_refuses_bad_parameters(
    sqlite_db: str, services: list[WorklistService], args: dict[str, str], words: str
) -> None:
    response = get(make_api(services, sqlite_db), "/worklist", **args)
    assert response.status == 400
    data = body(response)
    assert data["status"] == "refused"
    assert words in data["error"]


def test_worklist_database_error_is_503_and_counted(sqlite_db: str, services: list[WorklistService]) -> None:
    api = make_api(services, sqlite_db, view="no_such_view")
    response = get(api, "/worklist")
    assert response.status == 503
    data = body(response)
    assert data["status"] == "failed"
    assert "no_such_view" in data["error"]
    assert api.metrics.snapshot().database_errors == {"cfind": 0, "rest": 1, "health": 0}


def test_worklist_waits_for_a_running_cfind(sqlite_db: str, services: list[WorklistService]) -> None:
    """The page and the C-FIND callback share a lock, so service.find never runs twice at once."""
    lock = threading.Lock()
    service = WorklistService(Settings(connection_string=sqlite_db, dialect="sqlite", template_dir=TEMPLATES))
    services.append(service)
    api = RestApi(service, QueryLog(), Metrics(), lock=lock)
    done: list[Response] = []
    with lock:
        worker = threading.Thread(target=lambda: done.append(get(api, "/worklist")))
        worker.start()
        time.sleep(0.3)
        assert done == []
    worker.join(10)
    assert done and done[0].status == 200


def test_unconfigured_plugin_says_why(sqlite_db: str) -> None:
    api = RestApi(None, QueryLog(), Metrics(), config_error='"SqlWorklist.Dialect" must be one of ...')
    worklist = get(api, "/worklist")
    assert worklist.status == 503
    assert "not configured" in body(worklist)["error"]
    health = get(api, "/health")
    assert health.status == 503
    data = body(health)
    assert data["status"] == "degraded"
    assert '"SqlWorklist.Dialect" must be one of' in data["problems"][0]
    assert 'dialect="unconfigured"' in get(api, "/metrics").body.decode()


# -- /health ----------------------------------------------------------------------------------------
def test_health_ok_with_latency_versions_and_masked_password(sqlite_db: str, services: list[WorklistService]) -> None:
    api = make_api(services, sqlite_db.replace("Database=", "PWD=s3cret;Database="))
    response = get(api, "/health")
    assert response.status == 200
    assert b"s3cret" not in response.body
    data = body(response)
    assert data["status"] == "ok" and data["problems"] == []
    assert data["database"]["reachable"] is True
    assert 0 < data["database"]["probe_ms"] < 5000
    assert data["plugin"]["version"] == __version__
    assert data["orthanc"]["version"] == "1.10.1"
    assert data["configuration"]["dialect"] == "sqlite"
    assert "PWD=***" in data["configuration"]["connection_string"]
    assert "PWD=***" in data["summary"]
    assert "AE titles only" in data["calling_address"]


class SwitchableDatabase:
    """Stands in for vetmwl.db.Database: answers the probe, or fails like an unreachable server."""

    def __init__(self) -> None:
        self.down = False
        self.probes = 0

    def fetch(self, sql: str, params: object = (), max_rows: int | None = None) -> FetchResult:
        self.probes += 1
        if self.down:
            raise DatabaseError("the database server cannot be reached: check that it runs", "08001")
        return FetchResult(("ScheduledProcedureStepID",), [("SPS1",)], 0.001)

    def close(self) -> None:
        pass


def orthanc_unreachable() -> str:
    raise RuntimeError("Orthanc's REST API did not answer")


def test_health_turns_degraded_and_back_logging_each_change_once(caplog: pytest.LogCaptureFixture) -> None:
    database = SwitchableDatabase()
    service = WorklistService(
        Settings(connection_string="Driver=x", dialect="sqlite", template_dir=TEMPLATES), database=database
    )
    api = RestApi(service, QueryLog(), Metrics(), orthanc_version=orthanc_unreachable)
    caplog.set_level(logging.INFO, logger="vetmwl")

    assert get(api, "/health").status == 200
    database.down = True
    for _ in range(3):
        response = get(api, "/health")
        assert response.status == 503
    data = body(response)
    assert data["problems"] == ["the database server cannot be reached: check that it runs"]
    assert data["database"]["reachable"] is False
    assert data["database"]["error"] == data["problems"][0]
    assert data["orthanc"]["version"] == "unknown"
    database.down = False
    assert get(api, "/health").status == 200

    changes = [r for r in caplog.records if r.name == "vetmwl.web.rest"]
    assert [r.levelname for r in changes] == ["WARNING", "WARNING"]
    assert "degraded: the database server cannot be reached" in changes[0].getMessage()
    assert "answers again" in changes[1].getMessage()
    assert api.metrics.snapshot().database_errors["health"] == 3
    assert database.probes == 5


def test_health_probe_of_a_missing_view_is_degraded(sqlite_db: str, services: list[WorklistService]) -> None:
    response = get(make_api(services, sqlite_db, view="no_such_view"), "/health")
    assert response.status == 503
    assert "no_such_view" in body(response)["problems"][0]


# -- /queries ---------------------------------------------------------------------------------------
def test_queries_decode_what_the_modality_asked() -> None:
    querylog = QueryLog()
    api = RestApi(None, querylog, Metrics())
    querylog.record(
        time=1_800_000_000.0,
        calling_aet="DX_ROOM1",
        called_aet="VETMWL",
        status="ok",
        answers=6,
        seconds=0.01234,
        sql_seconds=0.0021,
        identifier=worklist_identifier("20261127", "", "DX"),
    )
    querylog.record(
        time=1_800_000_001.0,
        calling_aet="US_ROOM1",
        called_aet="VETMWL",
        status="refused",
        seconds=0.001,
        error="'2026-13-45' is neither a single value nor a range",
        identifier=worklist_identifier("2026-13-45", "", ""),
    )
    data = body(get(api, "/queries"))
    assert data["capacity"] == querylog.capacity and data["total"] == 2
    newest, oldest = data["queries"]
    assert (newest["seq"], newest["calling_aet"], newest["status"]) == (2, "US_ROOM1", "refused")
    assert newest["error"] == "'2026-13-45' is neither a single value nor a range"
    assert newest["keys"] == {"ScheduledProcedureStepStartDate": "2026-13-45"}
    assert newest["sql_ms"] is None
    assert oldest["keys"] == {"Modality": "DX", "ScheduledProcedureStepStartDate": "20261127"}
    assert "PatientName" in oldest["requested"]
    assert (oldest["answers"], oldest["ms"], oldest["sql_ms"]) == (6, 12.3, 2.1)
    assert oldest["calling_address"] is None and oldest["called_aet"] == "VETMWL"
    assert datetime.fromisoformat(oldest["time"]).timestamp() == 1_800_000_000.0

    assert [q["seq"] for q in body(get(api, "/queries", since="1"))["queries"]] == [2]
    assert [q["seq"] for q in body(get(api, "/queries", limit="1"))["queries"]] == [2]
    assert get(api, "/queries", since="x").status == 400


# -- /metrics, /app, routing --------------------------------------------------------------------------
def test_metrics_route_is_prometheus_text() -> None:
    metrics = Metrics()
    metrics.observe_cfind("ok", 0.01, answers=3)
    response = get(RestApi(None, QueryLog(), metrics), "/metrics")
    assert response.status == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.body.decode())}
    assert families["vetmwl_cfind_answers"].samples[0].value == 3


@pytest.mark.parametrize(
    ("name", "content_type", "words"),
    [
        ("index.html", "text/html", b"worklist.js"),
        ("worklist.js", "application/javascript", b"../queries"),
        ("worklist.js", "application/javascript", b"../steps"),
        ("index.html", "text/html", b'id="steps-table"'),
        ("worklist.css", "text/css", b".vetmwl-table"),
    ],
)
def test_page_files_are_served(name: str, content_type: str, words: bytes) -> None:
    response = get(RestApi(None, QueryLog(), Metrics()), f"/app/{name}")
    assert response.status == 200
    assert response.content_type.startswith(content_type)
    assert words in response.body


@pytest.mark.parametrize(
    "name", ["../rest.py", "..", "%2e%2e/rest.py", ".hidden.js", "sub/index.html", "nothing.html", "index.html\n"]
)
def test_nothing_else_is_served(name: str) -> None:
    assert get(RestApi(None, QueryLog(), Metrics()), f"/app/{name}").status == 404


@pytest.mark.parametrize("path", ["", "/", "/app", "/app/"])
def test_the_prefix_redirects_to_the_page(path: str) -> None:
    response = get(RestApi(None, QueryLog(), Metrics()), path)
    assert (response.status, response.location) == (301, f"{PREFIX}/app/index.html")


def test_only_get_and_known_routes() -> None:
    api = RestApi(None, QueryLog(), Metrics())
    response = api.handle("POST", "/queries", {})
    assert (response.status, response.allow) == (405, "GET")
    assert get(api, "/nothing").status == 404


def test_worklist_answers_as_the_named_calling_ae(sqlite_db: str, services: list[WorklistService]) -> None:
    """?aet= applies that AE's options: here its own station only, and Latin-1 text."""
    from vetmwl.config import AeOptions

    options = AeOptions(character_set="ISO_IR 100", restrict_to_own_station=True)
    api = make_api(services, sqlite_db, modalities=(("CR_ROOM2", options),))
    data = body(get(api, "/worklist", date="", aet="CR_ROOM2"))
    assert data["aet"] == "CR_ROOM2" and data["count"] > 0
    assert {i["ScheduledStationAETitle"] for i in data["items"]} == {"CR_ROOM2"}
    assert all(i["PatientName"].encode("latin-1") for i in data["items"])
    everyone = body(get(api, "/worklist", date=""))
    assert everyone["count"] > data["count"]
    assert get(api, "/worklist", aet="A\\B").status == 400


# -- /steps ------------------------------------------------------------------------------------------
#: 2026-01-05 09:30:00 UTC, in microseconds: the store's clock starts there and ticks a second a call.
T0 = 1_767_605_400_000_000
MPPS_UID = "1.2.826.0.1.3680043.10.1.7"
STUDY_UID = "1.2.826.0.1.3680043.10.9.9"


def series_item(uid: str, images: int, others: int = 0) -> dict[str, Any]:
    """A Performed Series Sequence item in DICOM JSON, with its referenced instances."""
    item: dict[str, Any] = {"0020000E": {"vr": "UI", "Value": [uid]}, "00080060": {"vr": "CS", "Value": ["DX"]}}
    item["00081140"] = {
        "vr": "SQ",
        "Value": [{"00081155": {"vr": "UI", "Value": [f"{uid}.{n}"]}} for n in range(images)],
    }
    if others:
        item["00400220"] = {
            "vr": "SQ",
            "Value": [{"00081155": {"vr": "UI", "Value": [f"{uid}.9{n}"]}} for n in range(others)],
        }
    return item


def mpps_attributes(*series: dict[str, Any]) -> str:
    data: dict[str, Any] = {
        "00400252": {"vr": "CS", "Value": [COMPLETED]},
        "00400254": {"vr": "LO", "Value": ["Stifle"]},
    }
    data["00400340"] = {"vr": "SQ", "Value": list(series)} if series else {"vr": "SQ"}
    return json.dumps(data)


class SwitchableStoreDatabase:
    """A real SQLite state store that can be made to fail like an unreachable server."""

    def __init__(self, path: Path) -> None:
        self.real = Database(str(path), 5, 5, connect=sqlitefile.connect)
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise DatabaseError("the state store cannot be reached: check that its server runs", "08001")

    def fetch(self, sql: str, params: Sequence[object] = (), max_rows: int | None = None) -> FetchResult:
        self._check()
        return self.real.fetch(sql, params, max_rows)

    def transaction(
        self, statements: Sequence[tuple[str, Sequence[object]]], only_if_first_changes: bool = False
    ) -> list[int]:
        self._check()
        return self.real.transaction(statements, only_if_first_changes)

    def close(self) -> None:
        self.real.close()


@pytest.fixture
def progress(tmp_path: Path) -> Any:
    """A state store on a real SQLite file holding an MPPS session (N-CREATE, then N-SET COMPLETED
    with two series), an unscheduled MPPS still in progress, and a study that arrived twice."""
    database = SwitchableStoreDatabase(tmp_path / "state" / "progress.sqlite")
    store = sqlite_store(
        tmp_path,
        start_us=T0,
        step_us=1_000_000,
        recorded_by="ORTHANC_A",
        database=database,  # type: ignore[arg-type]
    )
    store.create(
        PerformedStep(
            MPPS_UID,
            MPPS,
            IN_PROGRESS,
            calling_aet="DX_ROOM1",
            calling_address="192.0.2.10",
            station_aet="DX_ROOM1",
            modality="DX",
            started="20260105093000",
            attributes=mpps_attributes(),
            references=(Reference("SPS1", "ACC1", "1.2.9", "RP1"), Reference("SPS2", "ACC1", "1.2.9", "RP1")),
        ),
        "N-CREATE from DX_ROOM1",
    )
    store.update(
        MPPS_UID,
        COMPLETED,
        "20260105094512.5+0100",
        mpps_attributes(series_item("1.2.9.1", 3), series_item("1.2.9.2", 1, others=1)),
        "DX_ROOM1",
        "N-SET from DX_ROOM1",
    )
    store.create(
        PerformedStep("4.5.6", MPPS, IN_PROGRESS, calling_aet="US_ROOM1", station_aet="US_ROOM1", modality="US"),
        "N-CREATE from US_ROOM1",
    )
    study = {
        "StudyInstanceUID": STUDY_UID,
        "AccessionNumber": "ACC7",
        "OrthancStudy": "6e2c0ec2-5d99a1b0",
        "StudyDescription": "Thorax, 2 views",
    }
    arrival = PerformedStep(
        f"study:{STUDY_UID}",
        STUDY,
        COMPLETED,
        calling_aet="CR_ROOM2",
        modality="CR",
        started="20260105",
        attributes=json.dumps({**study, "Series": 1, "Instances": 2, "Event": "NewStudy"}),
        references=(Reference("", "ACC7", STUDY_UID, ""),),
    )
    store.study_arrived(arrival, "NewStudy from CR_ROOM2")
    again = json.dumps({**study, "Series": 2, "Instances": 5, "Event": "StableStudy"})
    store.study_arrived(replace(arrival, attributes=again), "StableStudy")
    yield store
    database.close()


def steps_api(progress: ProgressStore | None, service: WorklistService | None = None) -> RestApi:
    return RestApi(service, QueryLog(), Metrics(), progress=progress)


def test_steps_newest_first_with_references_history_and_what_arrived(progress: ProgressStore) -> None:
    response = get(steps_api(progress), "/steps")
    assert response.status == 200
    data = body(response)
    assert (data["enabled"], data["count"], data["limit"]) == (True, 3, 100)
    study, unscheduled, session = data["steps"]
    assert [study["uid"], unscheduled["uid"], session["uid"]] == [f"study:{STUDY_UID}", "4.5.6", MPPS_UID]

    assert session["kind"] == "MPPS" and session["status"] == "COMPLETED"
    assert (session["calling_aet"], session["calling_address"], session["station_aet"], session["modality"]) == (
        "DX_ROOM1",
        "192.0.2.10",
        "DX_ROOM1",
        "DX",
    )
    assert (session["started"], session["started_iso"]) == ("20260105093000", "2026-01-05T09:30:00")
    assert (session["ended"], session["ended_iso"]) == ("20260105094512.5+0100", "2026-01-05T09:45:12.500000+01:00")
    assert session["recorded_by"] == "ORTHANC_A"
    assert session["created"] == "2026-01-05T09:30:00.000+00:00"
    assert session["updated"] == "2026-01-05T09:30:01.000+00:00"
    assert session["references"] == [
        {
            "ScheduledProcedureStepID": s,
            "AccessionNumber": "ACC1",
            "StudyInstanceUID": "1.2.9",
            "RequestedProcedureID": "RP1",
        }
        for s in ("SPS1", "SPS2")
    ]
    assert session["events"] == [
        {
            "time": "2026-01-05T09:30:00.000+00:00",
            "event": "N-CREATE",
            "status": "IN PROGRESS",
            "calling_aet": "DX_ROOM1",
            "detail": "N-CREATE from DX_ROOM1",
        },
        {
            "time": "2026-01-05T09:30:01.000+00:00",
            "event": "N-SET",
            "status": "COMPLETED",
            "calling_aet": "DX_ROOM1",
            "detail": "N-SET from DX_ROOM1",
        },
    ]
    assert (session["series"], session["instances"], session["orthanc_study"]) == (2, 5, None)
    assert session["description"] == "Stifle"

    assert unscheduled["status"] == "IN PROGRESS" and unscheduled["references"] == []
    assert (unscheduled["ended"], unscheduled["ended_iso"]) == ("", None)
    assert (unscheduled["series"], unscheduled["instances"]) == (None, None)  # no Performed Series Sequence yet

    assert study["kind"] == "STUDY" and study["status"] == "COMPLETED"
    assert (study["started"], study["started_iso"]) == ("20260105", "2026-01-05T00:00:00")
    assert study["references"] == [
        {
            "ScheduledProcedureStepID": "",
            "AccessionNumber": "ACC7",
            "StudyInstanceUID": STUDY_UID,
            "RequestedProcedureID": "",
        }
    ]
    assert [(e["event"], e["detail"]) for e in study["events"]] == [
        ("STUDY", "NewStudy from CR_ROOM2"),
        ("STUDY", "StableStudy"),
    ]
    # The stable event's counts replace the new event's.
    assert (study["series"], study["instances"], study["orthanc_study"]) == (2, 5, "6e2c0ec2-5d99a1b0")
    assert study["description"] == "Thorax, 2 views"


def test_steps_limit(progress: ProgressStore) -> None:
    api = steps_api(progress)
    data = body(get(api, "/steps", limit="1"))
    assert data["count"] == 1 and data["steps"][0]["uid"] == f"study:{STUDY_UID}"
    assert body(get(api, "/steps", limit="1000"))["count"] == 3
    for bad in ("0", "1001", "-1", "ten", ""):
        response = get(api, "/steps", limit=bad)
        assert response.status == 400, bad
        assert "limit must be a whole number from 1 to 1000" in body(response)["error"]


def test_one_step_by_its_uid(progress: ProgressStore) -> None:
    api = steps_api(progress)
    data = body(get(api, f"/steps/{MPPS_UID}"))
    assert data["uid"] == MPPS_UID and data["series"] == 2 and len(data["events"]) == 2
    # The page encodes the UID; Orthanc may or may not have decoded it.
    for path in (f"/steps/study:{STUDY_UID}", f"/steps/study%3A{STUDY_UID}"):
        assert body(get(api, path))["orthanc_study"] == "6e2c0ec2-5d99a1b0"
    missing = get(api, "/steps/9.9.9")
    assert missing.status == 404
    assert body(missing) == {"status": "not found", "error": "no performed step '9.9.9' in the state store"}
    assert get(api, "/steps/1.2%0A3").status == 400
    assert get(api, "/steps/1.2.3%0A").status == 400  # checked whole, not up to a final newline


def test_steps_when_nothing_is_recorded_say_how_to_turn_it_on() -> None:
    api = steps_api(None)
    response = get(api, "/steps")
    assert response.status == 200
    assert body(response) == {"enabled": False, "count": 0, "steps": [], "note": STEPS_NOTE}
    assert "SqlWorklist.Mpps.Enable" in STEPS_NOTE and "SqlWorklist.StudyArrival.Event" in STEPS_NOTE
    one = get(api, f"/steps/{MPPS_UID}")
    assert one.status == 404 and body(one)["error"] == STEPS_NOTE
    assert body(get(api, "/health"))["progress"] == {"enabled": False, "reachable": None, "probe_ms": None, "error": ""}


def test_steps_store_down_is_503_logged_once(progress: ProgressStore, caplog: pytest.LogCaptureFixture) -> None:
    api = steps_api(progress)
    caplog.set_level(logging.INFO, logger="vetmwl")
    assert get(api, "/steps").status == 200
    progress.database.down = True  # type: ignore[attr-defined]
    for path in ("/steps", "/steps", f"/steps/{MPPS_UID}"):
        response = get(api, path)
        assert response.status == 503
        assert body(response) == {
            "status": "failed",
            "error": "the state store cannot be reached: check that its server runs",
        }
    progress.database.down = False  # type: ignore[attr-defined]
    assert get(api, "/steps").status == 200
    assert get(api, "/steps").status == 200
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "vetmwl.web.rest"]
    assert logged == [
        (
            "WARNING",
            "the performed steps could not be read from the state store: the state store cannot be reached: "
            "check that its server runs",
        ),
        ("WARNING", "the state store of performed steps answers again"),
    ]


def test_health_probes_the_state_store(progress: ProgressStore) -> None:
    database = SwitchableDatabase()
    service = WorklistService(
        Settings(connection_string="Driver=x", dialect="sqlite", template_dir=TEMPLATES), database=database
    )
    api = steps_api(progress, service)
    response = get(api, "/health")
    assert response.status == 200
    entry = body(response)["progress"]
    assert (entry["enabled"], entry["reachable"], entry["error"]) == (True, True, "")
    assert 0 <= entry["probe_ms"] < 5000

    progress.database.down = True  # type: ignore[attr-defined]
    response = get(api, "/health")
    assert response.status == 503
    data = body(response)
    assert data["database"]["reachable"] is True
    assert data["progress"]["reachable"] is False
    assert data["problems"] == [
        "the state store of performed steps does not answer: the state store cannot be reached: check that its "
        "server runs"
    ]
    # Store errors are not the worklist database's: that counter is unchanged.
    assert api.metrics.snapshot().database_errors["health"] == 0


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (mpps_attributes(series_item("1.1", 2), series_item("1.2", 0, others=3)), (2, 5, None)),
        (mpps_attributes(), (0, 0, None)),  # the sequence is there, empty: nothing performed yet
        ('{"00400340": {"vr": "SQ", "Value": ["junk", {}]}}', (1, 0, None)),
        ("{}", (None, None, None)),
        ("", (None, None, None)),
        ("not json", (None, None, None)),
        ("[1, 2]", (None, None, None)),
        ('{"OrthancStudy": "abc", "Series": 3, "Instances": "12"}', (3, 12, "abc")),
        ('{"OrthancStudy": "abc", "Series": null, "Instances": true}', (None, None, "abc")),
        ('{"StudyInstanceUID": "1.2", "Series": 1}', (1, None, None)),
        ('{"00201206": {"vr": "IS", "Value": ["4"]}, "00201208": {"vr": "IS", "Value": [40]}}', (4, 40, None)),
        ('{"00201206": {"vr": "IS"}}', (None, None, None)),
        ('{"Series": "\u00b2", "Instances": -1}', (None, None, None)),
    ],
)
def test_what_arrived_is_read_from_either_shape(attributes: str, expected: tuple[Any, ...]) -> None:
    found = arrived(attributes)
    assert (found["series"], found["instances"], found["orthanc_study"]) == expected


def test_a_study_as_the_wiring_records_it(progress: ProgressStore) -> None:
    """vetmwl.progress.arrived_study's step (Orthanc's tags and statistics of a study) as the route shows it."""
    tags = {
        "StudyInstanceUID": "1.2.840.99.5",
        "AccessionNumber": "ACC9",
        "StudyDescription": "Pelvis VD",
        "StudyDate": "20260105",
        "StudyTime": "101500",
    }
    step = arrived_study(tags, {"CountSeries": 3, "CountInstances": 12}, "0a1b2c3d-4e5f", "StableStudy")
    assert step is not None
    progress.study_arrived(step, "StableStudy")
    data = body(get(steps_api(progress), "/steps/study:1.2.840.99.5"))
    assert (data["kind"], data["status"], data["started_iso"]) == ("STUDY", "COMPLETED", "2026-01-05T10:15:00")
    assert (data["series"], data["instances"], data["orthanc_study"]) == (3, 12, "0a1b2c3d-4e5f")
    assert data["description"] == "Pelvis VD"
    assert data["references"] == [
        {
            "ScheduledProcedureStepID": "",
            "AccessionNumber": "ACC9",
            "StudyInstanceUID": "1.2.840.99.5",
            "RequestedProcedureID": "",
        }
    ]


@pytest.mark.parametrize(
    ("attributes", "description"),
    [
        ('{"00400254": {"vr": "LO", "Value": ["Thorax, 2 views "]}}', "Thorax, 2 views"),
        ('{"00400254": {"vr": "LO"}, "00081030": {"vr": "LO", "Value": ["Thorax"]}}', "Thorax"),
        ('{"00400254": {"vr": "LO", "Value": [7]}}', None),
        ('{"OrthancStudy": "abc", "StudyDescription": "Abdomen"}', "Abdomen"),
        ('{"OrthancStudy": "abc", "StudyDescription": " "}', None),
        ('{"OrthancStudy": "abc", "StudyDescription": ["Abdomen"]}', None),
        ("{}", None),
    ],
)
def test_what_was_done_is_read_from_either_shape(attributes: str, description: str | None) -> None:
    assert arrived(attributes)["description"] == description


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("20260105093000", "2026-01-05T09:30:00"),
        ("20260105093000.123456", "2026-01-05T09:30:00.123456"),
        ("202601050930-0500", "2026-01-05T09:30:00-05:00"),
        ("20260105", "2026-01-05T00:00:00"),
        ("", None),
        ("20261345", None),
        ("soon", None),
    ],
)
def test_dicom_date_times_in_iso(text: str, iso: str | None) -> None:
    assert dicom_datetime_iso(text) == iso


# -- POST /steps/<uid>/void --------------------------------------------------------------------------
def test_a_void_puts_a_step_back_with_who_and_why_in_its_history(progress: ProgressStore) -> None:
    api = steps_api(progress)
    response = api.handle(
        "POST", f"/steps/{MPPS_UID}/void", {}, body=b'{"reason": "wrong\\npatient"}', user="admin", content_type=JSON
    )
    assert response.status == 200
    data = body(response)
    assert data["status"] == "voided" and data["step"]["status"] == VOIDED
    last = data["step"]["events"][-1]
    assert (last["event"], last["calling_aet"], last["detail"]) == (
        "VOID",
        "admin",
        "voided over REST by admin: wrong patient",
    )
    assert progress.states([StepKeys("SPS1", "ACC1", "1.2.9")]) == []
    again = api.handle("POST", f"/steps/{MPPS_UID}/void", {}, content_type="application/json; charset=utf-8")
    assert (again.status, body(again)["status"]) == (200, "already voided")
    anonymous = api.handle("POST", f"/steps/study%3A{STUDY_UID}/void", {}, content_type=JSON)
    assert body(anonymous)["step"]["events"][-1]["detail"] == "voided over REST by REST"


@pytest.mark.parametrize(
    ("path", "payload", "status", "words"),
    [
        ("/steps/9.9.9/void", b"", 404, "no performed step '9.9.9'"),
        ("/steps/1.2%0A3/void", b"", 400, "not a performed step's UID"),
        (f"/steps/{MPPS_UID}/void", b"not json", 400, "the body must be JSON"),
        (f"/steps/{MPPS_UID}/void", b"\xff", 400, "the body must be JSON"),
        (f"/steps/{MPPS_UID}/void", b'{"reason": 7}', 400, "the body must be JSON"),
        (f"/steps/{MPPS_UID}/void", b'{"why": "x"}', 400, "the body must be JSON"),
        (f"/steps/{MPPS_UID}/void", b'{"reason": "' + b"x" * 201 + b'"}', 400, "longer than 200 characters"),
    ],
)
def test_a_void_that_cannot_be_done_changes_nothing(
    progress: ProgressStore, path: str, payload: bytes, status: int, words: str
) -> None:
    response = steps_api(progress).handle("POST", path, {}, body=payload, content_type=JSON)
    assert response.status == status and words in body(response)["error"]
    assert progress.get(MPPS_UID).status == COMPLETED  # type: ignore[union-attr]


def test_a_void_is_a_post_and_nothing_else_is() -> None:
    api = steps_api(None)
    for method in ("GET", "PUT", "DELETE"):
        response = api.handle(method, f"/steps/{MPPS_UID}/void", {})
        assert (response.status, response.allow) == (405, "POST")
    assert api.handle("POST", "/steps", {}).status == 405
    assert api.handle("POST", f"/steps/{MPPS_UID}/void", {}, content_type=JSON).status == 404  # nothing recorded


def test_a_void_must_say_it_is_json(progress: ProgressStore) -> None:
    """What a cross-site form can send (no type, a form's, text) is refused; nothing changes."""
    api = steps_api(progress)
    for content_type in ("", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data"):
        response = api.handle("POST", f"/steps/{MPPS_UID}/void", {}, content_type=content_type)
        assert response.status == 415 and "Content-Type: application/json" in body(response)["error"]
    assert progress.get(MPPS_UID).status == COMPLETED  # type: ignore[union-attr]


def test_a_void_when_the_store_is_down_is_503(progress: ProgressStore) -> None:
    progress.database.down = True  # type: ignore[attr-defined]
    response = steps_api(progress).handle("POST", f"/steps/{MPPS_UID}/void", {}, content_type=JSON)
    assert response.status == 503
