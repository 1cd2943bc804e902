"""Performed steps with the real Orthanc beyond the matrix's flow: two Orthancs sharing one state
store in PostgreSQL, the MPPS access rule, a modality holding its association while Orthanc stops,
a port already taken, and the state store going away under the worklist."""

from __future__ import annotations

import socket
import time
from datetime import date
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from support import mpps
from support.clients import echo, pynetdicom_find
from support.servers import OrthancServer, PostgresServer, free_port, plugin_settings
from vetmwl.service import STORE_PAUSE

SPS = "ScheduledProcedureStepSequence"


def todays_dx(orthanc: OrthancServer, today: date, aet: str = "DX_ROOM2") -> list[Dataset]:
    query = Dataset()
    query.AccessionNumber = query.StudyInstanceUID = ""
    step = Dataset()
    step.Modality = "DX"
    step.ScheduledProcedureStepStartDate = f"{today:%Y%m%d}"
    step.ScheduledProcedureStepID = ""
    query.ScheduledProcedureStepSequence = [step]
    result = pynetdicom_find(orthanc.dicom_port, query, aet=aet)
    assert result.final_status == 0, orthanc.log()[-3000:]
    return result.answers


def spsids(answers: list[Dataset]) -> list[str]:
    return [a[SPS][0].ScheduledProcedureStepID for a in answers]


def started(answer: Dataset) -> Dataset:
    return mpps.in_progress(answer[SPS][0].ScheduledProcedureStepID, answer.AccessionNumber, answer.StudyInstanceUID)


def test_two_orthancs_share_one_state_store(
    sqlite_db: str, postgres: PostgresServer, today: date, tmp_path: Path
) -> None:
    """An exam started through one Orthanc leaves the worklist of the other, which finishes it."""
    postgres.create_database("steps")
    store = {"ConnectionString": postgres.connection_string("steps"), "Dialect": "postgresql"}
    ports = free_port(), free_port()
    settings = [plugin_settings(sqlite_db, "sqlite", Mpps=mpps.scp(p), StateStore=store) for p in ports]
    with (
        OrthancServer(tmp_path / "a", settings[0], Name="orthanc-a") as a,
        OrthancServer(tmp_path / "b", settings[1], Name="orthanc-b") as b,
    ):
        before = todays_dx(b, today)
        status, uid, _ = mpps.n_create(ports[0], started(before[0]))
        assert status == 0
        assert spsids(todays_dx(b, today)) == spsids(before[1:])
        assert mpps.n_set(ports[1], uid, mpps.completed())[0] == 0  # the other Orthanc knows the instance
        assert mpps.n_set(ports[0], uid, mpps.completed())[0] == 0x0110  # and both know it is final
        assert spsids(todays_dx(a, today)) == spsids(before[1:])
        # A date range would overflow PostgreSQL's 32-character column (an error of the store, once
        # taken for the plugin's own): it is refused as an invalid value before the store.
        ranged = started(before[1])
        ranged.PerformedProcedureStepStartDate = "20260101-20261231"
        ranged.PerformedProcedureStepStartTime = "000000.000000-235959.999999"
        assert mpps.n_create(ports[0], ranged)[::2] == (0x0106, "Invalid value: PerformedProcedureStepStartDate")
        recorded = postgres.psql("SELECT recorded_by, step_status FROM vetmwl_performed_step", database="steps")
        assert recorded.split() == ["orthanc-a|COMPLETED"]
        assert "internal error" not in a.log()
    assert (a.exit_status, b.exit_status) == (0, 0)


def test_only_the_allowed_aets_may_send_mpps(sqlite_db: str, tmp_path: Path) -> None:
    port = free_port()
    settings = plugin_settings(sqlite_db, "sqlite", Mpps=mpps.scp(port))
    with OrthancServer(tmp_path, settings) as orthanc:
        assert mpps.echo(port, aet="DX_ROOM1") == 0
        with pytest.raises(mpps.NoAnswer):
            mpps.echo(port, aet="INTRUDER")
        assert "INTRUDER" in orthanc.log()


def test_orthanc_stops_cleanly_while_a_modality_holds_its_association(sqlite_db: str, tmp_path: Path) -> None:
    port = free_port()
    settings = plugin_settings(sqlite_db, "sqlite", Mpps=mpps.scp(port))
    orthanc = OrthancServer(tmp_path, settings).start()
    with mpps.session(port) as held:
        assert held.echo() == 0
        assert orthanc.stop() == 0, orthanc.log()[-3000:]


def test_a_taken_mpps_port_leaves_the_worklist_working(sqlite_db: str, today: date, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = plugin_settings(sqlite_db, "sqlite", Mpps=mpps.scp(port))
        with OrthancServer(tmp_path, settings) as orthanc:
            assert todays_dx(orthanc, today) and echo(orthanc.dicom_port) == 0
            assert f"port {port}" in orthanc.log()
        assert orthanc.exit_status == 0


def test_a_state_store_that_goes_away_leaves_the_worklist_working(
    sqlite_db: str, own_postgres: PostgresServer, today: date, tmp_path: Path
) -> None:
    own_postgres.create_database("steps")
    store = {"ConnectionString": own_postgres.connection_string("steps"), "Dialect": "postgresql"}
    port = free_port()
    settings = plugin_settings(sqlite_db, "sqlite", Mpps=mpps.scp(port), StateStore=store)
    with OrthancServer(tmp_path, settings) as orthanc:
        before = todays_dx(orthanc, today)
        assert mpps.n_create(port, started(before[0]))[0] == 0
        own_postgres.stop()
        # The worklist keeps answering (the performed step shows again), and an MPPS gets a failure status.
        assert spsids(todays_dx(orthanc, today)) == spsids(before)
        status, _, comment = mpps.n_create(port, started(before[1]))
        assert status == 0x0110 and comment
        assert "the state store cannot be read" in orthanc.log()
        own_postgres.start()
        # The store is asked again once its pause (STORE_PAUSE seconds after the failure) is over.
        deadline = time.monotonic() + STORE_PAUSE + 15
        while spsids(todays_dx(orthanc, today)) != spsids(before[1:]):
            assert time.monotonic() < deadline, "the worklist did not follow the state store again"
            time.sleep(0.5)
        assert "the state store can be read again" in orthanc.log()
