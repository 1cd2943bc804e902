"""A realistic veterinary schedule for the demo database, with dates relative to a given day.

The schedule is deterministic for a given start day, so the demo and the tests agree on it. It
spreads dogs, cats, horses, a rabbit and a ferret over four stations (DX, CR, US, CT) for several
days, with owners' names in several languages and scripts (Latin, Greek, Cyrillic, Japanese), and
a few species, breed and breed registry codes as a practice system would give them; some animals
have medical alerts or allergies, and the X-ray and CT steps carry a protocol code.

Usage: ``python -m vetmwl.tools.demo [--start YYYY-MM-DD] [--days 5] > items.json``
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import date, timedelta

# (owner family name, pet name, species, breed, sex, neutered, birth date, weight kg)
ANIMALS = [
    ("Smith", "Rex", "Canis lupus familiaris", "Labrador Retriever", "M", "ALTERED", "20180304", "32.5"),
    ("Johnson", "Bella", "Canis lupus familiaris", "Golden Retriever", "F", "ALTERED", "20200611", "28.1"),
    ("Müller", "Bello", "Canis lupus familiaris", "German Shepherd", "M", "UNALTERED", "20190117", "38"),
    ("García", "Luna", "Felis catus", "Domestic Shorthair", "F", "ALTERED", "20210402", "4.2"),
    ("山田", "ポチ", "Canis lupus familiaris", "Shiba Inu", "M", "ALTERED", "20170823", "10.4"),
    ("Williams", "Max", "Canis lupus familiaris", "Beagle", "M", "ALTERED", "20161230", "14.7"),
    ("Brown", "Whiskers", "Felis catus", "Maine Coon", "M", "ALTERED", "20150509", "7.9"),
    ("O'Connor", "Daisy", "Canis lupus familiaris", "Border Collie", "F", "UNALTERED", "20220115", "17.3"),
    ("Dubois", "Minou", "Felis catus", "Persian", "F", "ALTERED", "20140720", "3.8"),
    ("Rossi", "Tornado", "Equus caballus", "Quarter Horse", "M", "ALTERED", "20120401", "512"),
    (
        "Green Acres Farm",
        "Running on Water",
        "Equus caballus",
        "Arabian",
        "F",
        "UNALTERED",
        "20150322",
        "447",
    ),
    ("Nguyen", "Coco", "Oryctolagus cuniculus", "Holland Lop", "F", "ALTERED", "20230301", "1.6"),
    ("Иванов", "Шарик", "Canis lupus familiaris", "Mixed breed", "M", "ALTERED", "20181111", "22"),
    ("Andersson", "Sigge", "Felis catus", "Siamese", "M", "ALTERED", "20190905", "4.9"),
    ("Taylor", "Bandit", "Mustela putorius furo", "", "M", "ALTERED", "20220614", "1.1"),
    ("Davis", "Rocky", "Canis lupus familiaris", "French Bulldog", "M", "UNALTERED", "20210228", "12.6"),
    ("Fernández", "Canela", "Canis lupus familiaris", "Pachón Navarro", "F", "ALTERED", "20170307", "24.5"),
    ("Wilson", "Shadow", "Felis catus", "Domestic Longhair", "M", "ALTERED", "20110118", "5.5"),
    ("Παπαδόπουλος", "Άργος", "Canis lupus familiaris", "Greyhound", "M", "ALTERED", "20190429", "31"),
    (
        "Martin",
        "Pepper",
        "Canis lupus familiaris",
        "Cavalier King Charles Spaniel",
        "F",
        "ALTERED",
        "20200816",
        "8.2",
    ),
]

#: Codes the practice system gives for some animals, by pet name; the plugin derives the others'
#: species and breed codes from the descriptions. 109200^DCM is CID 7481's American Kennel Club
#: (its code meaning is spelled so in PS3.16).
CODES: dict[str, dict] = {
    "Rex": {
        "BreedRegistrationSequence": [
            {
                "BreedRegistrationNumber": "SR12345601",
                "BreedRegistryCodeSequence": [
                    {"CodeValue": "109200", "CodingSchemeDesignator": "DCM", "CodeMeaning": "America Kennel Club"}
                ],
            }
        ]
    },
    "Шарик": {
        "PatientBreedCodeSequence": [
            {"CodeValue": "132619000", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Mixed breed dog"}
        ]
    },
    "Coco": {
        "PatientSpeciesCodeSequence": [
            {"CodeValue": "36571002", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Oryctolagus cuniculus"}
        ]
    },
}

#: Medical alerts and allergies (several values separated by backslashes), by pet name.
ALERTS: dict[str, dict[str, str]] = {
    "Rex": {"MedicalAlerts": "Bites when in pain"},
    "Whiskers": {"MedicalAlerts": "Diabetic\\Scratches", "Allergies": "Penicillin"},
    "Tornado": {"MedicalAlerts": "Kicks\\Needle-shy"},
    "Шарик": {"Allergies": "Chicken protein\\Beef protein"},
}
#: The clinic that issues the Patient IDs.
ISSUER = "RVC"
#: Stations whose steps carry a protocol code (local scheme), made from the procedure's short name.
PROTOCOL_STATIONS = ("DX", "CT")
PROTOCOL_SCHEME = "99RVC"

# modality: (station AE title, station name, location, procedures, items per day)
STATIONS = {
    "DX": (
        "DX_ROOM1",
        "DR Room 1",
        "Radiology",
        [
            ("Thorax, 3 views", "XR Thorax"),
            ("Abdomen, 2 views", "XR Abdomen"),
            ("Pelvis VD (hip dysplasia)", "XR Pelvis"),
            ("Left stifle, 2 views", "XR Stifle"),
            ("Spine, lateral", "XR Spine"),
            ("Right elbow, 2 views", "XR Elbow"),
        ],
        6,
    ),
    "CR": (
        "CR_ROOM2",
        "CR Room 2",
        "Radiology",
        [
            ("Skull, 3 views", "XR Skull"),
            ("Front limb, 2 views", "XR Limb"),
            ("Dental survey", "XR Dental"),
        ],
        3,
    ),
    "US": (
        "US_ROOM1",
        "Ultrasound 1",
        "Imaging",
        [
            ("Abdominal ultrasound", "US Abdomen"),
            ("Echocardiography", "US Heart"),
            ("Pregnancy check", "US Pregnancy"),
            ("Bladder ultrasound", "US Bladder"),
        ],
        4,
    ),
    "CT": (
        "CT_SUITE",
        "CT Suite",
        "Imaging",
        [
            ("CT head", "CT Head"),
            ("CT thorax for metastases", "CT Thorax"),
            ("CT elbows", "CT Elbow"),
        ],
        2,
    ),
}
VETS = ["Carter^Emily^^Dr", "Okafor^James^^Dr", "Lindqvist^Anna^^Dr", "Moreau^Julien^^Dr"]
TECHNICIANS = ["Hughes^Sam", "Patel^Priya", "Kim^Jae"]
#: Step statuses in turn: mostly SCHEDULED, some ARRIVED or READY, some unknown (NULL, which the
#: plugin treats as SCHEDULED). All are offered by default, so every step is in the worklist.
STATUSES = ["SCHEDULED", "SCHEDULED", "ARRIVED", "SCHEDULED", "READY", "SCHEDULED", None]


def schedule(start: date, days: int = 5) -> list[dict]:
    """Worklist items (Orthanc ``/worklists/create`` shape) for ``days`` days from ``start``."""
    rng = random.Random(20240601)
    items: list[dict] = []
    serial = 0
    for offset in range(days):
        day = start + timedelta(days=offset)
        for modality, (aet, station, location, procedures, per_day) in STATIONS.items():
            for slot in range(per_day):
                serial += 1
                owner, pet, species, breed, sex, neutered, born, weight = ANIMALS[rng.randrange(len(ANIMALS))]
                description, code = procedures[rng.randrange(len(procedures))]
                minutes = 8 * 60 + slot * (540 // per_day) + rng.choice([0, 10, 20, 30])
                patient_number = ANIMALS.index(next(a for a in ANIMALS if a[1] == pet)) + 1
                accession = f"{day:%y%m%d}{serial:04d}"
                items.append(
                    {
                        "PatientName": f"{owner}^{pet}",
                        "PatientID": f"{patient_number:06d}",
                        "IssuerOfPatientID": ISSUER,
                        "PatientBirthDate": born,
                        "PatientSex": sex,
                        "PatientWeight": weight,
                        "PatientSpeciesDescription": species,
                        "PatientBreedDescription": breed,
                        "PatientSexNeutered": neutered,
                        "ResponsiblePerson": owner if " " not in owner else "",
                        "ResponsibleOrganization": owner if " " in owner else "",
                        "AccessionNumber": accession,
                        "RequestedProcedureID": f"RP{serial:05d}",
                        "RequestedProcedureDescription": description,
                        "StudyDescription": code,
                        "RequestedProcedurePriority": "STAT" if rng.random() < 0.1 else "ROUTINE",
                        "ReferringPhysicianName": VETS[rng.randrange(len(VETS))],
                        "RequestingPhysician": VETS[serial % len(VETS)],
                        **ALERTS.get(pet, {}),
                        **CODES.get(pet, {}),
                        "ScheduledProcedureStepSequence": [
                            {
                                "Modality": modality,
                                "ScheduledStationAETitle": aet,
                                "ScheduledStationName": station,
                                "ScheduledProcedureStepLocation": location,
                                "ScheduledProcedureStepStartDate": f"{day:%Y%m%d}",
                                "ScheduledProcedureStepStartTime": f"{minutes // 60:02d}{minutes % 60:02d}00",
                                "ScheduledProcedureStepID": f"SPS{serial:05d}",
                                "ScheduledProcedureStepDescription": description,
                                "ScheduledPerformingPhysicianName": TECHNICIANS[serial % len(TECHNICIANS)],
                                "ScheduledProcedureStepStatus": STATUSES[serial % len(STATUSES)],
                                **_protocol(modality, code),
                            }
                        ],
                    }
                )
    return items


def _protocol(modality: str, short_name: str) -> dict[str, list[dict[str, str]]]:
    """The step's protocol code on the stations that give one: ``XR Thorax`` is ``XR-THORAX``."""
    if modality not in PROTOCOL_STATIONS:
        return {}
    value = short_name.upper().replace(" ", "-")
    return {
        "ScheduledProtocolCodeSequence": [
            {"CodeValue": value, "CodingSchemeDesignator": PROTOCOL_SCHEME, "CodeMeaning": short_name}
        ]
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vetmwl-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date.today(), help="first day (today)")
    parser.add_argument("--days", type=int, default=5, help="number of days (5)")
    args = parser.parse_args(argv)
    json.dump(schedule(args.start, args.days), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
