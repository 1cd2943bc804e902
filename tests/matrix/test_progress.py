"""Finished work leaves the worklist, on every Orthanc of the matrix (issue #14): a modality's MPPS
session, a study stored into Orthanc, hostile and out-of-order messages, and a restart that keeps
the state. Real Orthanc with the plugin, the demo SQLite database, pynetdicom's MPPS SCU and C-FIND,
dcmtk's storescu."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from datetime import date
from pathlib import Path

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
