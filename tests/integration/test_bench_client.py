"""The benchmark's own parts must be right, or its numbers mean nothing: its data, truth and client."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bench import dataset as bench_data
from bench.cfind import Association, encode_identifier
from bench.run import identifier
from support.clients import pynetdicom_find
from support.servers import OrthancServer, plugin_settings


@pytest.fixture(scope="module")
def bench_orthanc(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("bench")
    database = workdir / "bench.sqlite"
    bench_data.write_sqlite(database, 3000, date.today())
    server = OrthancServer(workdir, plugin_settings(f"Driver=SQLite3;Database={database}", "sqlite", LimitAnswers=2000))
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("query", ["Q1", "Q2", "Q3", "Q4", "Q5"])
def test_lean_client_and_truth_agree_with_pynetdicom(bench_orthanc: OrthancServer, query: str) -> None:
    today = date.today()
    expected = bench_data.truth(3000, today)[query]
    ds = identifier(today, query)
    association = Association("127.0.0.1", bench_orthanc.dicom_port, bench_orthanc.aet)
    try:
        answers, status = association.find(encode_identifier(ds))
        again = association.find(encode_identifier(ds))  # a reused association works too
    finally:
        association.release()
    reference = pynetdicom_find(bench_orthanc.dicom_port, ds)
    assert answers == expected == len(reference.answers)
    assert status == 0 == reference.final_status
    assert again == (answers, status)


def test_wl_files_are_readable_worklist_items(tmp_path: Path) -> None:
    import pydicom

    bench_data.write_wl_files(tmp_path, 20, date.today())
    files = sorted(tmp_path.glob("*.wl"))
    assert len(files) == 20
    item = pydicom.dcmread(files[0])
    assert item.ScheduledProcedureStepSequence[0].ScheduledStationAETitle == "DX_ROOM1"
    assert item.file_meta.MediaStorageSOPClassUID == "1.2.840.10008.5.1.4.31"
