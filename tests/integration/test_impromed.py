"""The ImproMed view of sql/mssql, transpiled to PostgreSQL, served by the real Orthanc, asked with findscu.

The database is ImproMed-shaped (tests/support/impromed.py); the plugin logs in as the read-only
reader of sql/mssql/readonly-login.sql; the query is the one docs/impromed.md tells a clinic to try.
"""

from __future__ import annotations

import subprocess
from datetime import date, timedelta
from decimal import Decimal

from pydicom.dataset import Dataset

from support import impromed
from support.clients import findscu, pynetdicom_find
from support.servers import OrthancServer, PostgresServer


def test_the_reader_may_read_the_view_and_not_the_practice_tables(postgres: PostgresServer, impromed_db: str) -> None:
    reader = [*postgres.psql_command("impromed", user=impromed.READER), "-At", "-c"]
    env = {"PGPASSWORD": impromed.READER_PASSWORD, "PATH": "/usr/bin:/bin"}
    count = subprocess.run([*reader, "SELECT count(*) FROM vetmwl.worklist"], env=env, capture_output=True, text=True)
    assert count.returncode == 0 and int(count.stdout) == 5, count.stderr
    for table in ("dbo.PATIENTS", "dbo.APPT_M", "vetmwl.impromed_patient"):
        denied = subprocess.run([*reader, f"SELECT 1 FROM {table}"], env=env, capture_output=True, text=True)
        assert denied.returncode != 0 and "permission denied" in denied.stderr, table


def test_todays_dx_list_as_the_xray_room_sees_it(impromed_orthanc: OrthancServer, today: date) -> None:
    keys = impromed.doc_findscu_keys(today)
    assert "ScheduledProcedureStepSequence[0].Modality=DX" in keys and len(keys) >= 15
    result = findscu(impromed_orthanc.dicom_port, keys, aet="DX_ROOM1")
    assert result.final_status == 0, result.output
    by_id = {a.ScheduledProcedureStepSequence[0].ScheduledProcedureStepID: a for a in result.answers}
    # Exactly today's three DX appointments, in start order: not the deleted one, not practice 2's,
    # not the deceased or inactive animal's, not the cancelled one, not the vaccination or tomorrow's.
    assert list(by_id) == [impromed.sps_id(key) for key in impromed.TODAYS_DX]
    felix, blitz, rex = by_id.values()

    assert str(felix.PatientName) == "Lefèvre^Félix"
    assert felix.PatientID == "P1001"
    assert Decimal(str(felix.PatientWeight)) == Decimal("4.99")  # 11 lb
    assert (felix.PatientSex, felix.PatientSexNeutered) == ("M", "ALTERED")
    assert (felix.PatientSpeciesDescription, felix.PatientBreedDescription) == ("Feline", "Domestic Shorthair")
    assert str(felix.ResponsiblePerson) == "Lefèvre^Amélie" and felix.ResponsiblePersonRole == "OWNER"
    assert felix.PatientBirthDate == "20190402"
    (chip,) = felix.OtherPatientIDsSequence
    assert (chip.PatientID, chip.IssuerOfPatientID, chip.TypeOfPatientID) == ("985112003456789", "HomeAgain", "RFID")

    assert str(blitz.PatientName) == "Müller^Blitz"
    assert Decimal(str(blitz.PatientWeight)) == Decimal("520")  # kept in kg: unchanged
    assert (blitz.PatientSex, blitz.PatientSexNeutered) == ("F", "UNALTERED")
    assert (blitz.PatientSpeciesDescription, blitz.PatientBreedDescription) == ("Equine", "Quarter Horse")
    assert len(blitz.OtherPatientIDsSequence) == 0  # no chip: an empty sequence

    assert str(rex.PatientName) == "Smith^Rex"
    assert Decimal(str(rex.PatientWeight)) == Decimal("29.937")  # 66 lb
    assert (rex.PatientSex, rex.PatientSexNeutered) == ("M", "UNALTERED")

    for answer in result.answers:
        step = answer.ScheduledProcedureStepSequence[0]
        assert (step.Modality, step.ScheduledStationAETitle) == ("DX", "DX_ROOM1")
        assert step.ScheduledProcedureStepStartDate == f"{today:%Y%m%d}"
        assert step.ScheduledProcedureStepDescription == "Radiographs"
        assert answer.StudyInstanceUID.startswith("2.25.") and answer.AccessionNumber == step.ScheduledProcedureStepID
    assert [a.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime for a in result.answers] == [
        "083000",
        "091500",
        "110000",
    ]


def test_other_days_and_the_ultrasound_room(impromed_orthanc: OrthancServer, today: date) -> None:
    query = Dataset()
    query.PatientName = ""
    step = Dataset()
    step.Modality = ""
    step.ScheduledProcedureStepID = ""
    step.ScheduledProcedureStepStartDate = f"{today:%Y%m%d}-{today + timedelta(days=1):%Y%m%d}"
    query.ScheduledProcedureStepSequence = [step]
    result = pynetdicom_find(impromed_orthanc.dicom_port, query)
    assert result.final_status == 0
    found = {
        (a.ScheduledProcedureStepSequence[0].ScheduledProcedureStepID, a.ScheduledProcedureStepSequence[0].Modality)
        for a in result.answers
    }
    want = {(impromed.sps_id(k), "DX") for k in [*impromed.TODAYS_DX, "felix-tomorrow"]}
    assert found == want | {(impromed.sps_id("rex-us"), "US")}
    names = {str(a.PatientName) for a in result.answers}
    assert not names & {"Núñez^Lola", "Other^Minou", "Smith^Old Tom", "Müller^Shadow"}
