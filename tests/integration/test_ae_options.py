"""Per-calling-AE options through the real Orthanc, and what Orthanc does to the answer character set.

Orthanc 1.10.1 re-encodes every worklist answer in its own DefaultEncoding, whatever character set
the plugin wrote (docs/character-sets.md): these tests pin that down, so a change in Orthanc shows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydicom.dataset import Dataset

from support.clients import pynetdicom_find
from support.servers import OrthancServer, plugin_settings

SPS = "ScheduledProcedureStepSequence"
OPTIONS = {
    "Modalities": {
        "CR_ROOM2": {"RestrictToOwnStation": True, "ModalityAliases": {"DX": ["DX", "CR"]}},
        "OLD_DX": {"CharacterSet": "ISO_IR 100"},
        "STRICT": {"Statuses": ["SCHEDULED"]},
    }
}


@pytest.fixture(scope="module")
def utf8_orthanc(sqlite_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-options"), plugin_settings(sqlite_db, "sqlite", **OPTIONS))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def latin1_orthanc(sqlite_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """The setup for a clinic whose devices read only Latin-1: both settings Latin-1."""
    settings = plugin_settings(
        sqlite_db, "sqlite", CharacterSet="ISO_IR 100", Modalities={"NEW_US": {"CharacterSet": "ISO_IR 192"}}
    )
    server = OrthancServer(tmp_path_factory.mktemp("orthanc-latin1"), settings, DefaultEncoding="Latin1")
    server.start()
    yield server
    server.stop()


def query(modality: str = "", **root: str) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = ""
    ds.ResponsiblePerson = ""
    for keyword, value in root.items():
        setattr(ds, keyword, value)
    item = Dataset()
    item.Modality = modality
    item.ScheduledStationAETitle = ""
    item.ScheduledProcedureStepID = ""
    item.ScheduledProcedureStepStatus = ""
    ds.ScheduledProcedureStepSequence = [item]
    return ds


def steps(items: list[dict], condition) -> list[str]:
    return sorted(i[SPS][0]["ScheduledProcedureStepID"] for i in items if condition(i[SPS][0]))


def ids(answers: list[Dataset]) -> list[str]:
    return sorted(a[SPS][0].ScheduledProcedureStepID for a in answers)


def test_own_station_and_alias_for_a_cr_asking_for_dx(utf8_orthanc, demo_items: list[dict]) -> None:
    result = pynetdicom_find(utf8_orthanc.dicom_port, query("DX"), aet="CR_ROOM2")
    wanted = steps(demo_items, lambda s: s["ScheduledStationAETitle"] == "CR_ROOM2")
    assert wanted and result.final_status == 0
    assert ids(result.answers) == wanted  # found through the alias, on its own station only
    # Answered with the modality it asked for: Orthanc's re-check keeps the step item whole.
    assert {(a[SPS][0].Modality, a[SPS][0].ScheduledStationAETitle) for a in result.answers} == {("DX", "CR_ROOM2")}
    other = pynetdicom_find(utf8_orthanc.dicom_port, query("DX"), aet="DX_ROOM1")
    assert ids(other.answers) == steps(demo_items, lambda s: s["Modality"] == "DX")
    assert {a[SPS][0].Modality for a in other.answers} == {"DX"}


def test_statuses_per_ae(utf8_orthanc, demo_items: list[dict]) -> None:
    strict = pynetdicom_find(utf8_orthanc.dicom_port, query("US"), aet="STRICT")
    wanted = steps(
        demo_items, lambda s: s["Modality"] == "US" and s["ScheduledProcedureStepStatus"] in ("SCHEDULED", None)
    )
    assert ids(strict.answers) == wanted
    everyone = pynetdicom_find(utf8_orthanc.dicom_port, query("US"), aet="ANYONE")
    assert len(everyone.answers) > len(wanted)


def test_latin1_ae_on_a_utf8_orthanc_gets_utf8_bytes(utf8_orthanc) -> None:
    """The plugin writes ISO_IR 100, transliterated; Orthanc (DefaultEncoding Utf8) re-encodes it."""
    greek = pynetdicom_find(utf8_orthanc.dicom_port, query(PatientName="Παπαδόπουλος*"), aet="OLD_DX")
    assert greek.answers
    assert {(a.SpecificCharacterSet, str(a.PatientName)) for a in greek.answers} == {
        ("ISO_IR 192", "????????????^?????")
    }
    german = pynetdicom_find(utf8_orthanc.dicom_port, query(PatientName="Müller*"), aet="OLD_DX")
    assert {(a.SpecificCharacterSet, str(a.PatientName)) for a in german.answers} == {("ISO_IR 192", "Müller^Bello")}
    modern = pynetdicom_find(utf8_orthanc.dicom_port, query(PatientName="Παπαδόπουλος*"), aet="NEW_US")
    assert {str(a.PatientName) for a in modern.answers} == {"Παπαδόπουλος^Άργος"}
    assert "OLD_DX, but" in utf8_orthanc.log()  # the startup warning says so


def test_latin1_orthanc_delivers_latin1(latin1_orthanc) -> None:
    """DefaultEncoding Latin1 + CharacterSet ISO_IR 100: the device gets ISO_IR 100 and readable text."""
    german = pynetdicom_find(latin1_orthanc.dicom_port, query(PatientName="Müller*"), aet="OLD_DX")
    assert german.answers
    assert {(a.SpecificCharacterSet, str(a.PatientName)) for a in german.answers} == {("ISO_IR 100", "Müller^Bello")}
    greek = pynetdicom_find(latin1_orthanc.dicom_port, query(PatientName="Παπαδόπουλος*"), aet="OLD_DX")
    assert {(a.SpecificCharacterSet, str(a.PatientName)) for a in greek.answers} == {
        ("ISO_IR 100", "????????????^?????")
    }
    # An AE left at UTF-8 on this server: Orthanc converts to Latin-1 itself and drops what Latin-1 lacks.
    dropped = pynetdicom_find(latin1_orthanc.dicom_port, query(PatientName="Παπαδόπουλος*"), aet="NEW_US")
    assert dropped.answers
    assert {a.SpecificCharacterSet for a in dropped.answers} == {"ISO_IR 100"}
    assert all("Παπαδόπουλος" not in str(a.PatientName) for a in dropped.answers)
