"""The conformance fixture: 64 veterinary worklist items with the cases matchers get wrong.

Items have the importer's JSON shape (Orthanc's ``/worklists/create`` Tags, one step each). Dates
are fixed, so the suite gives the same answers on every day. The hard cases, and where they are:

- names: case variants of one name (``Smith^Rex``, ``smith^rex``, ``SMITH^REX``) and a prefix trap
  (``Smithers^Rex``); accents (``Müller^Bello`` next to ``Muller^Max``), an apostrophe
  (``O'Connor``), Japanese, Greek and Cyrillic, a name with three component groups
  (``Yamada^Pochi=山田^ポチ=やまだ^ぽち``), an organization with spaces (``Green Acres Farm``), a
  responsible person and physicians with five components;
- IDs: leading zeros (``000123`` next to ``123``, SPS IDs ``0001`` next to ``1``), an inner space
  (``AB 12``), and padding: the JSON has ``' 0042 '``. The importer strips values (LO, SH and CS
  padding is not significant, PS3.5 6.2), so our database holds ``0042``; the reference Orthanc and
  wlmscpfs are given the value with its spaces, as a .wl file written by another system would be;
- orders: several steps per accession (one requested procedure each), and one requested
  procedure with two steps (CT without and with contrast);
- dates around the year end (20251230 to 20260102), 20240229, and times of every precision:
  ``08``, ``0830``, ``083015``, ``083015.123456``, ``000000``, ``235959``;
- missing optional values: birth dates, weights, breeds, stations, accession numbers, physicians,
  statuses, Study Instance UIDs (ours derives one; the peers have none);
- a lower-case station AE title (``us_room1``) next to ``US_ROOM1`` (AE matching is case-sensitive);
- the rest of the model (issue #12), on some items only, so that "unknown" is there too: plain
  columns of the reference table (Issuer of Patient ID, Requesting Physician in two cases, Admission
  ID, Current Patient Location, Special Needs, Patient State, Responsible Person Role, Patient's Size
  written ``0.450`` and ``0.45``, Medical Alerts and Allergies with several values; in the step
  Pre-Medication, Requested Contrast Agent, Comments on the SPS, one with a leading space, which
  LT keeps), DICOM JSON sequence columns
  (Scheduled Protocol Code Sequence with one or two codes, the same Code Value under two schemes;
  Requested Procedure Code, Referenced Study and Referenced Patient Sequences) and attributes that
  only the catch-all holds (Patient's Age, Reason for the Requested Procedure, two Names of
  Intended Recipients of Results, Other Patient IDs Sequence with one or two items; in the step SPS
  End Date and Time, the time written ``1300`` and ``1415``, and a modification date-time written
  to the minute).
"""

from __future__ import annotations

import copy
from typing import Any

SPS = "ScheduledProcedureStepSequence"

#: Patients (the animals) and their owners, by a short key.
PATIENTS: dict[str, dict[str, Any]] = {
    "smith_rex": {
        "PatientName": "Smith^Rex",
        "PatientID": "000123",
        "PatientBirthDate": "20180304",
        "PatientSex": "M",
        "PatientWeight": "32.5",
        "PatientSpeciesDescription": "Canis lupus familiaris",
        "PatientBreedDescription": "Labrador Retriever",
        "PatientSexNeutered": "ALTERED",
        "ResponsiblePerson": "Smith^John",
        "ResponsiblePersonRole": "OWNER",
        "IssuerOfPatientID": "RVC",
        "PatientSize": "0.450",
        "MedicalAlerts": "Bites when in pain\\Epilepsy",
        "Allergies": "Penicillin",
        "SpecialNeeds": "Muzzle",
        "PatientAge": "007Y",
        "OtherPatientIDsSequence": [{"PatientID": "276098106123456", "TypeOfPatientID": "RFID"}],
    },
    "smith_rex_lower": {
        "PatientName": "smith^rex",
        "PatientID": "123",
        "PatientSex": "F",
        "PatientWeight": "4.1",
        "PatientSpeciesDescription": "Felis catus",
        "PatientBreedDescription": "Domestic Shorthair",
        "ResponsiblePerson": "smith^jane",
        "IssuerOfPatientID": "RVC-2",
        "PatientState": "Sedated",
    },
    "smith_rex_upper": {
        "PatientName": "SMITH^REX",
        "PatientID": "SMITH-03",
        "PatientBirthDate": "20191231",
        "PatientSex": "M",
        "PatientSpeciesDescription": "Canis lupus familiaris",
        "PatientBreedDescription": "Beagle",
        "ResponsiblePerson": "SMITH^PAUL",
    },
    "smithers": {
        "PatientName": "Smithers^Rex",
        "PatientID": "000124",
        "PatientBirthDate": "20200101",
        "PatientSex": "M",
        "PatientWeight": "12",
        "PatientSpeciesDescription": "Canis lupus familiaris",
        "PatientBreedDescription": "Mixed breed",
        "ResponsiblePerson": "Smithers^Waylon",
    },
    "smith_fluffy": {
        "PatientName": "Smith^Fluffy",
        "PatientID": "000125",
        "PatientBirthDate": "20150509",
        "PatientSex": "F",
        "PatientWeight": "5.5",
        "PatientSpeciesDescription": "Felis catus",
        "PatientBreedDescription": "Persian",
        "PatientSexNeutered": "ALTERED",
        "ResponsiblePerson": "Smith^John",
    },
    "mueller": {
        "PatientName": "Müller^Bello",
        "PatientID": " 0042 ",
        "PatientBirthDate": "20190117",
        "PatientSex": "M",
        "PatientWeight": "38",
        "PatientSpeciesDescription": "Canis lupus familiaris",
        "PatientBreedDescription": "German Shepherd",
        "PatientSexNeutered": "UNALTERED",
        "ResponsiblePerson": "Müller^Hans",
        "ResponsiblePersonRole": "OWNER",
        "IssuerOfPatientID": "CityVet",
        "PatientSize": "0.65",
        "MedicalAlerts": "Aggressive",
        "Allergies": "Penicillin\\Latex",
        "SpecialNeeds": "Muzzle required",
        "PatientState": "Fasted",
        "PatientAge": "006Y",
    },
    "muller": {
        "PatientName": "Muller^Max",
        "PatientID": "42",
        "PatientBirthDate": "20161230",
        "PatientSex": "M",
        "PatientWeight": "14.7",
        "PatientSpeciesDescription": "Canis lupus familiaris",
        "PatientBreedDescription": "Beagle",
        "ResponsiblePerson": "Muller^Anna",
    },
    "oconnor": {
        "PatientName": "O'Connor^Daisy",
        "PatientID": "OC-7",
        "PatientBirthDate": "20220115",
        "PatientSex": "F",
        "PatientWeight": "17.3",
        "PatientSpeciesDescription": "Canis lupus familiaris",
        "PatientBreedDescription": "Border Collie",
        "PatientSexNeutered": "UNALTERED",
        "ResponsiblePerson": "O'Connor^Siobhan",
        "ResponsiblePersonRole": "GUARDIAN",
        "PatientSize": "0.45",
        "MedicalAlerts": "Epilepsy",
        "Allergies": "Latex\\Chicken",
    },
    "yamada": {
        "PatientName": "山田^ポチ",
        "PatientID": "JP0001",
        "PatientBirthDate": "20170823",
        "PatientSex": "M",
        "PatientWeight": "10.4",
        "PatientSpeciesDescription": "Canis lupus familiaris",
        "PatientBreedDescription": "Shiba Inu",
        "ResponsiblePerson": "山田^太郎",
    },
    "yamada_groups": {
        "PatientName": "Yamada^Pochi=山田^ポチ=やまだ^ぽち",
        "PatientID": "JP0002",
        "PatientSex": "M",
        "PatientSpeciesDescription": "Canis lupus familiaris",
        "PatientBreedDescription": "Shiba Inu",
    },
    "greek": {
        "PatientName": "Παπαδόπουλος^Άργος",
        "PatientID": "GR-1",
        "PatientBirthDate": "20190429",
        "PatientSex": "M",
        "PatientWeight": "31",
        "PatientSpeciesDescription": "Canis lupus familiaris",
        "PatientBreedDescription": "Greyhound",
        "ResponsiblePerson": "Παπαδόπουλος^Νίκος",
    },
    "cyrillic": {
        "PatientName": "Иванов^Шарик",
        "PatientID": "RU-1",
        "PatientBirthDate": "20200229",
        "PatientSex": "M",
        "PatientSpeciesDescription": "Canis lupus familiaris",
        "PatientBreedDescription": "Лайка",
        "ResponsiblePerson": "Иванов^Иван",
    },
    "farm": {
        "PatientName": "Green Acres Farm^Running on Water",
        "PatientID": "EQ-0007",
        "PatientBirthDate": "20150322",
        "PatientSex": "F",
        "PatientWeight": "447",
        "PatientSpeciesDescription": "Equus caballus",
        "PatientBreedDescription": "Arabian",
        "PatientSexNeutered": "UNALTERED",
        "ResponsibleOrganization": "Green Acres Farm",
    },
    "garcia": {
        "PatientName": "García^Luna",
        "PatientID": "000004",
        "PatientBirthDate": "20210402",
        "PatientSex": "F",
        "PatientWeight": "4.2",
        "PatientSpeciesDescription": "Felis catus",
        "PatientBreedDescription": "Domestic Shorthair",
        "PatientSexNeutered": "ALTERED",
        "ResponsiblePerson": "García^María^José^Sra.^",
        "PatientAge": "004Y",
        "OtherPatientIDsSequence": [
            {"PatientID": "941000012345678", "TypeOfPatientID": "RFID"},
            {"PatientID": "LUNA-1", "TypeOfPatientID": "TEXT"},
        ],
    },
    "nguyen": {
        "PatientName": "Nguyen^Coco",
        "PatientID": "RB-12",
        "PatientSex": "F",
        "PatientSpeciesDescription": "Oryctolagus cuniculus",
        "PatientBreedDescription": "Holland Lop",
        "ResponsiblePerson": "Nguyen^Thi",
    },
    "taylor": {
        "PatientName": "Taylor^Bandit",
        "PatientID": "FE-3",
        "PatientBirthDate": "20220614",
        "PatientSpeciesDescription": "Mustela putorius furo",
    },
    "aaberg": {
        "PatientName": "Åberg^Sigge",
        "PatientID": "000000",
        "PatientBirthDate": "20190905",
        "PatientSex": "M",
        "PatientWeight": "4.9",
        "PatientSpeciesDescription": "Felis catus",
        "PatientBreedDescription": "Siamese",
        "ResponsiblePerson": "Åberg^Lars",
    },
    "dupont": {
        "PatientName": "Dupont^Zoé",
        "PatientID": "AB 12",
        "PatientBirthDate": "20140720",
        "PatientSex": "F",
        "PatientWeight": "3.8",
        "PatientSpeciesDescription": "Felis catus",
        "PatientBreedDescription": "Chartreux",
        "ResponsiblePerson": "Dupont^Claire",
    },
    "brown": {
        "PatientName": "Brown^Whiskers",
        "PatientID": "000777",
        "PatientBirthDate": "20151231",
        "PatientSex": "O",
        "PatientWeight": "7.9",
        "PatientSpeciesDescription": "Felis catus",
        "PatientBreedDescription": "Maine Coon",
        "ResponsiblePerson": "Brown^Anne^Marie^Mrs.^PhD",
    },
    "rossi": {
        "PatientName": "Rossi^Tornado",
        "PatientID": "EQ-0008",
        "PatientBirthDate": "20120401",
        "PatientSex": "M",
        "PatientWeight": "512",
        "PatientSpeciesDescription": "Equus caballus",
        "PatientBreedDescription": "Quarter Horse",
        "PatientSexNeutered": "ALTERED",
        "ResponsiblePerson": "Rossi^Marco",
        "ResponsiblePersonRole": "AGENT",
        "IssuerOfPatientID": "EquiVet",
        "PatientSize": "1.52",
        "PatientState": "Lame",
    },
}

#: (modality, station AE title or None, station name, location, step description)
STATIONS: dict[str, tuple[str, str | None, str, str, str]] = {
    "dx": ("DX", "DX_ROOM1", "DR Room 1", "Radiology", "Thorax, 3 views"),
    "dx_abd": ("DX", "DX_ROOM1", "DR Room 1", "Radiology", "Abdomen, 2 views"),
    "cr": ("CR", "CR_ROOM2", "CR Room 2", "Radiology", "Dental survey"),
    "us": ("US", "US_ROOM1", "Ultrasound 1", "Imaging", "Abdominal ultrasound"),
    "us_lower": ("US", "us_room1", "Ultrasound 2", "Imaging", "Echocardiography"),
    "ct": ("CT", "CT_SUITE", "CT Suite", "Imaging", "CT head"),
    "mr": ("MR", "MR_1", "MR 1", "Imaging", "MR spine"),
    "mobile": ("DX", None, "Mobile DR", "Barn", "Limb, 2 views"),
}

PHYSICIANS = ["Carter^Emily^^Dr", "Okafor^James^Chukwuemeka^Dr^DVM", "Lindqvist^Anna^^Dr"]
TECHNICIANS = ["Hughes^Sam", "Patel^Priya", "Kim^Jae"]

#: SOP Classes of the referenced instances: Detached Study and Detached Patient Management (retired).
STUDY_CLASS = "1.2.840.10008.3.1.2.3.1"
PATIENT_CLASS = "1.2.840.10008.3.1.2.1.1"
#: Referenced Study and Patient Sequence instances of a few orders.
REFERENCED_STUDY_1001 = "1.2.826.0.1.3680043.10.1386.2.1001"
REFERENCED_STUDY_1025 = "1.2.826.0.1.3680043.10.1386.2.1025"
REFERENCED_PATIENT_FARM = "1.2.826.0.1.3680043.10.1386.3.7"
#: Keys of ``extras`` that belong in the step item (the others go to the root).
STEP_EXTRAS = frozenset(
    {
        "PreMedication",
        "RequestedContrastAgent",
        "CommentsOnTheScheduledProcedureStep",
        "ScheduledProtocolCodeSequence",
        "ScheduledProcedureStepEndDate",
        "ScheduledProcedureStepEndTime",
        "ScheduledProcedureStepModificationDateTime",
    }
)


def code(value: str, scheme: str, meaning: str) -> dict[str, str]:
    """One code item (PS3.3 Table 8.8-1)."""
    return {"CodeValue": value, "CodingSchemeDesignator": scheme, "CodeMeaning": meaning}


def referenced(sop_class: str, instance: str) -> list[dict[str, str]]:
    return [{"ReferencedSOPClassUID": sop_class, "ReferencedSOPInstanceUID": instance}]


#: One row per step: (SPS ID, patient, accession, requested procedure ID, station, date, time, extras).
#: ``extras`` override or add keys (root or step); ``None`` removes a default key.
STEPS: list[tuple[str, str, str | None, str | None, str, str, str, dict[str, Any]]] = [
    # 30 December 2025
    (
        "SPS001",
        "smith_rex",
        "ACC1001",
        "RP1001",
        "dx",
        "20251230",
        "0800",
        {
            "RequestingPhysician": "Carter^Emily",
            "AdmissionID": "ADM-1001",
            "CurrentPatientLocation": "Ward 3",
            "ReasonForTheRequestedProcedure": "Coughing",
            "NamesOfIntendedRecipientsOfResults": "Carter^Emily\\Okafor^James",
            "RequestedProcedureCodeSequence": [code("XR-THX-3", "99RVC", "XR thorax 3 views")],
            "ReferencedStudySequence": referenced(STUDY_CLASS, REFERENCED_STUDY_1001),
            "ScheduledProtocolCodeSequence": [
                code("XR-THX-LAT", "99RVC", "XR thorax lateral"),
                code("XR-THX-VD", "99RVC", "XR thorax ventrodorsal"),
            ],
        },
    ),
    (
        "SPS002",
        "smith_rex",
        "ACC1001",
        "RP1002",
        "dx_abd",
        "20251230",
        "0815",
        {
            "RequestingPhysician": "Carter^Emily",
            "AdmissionID": "ADM-1001",
            "ReferencedStudySequence": referenced(STUDY_CLASS, REFERENCED_STUDY_1001),
            "ScheduledProtocolCodeSequence": [code("XR-ABD-2", "99RVC", "XR abdomen 2 views")],
        },
    ),
    ("SPS003", "smith_rex", "ACC1001", "RP1003", "us", "20251230", "0900", {}),
    ("SPS004", "smith_rex_lower", "ACC1002", "RP1004", "us", "20251230", "0930", {}),
    (
        "SPS005",
        "smith_rex_upper",
        "ACC1003",
        "RP1005",
        "cr",
        "20251230",
        "1015",
        {"RequestedProcedurePriority": "STAT"},
    ),
    ("SPS006", "smithers", "ACC1004", "RP1006", "dx", "20251230", "1100", {}),
    (
        "SPS007",
        "mueller",
        "ACC1005",
        "RP1007",
        "ct",
        "20251230",
        "1200",
        {
            "ScheduledProcedureStepStatus": "ARRIVED",
            "RequestingPhysician": "Okafor^James",
            "AdmissionID": "ADM-1005",
            "CurrentPatientLocation": "ICU",
            "ReasonForTheRequestedProcedure": "Seizures",
            "PreMedication": "Butorphanol",
            "ScheduledProtocolCodeSequence": [code("CT-HEAD", "99RVC", "CT head")],
            "ScheduledProcedureStepEndDate": "20251230",
            "ScheduledProcedureStepEndTime": "1300",
        },
    ),
    (
        "SPS008",
        "muller",
        "ACC1006",
        "RP1008",
        "ct",
        "20251230",
        "1330",
        {"ScheduledProtocolCodeSequence": [code("CT-HEAD", "LOCAL", "Head CT")]},
    ),
    (
        "SPS009",
        "farm",
        "ACC1007",
        "RP1009",
        "mobile",
        "20251230",
        "1400",
        {
            "AdmissionID": "ADM-1007",
            "CurrentPatientLocation": "Barn 2",
            "ReferencedPatientSequence": referenced(PATIENT_CLASS, REFERENCED_PATIENT_FARM),
        },
    ),
    (
        "SPS010",
        "rossi",
        "ACC1008",
        "RP1010",
        "mobile",
        "20251230",
        "1530",
        {"ReasonForTheRequestedProcedure": "Lameness, right hind"},
    ),
    ("SPS011", "garcia", None, "RP1011", "us", "20251230", "153000", {}),
    ("SPS012", "oconnor", "ACC1009", "RP1012", "dx", "20251230", "153015", {}),
    (
        "SPS013",
        "yamada",
        "ACC1010",
        "RP1013",
        "mr",
        "20251230",
        "1600",
        {"RequestingPhysician": "Lindqvist^Anna", "AdmissionID": "ADM-1010"},
    ),
    ("SPS014", "greek", "ACC1011", "RP1014", "cr", "20251230", "1700", {}),
    ("SPS015", "cyrillic", "ACC1012", "RP1015", "us_lower", "20251230", "1800", {}),
    ("SPS016", "nguyen", "ACC1013", "RP1016", "us", "20251230", "235959", {}),
    # 31 December 2025: times of every precision
    ("SPS017", "smith_fluffy", "ACC1014", "RP1017", "dx", "20251231", "000000", {}),
    ("SPS018", "aaberg", "ACC1015", "RP1018", "dx", "20251231", "08", {}),
    ("SPS019", "dupont", "ACC1016", "RP1019", "dx", "20251231", "0830", {}),
    ("SPS020", "brown", "ACC1017", "RP1020", "dx", "20251231", "083015", {}),
    ("SPS021", "taylor", "ACC1018", "RP1021", "dx", "20251231", "083015.123456", {}),
    ("SPS022", "smith_rex", "ACC1019", "RP1022", "us", "20251231", "0831", {}),
    (
        "SPS023",
        "mueller",
        "ACC1020",
        "RP1023",
        "us",
        "20251231",
        "0959",
        {"CommentsOnTheScheduledProcedureStep": " Bring the consent form"},
    ),
    ("SPS024", "smith_rex_lower", "ACC1021", "RP1024", "us", "20251231", "1000", {}),
    ("SPS025", "smith_rex_upper", "ACC1022", "RP1025", "cr", "20251231", "1015", {}),
    (
        "SPS026",
        "farm",
        "ACC1023",
        "RP1026",
        "mobile",
        "20251231",
        "1130",
        {
            "ReasonForTheRequestedProcedure": "Lameness, left fore",
            "ReferencedPatientSequence": referenced(PATIENT_CLASS, REFERENCED_PATIENT_FARM),
        },
    ),
    ("SPS027", "yamada_groups", "ACC1024", "RP1027", "mr", "20251231", "1200", {}),
    # One requested procedure with two steps: CT without, then with contrast.
    (
        "SPS028",
        "oconnor",
        "ACC1025",
        "RP1028",
        "ct",
        "20251231",
        "1300",
        {
            "ScheduledProcedureStepDescription": "CT thorax",
            "RequestingPhysician": "Lindqvist^Anna",
            "RequestedProcedureCodeSequence": [code("CT-THX", "99RVC", "CT thorax")],
            "ReferencedStudySequence": referenced(STUDY_CLASS, REFERENCED_STUDY_1025),
            "ScheduledProtocolCodeSequence": [code("CT-THX", "99RVC", "CT thorax without contrast")],
        },
    ),
    (
        "SPS029",
        "oconnor",
        "ACC1025",
        "RP1028",
        "ct",
        "20251231",
        "1330",
        {
            "ScheduledProcedureStepDescription": "CT thorax, contrast",
            "RequestingPhysician": "Lindqvist^Anna",
            "RequestedProcedureCodeSequence": [code("CT-THX", "99RVC", "CT thorax")],
            "ReferencedStudySequence": referenced(STUDY_CLASS, REFERENCED_STUDY_1025),
            "RequestedContrastAgent": "Iohexol",
            "PreMedication": "Dexmedetomidine",
            "CommentsOnTheScheduledProcedureStep": "Fasted since 22:00",
            "ScheduledProtocolCodeSequence": [code("CT-THX-C", "99RVC", "CT thorax with contrast")],
            "ScheduledProcedureStepEndDate": "20251231",
            "ScheduledProcedureStepEndTime": "1415",
            "ScheduledProcedureStepModificationDateTime": "202512301130",
        },
    ),
    ("SPS030", "greek", "ACC1026", "RP1029", "us", "20251231", "1530", {}),
    ("SPS031", "cyrillic", "ACC1027", "RP1030", "us", "20251231", "1745", {}),
    ("SPS032", "rossi", "ACC1028", "RP1031", "mobile", "20251231", "1800", {}),
    ("SPS033", "nguyen", None, None, "us", "20251231", "1900", {"ScheduledProcedureStepStatus": None}),
    ("SPS034", "smithers", "ACC1029", "RP1032", "dx", "20251231", "2359", {}),
    # 1 January 2026
    ("SPS035", "smith_rex", "ACC1030", "RP1033", "dx", "20260101", "0000", {}),
    (
        "SPS036",
        "garcia",
        "ACC1031",
        "RP1034",
        "us",
        "20260101",
        "0800",
        {"RequestingPhysician": "carter^emily", "CurrentPatientLocation": "Ward 3"},
    ),
    ("SPS037", "mueller", "ACC1032", "RP1035", "dx", "20260101", "0830", {}),
    ("SPS038", "muller", "ACC1033", "RP1036", "dx", "20260101", "0900", {}),
    (
        "SPS039",
        "yamada",
        "ACC1034",
        "RP1037",
        "ct",
        "20260101",
        "1000",
        {
            "ScheduledProcedureStepStatus": "READY",
            "RequestedContrastAgent": "Iopamidol",
            "CommentsOnTheScheduledProcedureStep": "Owner waits in the lobby",
            "ScheduledProtocolCodeSequence": [code("CT-HEAD", "99RVC", "CT head")],
            "ScheduledProcedureStepEndDate": "20260101",
        },
    ),
    ("SPS040", "dupont", "ACC1035", "RP1038", "cr", "20260101", "1200", {}),
    ("SPS041", "brown", "ACC1036", "RP1039", "us_lower", "20260101", "1500", {}),
    ("SPS042", "aaberg", "ACC1037", "RP1040", "mr", "20260101", "1800", {}),
    ("SPS043", "taylor", None, "RP1041", "dx", "20260101", "1815", {"ScheduledPerformingPhysicianName": None}),
    ("SPS044", "smith_fluffy", "ACC1038", "RP1042", "us", "20260101", "2000", {}),
    # 2 January 2026
    ("SPS045", "smith_rex_upper", "ACC1039", "RP1043", "dx", "20260102", "0700", {}),
    ("SPS046", "farm", "ACC1040", "RP1044", "mobile", "20260102", "0800", {}),
    ("SPS047", "oconnor", "ACC1041", "RP1045", "us", "20260102", "0830", {}),
    ("SPS048", "greek", "ACC1042", "RP1046", "ct", "20260102", "0900", {}),
    ("SPS049", "smith_rex", "ACC1043", "RP1047", "cr", "20260102", "0930", {}),
    ("SPS050", "mueller", "ACC1044", "RP1048", "us", "20260102", "1000", {}),
    ("SPS051", "nguyen", "ACC1045", "RP1049", "dx", "20260102", "1030", {}),
    ("SPS052", "cyrillic", "ACC1046", "RP1050", "mr", "20260102", "1100", {}),
    ("SPS053", "rossi", "ACC1047", "RP1051", "dx", "20260102", "1130", {}),
    ("SPS054", "smithers", "ACC1048", "RP1052", "us", "20260102", "1200", {}),
    ("SPS055", "yamada_groups", "ACC1049", "RP1053", "us", "20260102", "1300", {}),
    ("SPS056", "dupont", "ACC1050", "RP1054", "dx", "20260102", "1400", {}),
    (
        "SPS057",
        "brown",
        "ACC1051",
        "RP1055",
        "ct",
        "20260102",
        "1500",
        {
            "RequestedContrastAgent": "Iohexol",
            "PreMedication": "Butorphanol",
            "ScheduledProtocolCodeSequence": [code("CT-ABD-C", "99RVC", "CT abdomen with contrast")],
        },
    ),
    ("SPS058", "aaberg", "ACC1052", "RP1056", "us", "20260102", "1600", {}),
    # SPS IDs and accession numbers that differ only in leading zeros.
    ("0001", "garcia", "000077", "RP1057", "dx", "20260102", "1700", {}),
    ("1", "garcia", "77", "RP1058", "dx", "20260102", "1715", {}),
    # A leap day, long before, and odd IDs.
    ("SPS 61", "muller", "ACC0229", "RP0229", "cr", "20240229", "1200", {}),
    ("SPS062", "smith_rex_lower", "ACC1053", "RP1059", "dx", "20260102", "1800", {}),
    ("SPS063", "taylor", "ACC1054", "RP1060", "us_lower", "20260102", "1900", {}),
    ("SPS064", "smith_fluffy", "ACC1055", "RP1061", "cr", "20260102", "2300", {}),
]

#: Explicit Study Instance UIDs for some orders (the others are derived by our plugin, absent elsewhere).
STUDY_UIDS = {
    "ACC1001": "1.2.826.0.1.3680043.10.1386.1001",
    "ACC1005": "1.2.826.0.1.3680043.10.1386.1005",
    "ACC1010": "1.2.826.0.1.3680043.10.1386.1010",
    "ACC1025": "1.2.826.0.1.3680043.10.1386.1025",
    "ACC1039": "1.2.826.0.1.3680043.10.1386.1039",
    "000077": "1.2.826.0.1.3680043.10.1386.77",
}


def _item(number: int, row: tuple[str, str, str | None, str | None, str, str, str, dict[str, Any]]) -> dict[str, Any]:
    sps_id, patient, accession, procedure, station, day, time, extras = row
    modality, aet, station_name, location, description = STATIONS[station]
    item: dict[str, Any] = dict(PATIENTS[patient])
    step: dict[str, Any] = {
        "Modality": modality,
        "ScheduledStationAETitle": aet,
        "ScheduledStationName": station_name,
        "ScheduledProcedureStepLocation": location,
        "ScheduledProcedureStepStartDate": day,
        "ScheduledProcedureStepStartTime": time,
        "ScheduledProcedureStepID": sps_id,
        "ScheduledProcedureStepDescription": description,
        "ScheduledPerformingPhysicianName": TECHNICIANS[number % len(TECHNICIANS)],
        "ScheduledProcedureStepStatus": "SCHEDULED",
    }
    item.update(
        {
            "AccessionNumber": accession,
            "RequestedProcedureID": procedure,
            "RequestedProcedureDescription": description,
            "StudyDescription": description.split(",")[0],
            "RequestedProcedurePriority": "ROUTINE",
            "ReferringPhysicianName": PHYSICIANS[number % len(PHYSICIANS)] if number % 5 else None,
            "StudyInstanceUID": STUDY_UIDS.get(accession or ""),
        }
    )
    for keyword, value in extras.items():
        (step if keyword in step or keyword in STEP_EXTRAS else item)[keyword] = value
    item[SPS] = [{k: v for k, v in step.items() if v is not None}]
    return {k: v for k, v in item.items() if v is not None}


def items() -> list[dict[str, Any]]:
    """A fresh copy of the fixture's items, in the importer's JSON shape."""
    return [copy.deepcopy(_item(n, row)) for n, row in enumerate(STEPS)]


def step(item: dict[str, Any]) -> dict[str, Any]:
    return item[SPS][0]
