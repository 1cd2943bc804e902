"""A database that goes away under a serving Orthanc, as each database's tests check it."""

from __future__ import annotations

import time

from .clients import broad_query, echo, findscu, is_failure, pynetdicom_find
from .servers import DatabaseServer, OrthancServer

#: Answers of broad_query() on the demo schedule.
DEMO_ANSWERS = 30


def outage_and_recovery(orthanc: OrthancServer, database: DatabaseServer, *log_phrases: str) -> None:
    """The database stops: a query fails within 5 s with a failure status (pynetdicom and findscu),
    Orthanc still answers C-ECHO, the log says ``log_phrases``; once it is back, queries are
    answered again without restarting Orthanc."""
    before = pynetdicom_find(orthanc.dicom_port, broad_query())
    assert before.final_status == 0 and len(before.answers) == DEMO_ANSWERS

    database.stop()
    started = time.monotonic()
    during = pynetdicom_find(orthanc.dicom_port, broad_query())
    assert time.monotonic() - started < 5
    assert is_failure(during.final_status) and during.answers == []
    also = findscu(orthanc.dicom_port, ["PatientName=", "ScheduledProcedureStepSequence[0].Modality=DX"])
    assert also.final_status == -1 and "Failed" in also.output
    assert orthanc.alive() and echo(orthanc.dicom_port) == 0
    log = orthanc.log()
    for phrase in log_phrases:
        assert phrase in log

    database.start()
    after = pynetdicom_find(orthanc.dicom_port, broad_query())
    assert after.final_status == 0 and len(after.answers) == DEMO_ANSWERS


def restart_is_invisible(orthanc: OrthancServer, database: DatabaseServer) -> None:
    """A connection the server dropped while idle is replaced on the same query."""
    assert pynetdicom_find(orthanc.dicom_port, broad_query()).final_status == 0
    database.stop()
    database.start()
    result = pynetdicom_find(orthanc.dicom_port, broad_query())
    assert result.final_status == 0 and len(result.answers) == DEMO_ANSWERS
    assert "reconnecting and retrying once" in orthanc.log()


def deadline_frees_orthanc(orthanc: OrthancServer, *log_phrases: str) -> float:
    """A query on a view slower than ``QueryTimeout=1`` fails within 4 s with a failure status,
    Orthanc still answers C-ECHO and the log says ``log_phrases``; when the query started."""
    started = time.monotonic()
    result = pynetdicom_find(orthanc.dicom_port, broad_query())
    assert time.monotonic() - started < 4
    assert is_failure(result.final_status)
    assert orthanc.alive() and echo(orthanc.dicom_port) == 0
    log = orthanc.log()
    for phrase in log_phrases:
        assert phrase in log
    return started
