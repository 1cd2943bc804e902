"""Benchmark data: N realistic veterinary worklist items, and the truth for each benchmark query.

Items keep one realistic density at every N: 17 procedures per station per day on 10 stations
(170 a day), which is about 60 days at N = 10,000. A larger N adds history: more past days, as a
practice database accumulates them. So each benchmark query has about the same number of answers at
every N, and how latency grows with N shows whether the lookups are indexed, not how many answers
there are. The same items are written to SQLite, to PostgreSQL and, for Orthanc's stock plugin,
as .wl files.
"""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATIONS = [
    ("DX_ROOM1", "DX"),
    ("DX_ROOM2", "DX"),
    ("DX_ROOM3", "DX"),
    ("CR_ROOM1", "CR"),
    ("CR_ROOM2", "CR"),
    ("US_ROOM1", "US"),
    ("US_ROOM2", "US"),
    ("CT_SUITE", "CT"),
    ("MR_SUITE", "MR"),
    ("RF_ROOM1", "RF"),
]
PER_STATION_DAY = 17
PER_DAY = PER_STATION_DAY * len(STATIONS)
FAMILIES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Dubois",
    "Rossi",
]
PETS = [
    "Bella",
    "Max",
    "Luna",
    "Charlie",
    "Lucy",
    "Cooper",
    "Daisy",
    "Milo",
    "Bailey",
    "Rocky",
    "Sadie",
    "Buddy",
    "Molly",
    "Bear",
    "Stella",
    "Tucker",
    "Lola",
    "Duke",
    "Zoe",
    "Bentley",
    "Coco",
    "Oliver",
    "Ruby",
    "Leo",
    "Penny",
    "Teddy",
    "Rosie",
    "Zeus",
    "Maggie",
    "Jack",
    "Chloe",
    "Oscar",
    "Gracie",
    "Toby",
    "Nala",
    "Louie",
    "Willow",
    "Winston",
    "Roxy",
    "Murphy",
    "Pepper",
    "Bruno",
    "Ginger",
    "Finn",
    "Lily",
    "Ziggy",
    "Misty",
    "Simba",
]
SPECIES = [
    ("Canis lupus familiaris", "Labrador Retriever"),
    ("Felis catus", "Domestic Shorthair"),
    ("Canis lupus familiaris", "Beagle"),
    ("Equus caballus", "Quarter Horse"),
]
PROCEDURES = {
    "DX": "Thorax, 3 views",
    "CR": "Skull, 3 views",
    "US": "Abdominal ultrasound",
    "CT": "CT head",
    "MR": "MRI spine",
    "RF": "Swallow study",
}
#: The five benchmark queries (issue #4): Q1 today + modality; Q2 patient-name prefix; Q3 seven days;
#: Q4 one station; Q5 one station, today.
Q2_PREFIX = "Smith^Be"


@dataclass(frozen=True)
class Item:
    sps_id: str
    start: datetime
    station: str
    modality: str
    patient_name: str
    patient_id: str
    accession: str
    birth: date
    sex: str
    weight: str
    species: str
    breed: str
    owner: str
    description: str


def layout(n: int, today: date) -> tuple[date, int]:
    """(first day, number of days): at most 30 future days, the rest history."""
    days = max(1, math.ceil(n / PER_DAY))
    future = min(30, days // 2)
    return today - timedelta(days=days - future - 1), days


def names(patient: int) -> tuple[str, str]:
    """Owner and pet names: the first 2,400 patients have plain names, later ones double-barrelled
    owners, so a name prefix (Q2) matches about as many patients at every N."""
    family = FAMILIES[patient % len(FAMILIES)]
    generation = patient // (len(FAMILIES) * len(PETS))
    if generation:
        family += "-" + FAMILIES[(generation - 1) % len(FAMILIES)] + ("" if generation <= 50 else str(generation))
    return family, PETS[(patient // len(FAMILIES)) % len(PETS)]


def items(n: int, today: date) -> Iterator[Item]:
    first, _ = layout(n, today)
    patients = max(50, n // 3)
    for i in range(n):
        day, rest = divmod(i, PER_DAY)
        station_index, slot = divmod(rest, PER_STATION_DAY)
        station, modality = STATIONS[station_index]
        patient = (i * 7919) % patients  # a prime stride spreads each patient's visits over time
        family, pet = names(patient)
        species, breed = SPECIES[patient % len(SPECIES)]
        minutes = 8 * 60 + slot * 30
        yield Item(
            sps_id=f"S{i:09d}",
            start=datetime.combine(first + timedelta(days=day), datetime.min.time()) + timedelta(minutes=minutes),
            station=station,
            modality=modality,
            patient_name=f"{family}^{pet}",
            patient_id=f"{patient:08d}",
            accession=f"A{i:09d}",
            birth=date(2010 + patient % 14, 1 + patient % 12, 1 + patient % 28),
            sex="MF"[patient % 2],
            weight=f"{3 + patient % 40}.{patient % 10}",
            species=species,
            breed=breed,
            owner=family,
            description=PROCEDURES[modality],
        )


def truth(n: int, today: date) -> dict[str, int]:
    """How many answers each benchmark query must get (before any answer limit)."""
    week_end = today + timedelta(days=7)
    counts = dict.fromkeys(("Q1", "Q2", "Q3", "Q4", "Q5"), 0)
    for item in items(n, today):
        day = item.start.date()
        counts["Q1"] += day == today and item.modality == "DX"
        counts["Q2"] += item.patient_name.upper().startswith(Q2_PREFIX.upper())
        counts["Q3"] += today <= day < week_end
        counts["Q4"] += item.station == "US_ROOM1"
        counts["Q5"] += day == today and item.station == "US_ROOM1"
    return counts


def _columns(item: Item) -> dict[str, str]:
    """The item as the reference schema's columns."""
    return {
        "ScheduledProcedureStepID": item.sps_id,
        "ScheduledProcedureStepStartDateTime": item.start.strftime("%Y-%m-%d %H:%M:%S"),
        "ScheduledStationAETitle": item.station,
        "Modality": item.modality,
        "PatientName": item.patient_name,
        "PatientID": item.patient_id,
        "AccessionNumber": item.accession,
        "PatientBirthDate": item.birth.isoformat(),
        "PatientSex": item.sex,
        "PatientWeight": item.weight,
        "PatientSpeciesDescription": item.species,
        "PatientBreedDescription": item.breed,
        "ResponsiblePerson": item.owner,
        "ScheduledProcedureStepDescription": item.description,
        "RequestedProcedureDescription": item.description,
        "ScheduledProcedureStepStatus": "SCHEDULED",
    }


def _row(item: Item) -> tuple[str, ...]:
    return tuple(_columns(item).values())


COLUMNS = tuple(_columns(next(items(1, date(2026, 1, 5)))))


def _schema(dialect: str) -> tuple[str, str]:
    """The reference schema's CREATE TABLE statement, and its indexes (run after a bulk load)."""
    schema = (REPO / "sql" / "schema" / f"{dialect}.sql").read_text()
    end = schema.index(");", schema.index("CREATE TABLE")) + 2
    return schema[:end], schema[end:]


def write_sqlite(path: Path, n: int, today: date) -> None:
    """The reference schema in a SQLite file, filled in bulk (Python's sqlite3 is faster than ODBC here)."""
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    table, indexes = _schema("sqlite")
    db.executescript(table)
    placeholders = ", ".join("?" * len(COLUMNS))
    db.executemany(
        f"INSERT INTO worklist ({', '.join(COLUMNS)}) VALUES ({placeholders})", (_row(i) for i in items(n, today))
    )
    db.executescript(indexes)  # indexes after the load: much faster
    db.execute("ANALYZE")
    db.commit()
    db.close()


def write_postgres(psql: list[str], n: int, today: date) -> None:
    """Fill PostgreSQL through COPY; ``psql`` is the psql command line for the target database."""
    table, indexes = _schema("postgresql")
    subprocess.run([*psql, "-c", "DROP TABLE IF EXISTS worklist"], check=True, capture_output=True)
    subprocess.run([*psql, "-c", table], check=True, capture_output=True)
    lines = "".join("\t".join(v.replace("\t", " ") for v in _row(i)) + "\n" for i in items(n, today))
    subprocess.run(
        [*psql, "-c", f"COPY worklist ({', '.join(COLUMNS)}) FROM STDIN"],
        input=lines.encode(),
        check=True,
        capture_output=True,
    )
    subprocess.run([*psql, "-c", indexes + "; ANALYZE worklist"], check=True, capture_output=True)


def write_wl_files(folder: Path, n: int, today: date) -> None:
    """The same items as .wl files for Orthanc's stock ModalityWorklists plugin (the peer)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.wl"):
        old.unlink()
    for item in items(n, today):
        ds = Dataset()
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.PatientName = item.patient_name
        ds.PatientID = item.patient_id
        ds.PatientBirthDate = item.birth.strftime("%Y%m%d")
        ds.PatientSex = item.sex
        ds.PatientWeight = item.weight
        ds.PatientSpeciesDescription = item.species
        ds.PatientBreedDescription = item.breed
        ds.ResponsiblePerson = item.owner
        ds.AccessionNumber = item.accession
        ds.RequestedProcedureDescription = item.description
        step = Dataset()
        step.Modality = item.modality
        step.ScheduledStationAETitle = item.station
        step.ScheduledProcedureStepStartDate = item.start.strftime("%Y%m%d")
        step.ScheduledProcedureStepStartTime = item.start.strftime("%H%M%S")
        step.ScheduledProcedureStepID = item.sps_id
        step.ScheduledProcedureStepDescription = item.description
        step.ScheduledProcedureStepStatus = "SCHEDULED"
        ds.ScheduledProcedureStepSequence = [step]
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.31"
        ds.file_meta.MediaStorageSOPInstanceUID = "2.25." + str(int(item.sps_id[1:]) + 1)
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.save_as(folder / f"{item.sps_id}.wl", enforce_file_format=True)


if __name__ == "__main__":
    import sys

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(json.dumps({"n": size, "layout": str(layout(size, date.today())), **truth(size, date.today())}))
