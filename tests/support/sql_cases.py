"""SQL matching cases shared by the SQLite unit tests (test_sqlrender.py) and the MariaDB
integration tests: filter sets to render in every dialect, rows chosen around the matching edges,
and which of those rows DICOM matching selects for each query."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from vetmwl.kinds import Equals, Filter, InList, Like, Range, TimeOfDay
from vetmwl.model import START_DATETIME

INJECTION = "x'; DROP TABLE worklist; --"

FILTER_SETS: dict[str, list[Filter]] = {
    "none": [],
    "pn_equals": [Equals("PatientName", "Smith^Rex", fold_case=True)],
    "pn_like": [Like("PatientName", "O'Con*", fold_case=True)],
    "modality_and_day": [
        Equals("Modality", "DX"),
        Range(START_DATETIME, datetime(2026, 1, 5), datetime(2026, 1, 6)),
    ],
    "open_start": [Range(START_DATETIME, None, datetime(2026, 1, 6, 18, 1))],
    "open_end": [Range(START_DATETIME, datetime(2026, 1, 5, 10), None)],
    "birth_date": [Range("PatientBirthDate", date(2018, 1, 1), date(2019, 1, 1))],
    "time_window": [TimeOfDay(START_DATETIME, timedelta(hours=8), timedelta(hours=12, minutes=1))],
    "time_from": [TimeOfDay(START_DATETIME, timedelta(0), None)],
    "time_until": [TimeOfDay(START_DATETIME, None, timedelta(hours=12))],
    "one_uid": [InList("StudyInstanceUID", ("1.2.3",))],
    "derived_uid": [InList("StudyInstanceUID", ("2.25.1", "1.2.3"), or_unknown=True)],
    "offered_statuses": [InList("ScheduledProcedureStepStatus", ("SCHEDULED", "ARRIVED", "READY"), or_unknown=True)],
    "status_scheduled": [Equals("ScheduledProcedureStepStatus", "SCHEDULED", or_unknown=True)],
    "status_like": [Like("ScheduledProcedureStepStatus", "SCHED*", or_unknown=True)],
    "modality_aliases": [InList("Modality", ("DX", "CR")), Equals("ScheduledStationAETitle", "CR_ROOM2")],
    "vet_keys": [
        Like("PatientSpeciesDescription", "Felis*"),
        Like("PatientBreedDescription", "Pach?n*"),
        Equals("RequestedProcedureID", "RP00001"),
        Like("ScheduledProcedureStepID", "SPS0000?"),
        Like("ScheduledPerformingPhysicianName", "kim*", fold_case=True),
        Range("PatientBirthDate", date(2018, 3, 4), date(2018, 3, 5)),
    ],
    "three_uids": [InList("StudyInstanceUID", ("1.2.3", "1.2.4", "1.2.5"))],
    "injection": [
        Equals("AccessionNumber", INJECTION),
        Like("PatientID", INJECTION + "*"),
        Equals("PatientName", INJECTION, fold_case=True),
        InList("StudyInstanceUID", (INJECTION, "1.2")),
    ],
    "everything": [
        Like("PatientName", "SM?TH*", fold_case=True),
        Equals("PatientID", "000001"),
        Like("ScheduledStationAETitle", "DX_*"),
        Equals("ReferringPhysicianName", "Carter^Emily", fold_case=True),
        Range(START_DATETIME, datetime(2026, 7, 5, 10), datetime(2026, 7, 7, 18, 1)),
        Range("PatientBirthDate", None, date(2020, 1, 1)),
        TimeOfDay(START_DATETIME, timedelta(hours=10), timedelta(hours=18, minutes=1)),
        InList("StudyInstanceUID", ("1.2.3", "1.2.4")),
        InList("ScheduledProcedureStepStatus", ("SCHEDULED", "ARRIVED"), or_unknown=True),
        InList("Modality", ("DX", "CR")),
    ],
}

#: Rows of (SPS ID, start, modality, patient name, patient ID).
ROWS = [
    ("SPS1", "2026-01-05 08:30:00", "DX", "Smith^Rex", "000001"),
    ("SPS2", "2026-01-05 10:00:00", "CR", "Müller^Bello", "000003"),
    ("SPS3", "2026-01-06 17:59:59", "DX", "100%_Pure^Joy", "000007"),
    ("SPS4", "2026-01-07 18:00:00", "US", "1000^Cat", "000008"),
    ("SPS5", "2026-01-07 18:01:00", "DX", "smithers^Max", "000009"),
]

#: (SPS step keys, root keys, the SPS IDs of ROWS that DICOM matching selects).
MATCHING_CASES = [
    (None, {"PatientName": "smith*"}, ["SPS1", "SPS5"]),
    (None, {"PatientName": "SMITH^REX"}, ["SPS1"]),
    (None, {"PatientName": "100%*"}, ["SPS3"]),  # % is literal, so 1000^Cat must not match
    (None, {"PatientName": "100?_*"}, ["SPS3"]),  # _ is literal too
    (None, {"PatientID": "00000?"}, ["SPS1", "SPS2", "SPS3", "SPS4", "SPS5"]),
    (None, {"PatientID": "00000[?"}, []),  # [ is literal in DICOM (GLOB and T-SQL LIKE would not say so)
    ({"Modality": "d?"}, {}, []),  # wildcard matching is case-sensitive outside PN
    ({"Modality": "D?"}, {}, ["SPS1", "SPS3", "SPS5"]),
    ({"Modality": "DX"}, {}, ["SPS1", "SPS3", "SPS5"]),
    ({"ScheduledProcedureStepStartDate": "20260105"}, {}, ["SPS1", "SPS2"]),
    (
        {"ScheduledProcedureStepStartDate": "20260105-20260107", "ScheduledProcedureStepStartTime": "1000-1800"},
        {},
        ["SPS2", "SPS3", "SPS4"],
    ),
    (
        {"ScheduledProcedureStepStartDate": "20260105-20260107", "ScheduledProcedureStepStartTime": "1000-175959"},
        {},
        ["SPS2", "SPS3"],
    ),
    ({"ScheduledProcedureStepStartTime": "1000-1800"}, {}, ["SPS2", "SPS3", "SPS4"]),
    ({"ScheduledProcedureStepStartTime": "-0900"}, {}, ["SPS1"]),
]

#: Time bounds with a fraction of a second, against the whole-second times of ROWS.
FRACTION_CASES = [
    # -100000.5 ends at 10:00:00.5 inclusive, so a step at 10:00:00 matches.
    (
        {"ScheduledProcedureStepStartDate": "20260105", "ScheduledProcedureStepStartTime": "-100000.5"},
        ["SPS1", "SPS2"],
    ),
    ({"ScheduledProcedureStepStartTime": "-100000.5"}, ["SPS1", "SPS2"]),
    # 100000.5- starts half a second after 10:00:00, so a step at 10:00:00 does not match.
    ({"ScheduledProcedureStepStartDate": "20260105", "ScheduledProcedureStepStartTime": "100000.5-"}, []),
    ({"ScheduledProcedureStepStartTime": "100000.5-"}, ["SPS3", "SPS4", "SPS5"]),
]
