"""The wiring of the state store: studies Orthanc receives complete their steps, on a thread of
our own, and Orthanc's stop ends it. Driven with the fake ``orthanc`` module over the demo data."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom
import pytest

from support.fake_orthanc import ChangeType, FakeOrthanc, ResourceType
from support.wiring import dx_query, find, orthanc_config, start
from vetmwl import performed
from vetmwl.errors import DatabaseError, InternalError
from vetmwl.progress import COMPLETED, STUDY_PREFIX
from vetmwl.service import WorklistService

SPS = "ScheduledProcedureStepSequence"


def todays_dx(orthanc: FakeOrthanc, today: date) -> list[pydicom.Dataset]:
    answers = find(orthanc, dx_query(today), StudyInstanceUID="", AccessionNumber="")
    return [pydicom.dcmread(BytesIO(a), force=True) for a in answers.added]


def arriving(orthanc: FakeOrthanc, orthanc_id: str, study_uid: str, accession: str = "") -> None:
    """What Orthanc's REST API says of a study it received."""
    tags = {"StudyInstanceUID": study_uid, "AccessionNumber": accession, "StudyDate": "20260105"}
    orthanc.resources[f"/studies/{orthanc_id}"] = {"ID": orthanc_id, "MainDicomTags": tags}
    orthanc.resources[f"/studies/{orthanc_id}/statistics"] = {"CountSeries": 2, "CountInstances": 7}


def until(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the study thread did not get there in time"
        time.sleep(0.02)


@pytest.fixture
def orthanc(sqlite_db: str, tmp_path: Path, services: list[WorklistService]) -> Iterator[FakeOrthanc]:
    configuration = orthanc_config(sqlite_db, StudyArrival={"Event": "StableStudy"})
    configuration["StorageDirectory"] = str(tmp_path / "storage")
    fake = start(FakeOrthanc(configuration, api=7), services)
    yield fake
    fake.stop()


def test_a_stable_study_completes_its_step(
    orthanc: FakeOrthanc, services: list[WorklistService], today: date, tmp_path: Path
) -> None:
    before = todays_dx(orthanc, today)
    first = before[0]
    arriving(orthanc, "abc", first.StudyInstanceUID, first.AccessionNumber)
    orthanc.change(ChangeType.NEW_STUDY, ResourceType.STUDY, "abc")  # not the configured event
    orthanc.change(ChangeType.STABLE_STUDY, ResourceType.STUDY, "abc")
    store = services[0].progress
    assert store is not None
    until(lambda: store.get(STUDY_PREFIX + first.StudyInstanceUID) is not None)
    step = store.get(STUDY_PREFIX + first.StudyInstanceUID)
    assert (
        step is not None and step.status == COMPLETED and step.references[0].accession_number == first.AccessionNumber
    )
    assert "2 series, 7 instances" in step.events[0].detail
    after = todays_dx(orthanc, today)
    assert [a.AccessionNumber for a in after] == [a.AccessionNumber for a in before[1:]]
    assert (tmp_path / "storage" / "vetmwl-progress.sqlite").is_file()
    metrics = orthanc.get("/sql-worklist/metrics").body.decode()
    assert 'vetmwl_study_arrivals_total{outcome="new"} 1' in metrics
    assert orthanc.rest_api_calls.count("/studies/abc") == 1  # the NEW_STUDY event was not handled


def test_a_study_orthanc_cannot_describe_is_only_logged(orthanc: FakeOrthanc, services: list) -> None:
    orthanc.change(ChangeType.STABLE_STUDY, ResourceType.STUDY, "gone")
    until(lambda: any("could not describe it" in line for line in orthanc.lines("WARNING")))
    assert services[0].progress.recent() == []


def test_orthancs_stop_ends_the_study_thread(orthanc: FakeOrthanc) -> None:
    threads = [t for t in threading.enumerate() if t.name == "vetmwl-studies"]
    assert len(threads) == 1 and threads[0].is_alive()
    orthanc.stop()
    assert not any(t.is_alive() for t in threads)


def test_an_internal_error_loses_one_study_not_the_thread(
    orthanc: FakeOrthanc, services: list[WorklistService], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = services[0].progress
    assert store is not None
    real = store.study_arrived

    def once_broken(step: Any, detail: str) -> bool:
        monkeypatch.setattr(store, "study_arrived", real)
        raise InternalError("the state store refused our SQL", "42000")

    monkeypatch.setattr(store, "study_arrived", once_broken)
    arriving(orthanc, "first", "1.2.826.0.1.1")
    arriving(orthanc, "second", "1.2.826.0.1.2")
    orthanc.change(ChangeType.STABLE_STUDY, ResourceType.STUDY, "first")
    orthanc.change(ChangeType.STABLE_STUDY, ResourceType.STUDY, "second")
    until(lambda: store.get(STUDY_PREFIX + "1.2.826.0.1.2") is not None)
    assert store.get(STUDY_PREFIX + "1.2.826.0.1.1") is None
    assert any("internal error while recording study first" in line for line in orthanc.lines("ERROR"))
    metrics = orthanc.get("/sql-worklist/metrics").body.decode()
    assert 'vetmwl_study_arrivals_total{outcome="failed"} 1' in metrics


def test_a_stop_step_that_fails_does_not_keep_the_others_from_running(
    sqlite_db: str, tmp_path: Path, services: list[WorklistService], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_close(self: WorklistService) -> None:
        raise RuntimeError("the driver crashed while closing")

    monkeypatch.setattr(WorklistService, "close", broken_close)
    configuration = orthanc_config(sqlite_db, StudyArrival={"Event": "StableStudy"})
    configuration["StorageDirectory"] = str(tmp_path / "storage")
    fake = start(FakeOrthanc(configuration, api=7), services)
    store = services[0].progress
    assert store is not None
    store.recent()  # the state store's connection is open
    fake.stop()
    assert any("while stopping" in line and "the driver crashed" in line for line in fake.lines("ERROR"))
    with pytest.raises(DatabaseError, match="is closed"):
        store.recent()  # the steps after the failing one ran: the store is closed
    assert not any(t.is_alive() for t in threading.enumerate() if t.name == "vetmwl-studies")


@pytest.mark.parametrize("given", ["file", "folder"])
def test_a_relative_storage_directory_is_read_from_the_configurations_folder(
    sqlite_db: str, tmp_path: Path, services: list[WorklistService], given: str
) -> None:
    """As Orthanc reads it: the state store's file lies beside Orthanc's storage, wherever Orthanc runs."""
    folder = tmp_path / "etc-orthanc"
    folder.mkdir()
    (folder / "orthanc.json").write_text("{}")
    configuration = orthanc_config(sqlite_db, StudyArrival={"Event": "NewStudy"})
    configuration["StorageDirectory"] = "storage"
    fake = FakeOrthanc(configuration, api=7)
    fake.configuration_path = str(folder / "orthanc.json" if given == "file" else folder)
    start(fake, services)
    assert services[-1].settings.progress.sqlite_path == folder / "storage" / "vetmwl-progress.sqlite"
    fake.stop()


@pytest.mark.parametrize(
    ("senders", "strict", "found"),
    [
        (["", "STRANGER", "dx_room1"], False, "dx_room1"),  # Orthanc compares without case by default
        (["dx_room1"], True, None),  # ...and with it under StrictAetComparison
        (["STRANGER", "", "STRANGER"], False, None),
        ([], False, None),
    ],
)
def test_a_known_sender_is_one_of_the_modalities(senders: list[str], strict: bool, found: str | None) -> None:
    sender, others = performed.known_sender(iter(senders), ["DX_ROOM1", "US_ROOM1"], strict)
    assert sender == found
    if found is None:
        assert others == list(dict.fromkeys(senders))


def test_a_known_sender_looks_at_a_bounded_number_of_instances() -> None:
    looked: list[int] = []

    def strangers() -> Iterator[str]:
        for n in itertools.count():
            looked.append(n)
            yield "STRANGER"

    assert performed.known_sender(strangers(), ["DX_ROOM1"], limit=50) == (None, ["STRANGER"])
    assert len(looked) == 50


def sent_by(orthanc: FakeOrthanc, orthanc_id: str, *senders: str) -> None:
    """The study's instances, one series, each stored by one of ``senders`` ('' for a REST upload)."""
    orthanc.resources[f"/studies/{orthanc_id}"]["Series"] = [f"{orthanc_id}-s"]
    orthanc.resources[f"/series/{orthanc_id}-s"] = {"Instances": [f"{orthanc_id}-i{n}" for n in range(len(senders))]}
    for n, aet in enumerate(senders):
        metadata = {"Origin": "DicomProtocol", "RemoteAET": aet} if aet else {"Origin": "RestApi"}
        orthanc.resources[f"/instances/{orthanc_id}-i{n}/metadata?expand"] = metadata


@pytest.fixture
def known_only(sqlite_db: str, tmp_path: Path, services: list[WorklistService]) -> Iterator[FakeOrthanc]:
    configuration = orthanc_config(sqlite_db, StudyArrival={"Event": "StableStudy", "KnownSendersOnly": True})
    configuration["StorageDirectory"] = str(tmp_path / "storage")
    fake = start(FakeOrthanc(configuration, api=7), services)
    fake.resources["/modalities?expand"] = {"xray": {"AET": "DX_ROOM1", "Host": "192.0.2.10", "Port": 104}}
    yield fake
    fake.stop()


def test_only_a_study_from_a_listed_modality_completes_steps(
    known_only: FakeOrthanc, services: list[WorklistService], today: date
) -> None:
    before = todays_dx(known_only, today)
    first, second = before[0], before[1]
    arriving(known_only, "hostile", first.StudyInstanceUID, first.AccessionNumber)
    sent_by(known_only, "hostile", "STRANGER", "")
    arriving(known_only, "real", second.StudyInstanceUID, second.AccessionNumber)
    sent_by(known_only, "real", "STRANGER", "DX_ROOM1")
    known_only.change(ChangeType.STABLE_STUDY, ResourceType.STUDY, "hostile")
    known_only.change(ChangeType.STABLE_STUDY, ResourceType.STUDY, "real")
    store = services[0].progress
    assert store is not None
    until(lambda: store.get(STUDY_PREFIX + second.StudyInstanceUID) is not None)
    assert store.get(STUDY_PREFIX + first.StudyInstanceUID) is None
    assert [a.AccessionNumber for a in todays_dx(known_only, today)] == [
        a.AccessionNumber for a in before if a is not second
    ]
    (warning,) = [line for line in known_only.lines("WARNING") if "DicomModalities" in line]
    assert first.StudyInstanceUID in warning and "'STRANGER'" in warning and "not stored by C-STORE" in warning
    metrics = known_only.get("/sql-worklist/metrics").body.decode()
    assert 'vetmwl_study_arrivals_total{outcome="refused"} 1' in metrics
    assert "/instances/real-i1/metadata?expand" in known_only.rest_api_calls


def test_without_the_setting_no_sender_is_asked(orthanc: FakeOrthanc, services: list[WorklistService]) -> None:
    arriving(orthanc, "any", "1.2.826.0.1.7")
    orthanc.change(ChangeType.STABLE_STUDY, ResourceType.STUDY, "any")
    store = services[0].progress
    assert store is not None
    until(lambda: store.get(STUDY_PREFIX + "1.2.826.0.1.7") is not None)
    assert not any("/metadata" in uri or "/modalities" in uri for uri in orthanc.rest_api_calls)
