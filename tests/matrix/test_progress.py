"""Finished work leaves the worklist, on every Orthanc of the matrix (issue #14): a modality's MPPS
session, a study stored into Orthanc, hostile and out-of-order messages, and a restart that keeps
the state. Real Orthanc with the plugin, the demo SQLite database, pynetdicom's MPPS SCU and C-FIND,
dcmtk's storescu."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from support import mpps
from support.clients import pynetdicom_find
from support.runtimes import Runtime
from support.servers import OrthancServer, free_port, plugin_settings
from support.studies import dx_image, storescu

SPS = "ScheduledProcedureStepSequence"
EVERY_STATUS = ["SCHEDULED", "ARRIVED", "READY", "IN PROGRESS", "COMPLETED", "DISCONTINUED"]


def todays_dx(orthanc: OrthancServer, today: date, aet: str) -> list[Dataset]:
    """Today's DX steps as the station ``aet`` gets them."""
    query = Dataset()
    query.PatientID = query.AccessionNumber = query.StudyInstanceUID = ""
    step = Dataset()
    step.Modality = "DX"
    step.ScheduledProcedureStepStartDate = f"{today:%Y%m%d}"
    step.ScheduledProcedureStepID = step.ScheduledProcedureStepStatus = ""
    query.ScheduledProcedureStepSequence = [step]
    result = pynetdicom_find(orthanc.dicom_port, query, aet=aet)
    assert result.final_status == 0, orthanc.log()[-3000:]
    return result.answers


def spsid(answer: Dataset) -> str:
    return answer[SPS][0].ScheduledProcedureStepID


def statuses(answers: list[Dataset]) -> dict[str, str]:
    return {spsid(a): a[SPS][0].ScheduledProcedureStepStatus for a in answers}


def until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.2)


def steps(orthanc: OrthancServer) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{orthanc.http_port}/sql-worklist/steps", timeout=10) as response:
        return json.loads(response.read())["steps"]


def test_a_session_and_an_arriving_study_leave_the_worklist_and_stay_gone_after_a_restart(
    orthanc_runtime: Runtime, sqlite_db: str, today: date, tmp_path: Path
) -> None:
    port = free_port()
    settings = plugin_settings(
        sqlite_db,
        "sqlite",
        Mpps=mpps.scp(port),
        StudyArrival={"Event": "NewStudy"},
        Modalities={"DESK": {"Statuses": EVERY_STATUS}},
    )
    workdir = tmp_path / "orthanc"
    with OrthancServer(workdir, settings, runtime=orthanc_runtime) as orthanc:
        before = todays_dx(orthanc, today, "DX_ROOM2")
        assert len(before) >= 3
        first, second = before[0], before[1]
        assert mpps.echo(port) == 0

        # DX_ROOM1 starts the first exam: another station no longer sees it, the desk sees it in progress.
        attributes = mpps.in_progress(spsid(first), first.AccessionNumber, first.StudyInstanceUID)
        status, uid, _ = mpps.n_create(port, attributes)
        assert status == 0 and uid
        assert [spsid(a) for a in todays_dx(orthanc, today, "DX_ROOM2")] == [spsid(a) for a in before[1:]]
        assert statuses(todays_dx(orthanc, today, "DESK"))[spsid(first)] == "IN PROGRESS"

        # Finished; then hostile and out-of-order messages are refused with the state intact.
        assert mpps.n_set(port, uid, mpps.completed(series=2))[0] == 0
        assert mpps.n_set(port, uid, mpps.completed(status="DISCONTINUED"))[0] == 0x0110
        assert mpps.n_set(port, "1.2.826.0.1.3680043.2.1143.999", mpps.completed())[0] == 0x0112
        assert mpps.n_create(port, attributes, uid=uid)[0] == 0x0111
        missing = mpps.in_progress(spsid(second), second.AccessionNumber, second.StudyInstanceUID)
        del missing.PerformedStationAETitle
        assert mpps.n_create(port, missing)[0] == 0x0120
        assert statuses(todays_dx(orthanc, today, "DESK"))[spsid(first)] == "COMPLETED"
        assert spsid(second) in statuses(todays_dx(orthanc, today, "DX_ROOM2"))

        # The second step's images arrive in Orthanc (storescu): the step counts as completed.
        image = dx_image(tmp_path / "image.dcm", second.StudyInstanceUID, second.AccessionNumber, second.PatientID)
        storescu(orthanc.dicom_port, image)
        until(lambda: spsid(second) not in statuses(todays_dx(orthanc, today, "DX_ROOM2")))
        assert statuses(todays_dx(orthanc, today, "DESK"))[spsid(second)] == "COMPLETED"

        recorded = {s["uid"]: s for s in steps(orthanc)}
        session = recorded[uid]
        assert (session["status"], session["series"], session["instances"]) == ("COMPLETED", 2, 4)
        assert [e["event"] for e in session["events"]] == ["N-CREATE", "N-SET"]
        study = recorded["study:" + second.StudyInstanceUID]
        assert (study["kind"], study["instances"]) == ("STUDY", 1)
        assert orthanc.alive()
    assert orthanc.exit_status == 0, orthanc.log()[-3000:]

    # Orthanc restarted: the state is still there.
    with OrthancServer(workdir, settings, runtime=orthanc_runtime) as again:
        after = statuses(todays_dx(again, today, "DX_ROOM2"))
        assert spsid(first) not in after and spsid(second) not in after
        assert set(after) == {spsid(a) for a in before[2:]}
        assert statuses(todays_dx(again, today, "DESK"))[spsid(first)] == "COMPLETED"
    assert again.exit_status == 0, again.log()[-3000:]


USER, PASSWORD = "frontdesk", "Desk-pw-2026"


def rest(
    orthanc: OrthancServer, method: str, path: str, user: str | None = USER, body: bytes = b""
) -> tuple[int, dict]:
    """One request to the plugin's routes through Orthanc's HTTP server, as ``user`` (None: no credentials)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{orthanc.http_port}/sql-worklist{path}",
        method=method,
        data=body if method == "POST" else None,
    )
    if method == "POST":
        request.add_header("Content-Type", "application/json")
    if user is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, json.loads(text) if text.startswith(b"{") else {}


def test_known_senders_only_and_a_void_by_rest_and_by_the_command_line(
    orthanc_runtime: Runtime, sqlite_db: str, today: date, tmp_path: Path
) -> None:
    """StudyArrival.KnownSendersOnly: an Orthanc that accepts stores from anyone (as the demo's does)
    lets an unknown AE store a study with a scheduled accession number; it does not complete the step.
    Then staff put completed steps back, by Orthanc's authenticated REST API and by the command line."""
    settings = plugin_settings(sqlite_db, "sqlite", StudyArrival={"Event": "NewStudy", "KnownSendersOnly": True})
    modalities = {"xray": {"AET": "DX_ROOM1", "Host": "127.0.0.1", "Port": 104}}
    workdir = tmp_path / "orthanc"
    with OrthancServer(
        workdir,
        settings,
        runtime=orthanc_runtime,
        DicomModalities=modalities,
        DicomAlwaysAllowStore=True,
        AuthenticationEnabled=True,
        RegisteredUsers={USER: PASSWORD},
    ) as orthanc:
        before = todays_dx(orthanc, today, "DX_ROOM2")
        first, second, third = before[0], before[1], before[2]
        hostile = dx_image(tmp_path / "hostile.dcm", first.StudyInstanceUID, first.AccessionNumber, first.PatientID)
        storescu(orthanc.dicom_port, hostile, aet="INTRUDER")
        until(lambda: "not by one of Orthanc's DicomModalities" in orthanc.log())
        for n, step in enumerate((second, third)):
            image = dx_image(tmp_path / f"{n}.dcm", step.StudyInstanceUID, step.AccessionNumber, step.PatientID)
            storescu(orthanc.dicom_port, image, aet="DX_ROOM1")
        until(lambda: not {spsid(second), spsid(third)} & set(statuses(todays_dx(orthanc, today, "DX_ROOM2"))))
        assert spsid(first) in statuses(todays_dx(orthanc, today, "DX_ROOM2"))
        assert "'INTRUDER'" in orthanc.log()

        # The front desk puts the second back: a POST, behind Orthanc's authentication.
        void = f"/steps/study:{second.StudyInstanceUID}/void"
        assert rest(orthanc, "POST", void, user=None)[0] == 401
        assert rest(orthanc, "POST", void, user="intruder")[0] == 401
        assert rest(orthanc, "GET", void)[0] == 405
        form = urllib.request.Request(f"http://127.0.0.1:{orthanc.http_port}/sql-worklist{void}", data=b"a=b")
        form.add_header("Authorization", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
        with pytest.raises(urllib.error.HTTPError) as refused:  # a form's type, as a cross-site page sends
            urllib.request.urlopen(form, timeout=10)
        assert refused.value.code == 415
        status, data = rest(orthanc, "POST", void, body=b'{"reason": "images of another dog"}')
        assert (status, data["status"]) == (200, "voided"), data
        assert data["step"]["events"][-1]["detail"] == f"voided over REST by {USER}: images of another dog"
        assert spsid(second) in statuses(todays_dx(orthanc, today, "DX_ROOM2"))

        # The third from the shell, reading the same orthanc.json, while Orthanc runs.
        command = [sys.executable, "-m", "vetmwl.tools.steps", "--config", str(orthanc.config_path)]
        uid = f"study:{third.StudyInstanceUID}"
        done = subprocess.run(
            [*command, "void", uid, "--reason", "test", "--by", "vet"], capture_output=True, text=True
        )
        assert done.returncode == 0 and "voided" in done.stdout, done.stderr
        assert spsid(third) in statuses(todays_dx(orthanc, today, "DX_ROOM2"))
        listed = subprocess.run([*command, "list"], capture_output=True, text=True)
        assert listed.returncode == 0 and f"{uid}\tSTUDY\tVOIDED" in listed.stdout, listed.stderr
        missing = subprocess.run([*command, "void", "study:1.2.3"], capture_output=True, text=True)
        assert missing.returncode == 1 and "no performed step" in missing.stderr
        status, data = rest(orthanc, "GET", f"/steps/{uid}")
        assert [e["event"] for e in data["events"]] == ["STUDY", "VOID"]
        assert data["events"][-1]["detail"] == "voided from the command line by vet: test"
    assert orthanc.exit_status == 0, orthanc.log()[-3000:]
