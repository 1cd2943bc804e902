"""An ImproMed-shaped database on PostgreSQL, and the T-SQL view of sql/mssql run there through sqlglot.

No SQL Server runs here. So the tables ImproMed is known to have (docs/impromed.md) are made on
PostgreSQL with the names the view reads (the confirmed ones, and the unconfirmed ones as the view's
mapping section spells them), filled with a small clinic, and ``sql/mssql/impromed-view.sql`` is
transpiled from T-SQL with sqlglot and run there, batch by batch, as sqlcmd would send it. What this
proves and what it cannot is said in docs/impromed.md.

The schedule (today is the day the tests run; practice 1 is the clinic, 2 another in the same
database): today's DX appointments are a cat weighed 11 lb (a neutered male with a microchip), a
horse weighed in kg (an intact mare) and a dog in lb; also today a deleted DX appointment, a DX
appointment of practice 2, one of a deceased animal, one of an inactive one, a cancelled one, a
vaccination (not imaging) and an ultrasound (by resource); tomorrow one more DX.
"""

from __future__ import annotations

import shlex
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pyodbc
import sqlglot
from sqlglot import exp

from support.deploy import init_demo_db

from .runtimes import REPO

VIEW_SQL = REPO / "sql" / "mssql" / "impromed-view.sql"
DOC = REPO / "docs" / "impromed.md"
LOGIN_SQL = REPO / "sql" / "mssql" / "readonly-login.sql"
VIEW = "vetmwl.worklist"
READER, READER_PASSWORD = "vetmwl_reader", "reader-Pw-1"
OUR_PRACTICE, OTHER_PRACTICE = 1, 2
#: Appointment types of the practice management system (APPT_M.TYPE).
XRAY_TYPE, VACCINATION_TYPE = 10, 3
#: The ultrasound room, a resource (APPT_M.RESOURCE_GUID): its appointments are US whatever their type.
US_ROOM = uuid.UUID("5a3f0c2e-9d41-4c59-b3a2-0f6f2c1d7e10")
#: ImproMed's weight unit codes as the fixture has them (SPECIES.WEIGHT_UNIT).
POUNDS, KILOGRAMS = 0, 1

#: The ImproMed tables as PostgreSQL holds them: uniqueidentifier -> uuid, bit -> smallint (0/1,
#: as T-SQL compares it), datetime -> timestamp, float -> double precision, nvarchar -> varchar.
SCHEMA = """
CREATE SCHEMA dbo;
CREATE TABLE dbo.APPT_M (
    APPT_GUID uuid PRIMARY KEY, SERIES_GUID uuid NOT NULL, IS_HEADER smallint NOT NULL,
    PRACTICE_VID smallint NOT NULL, TYPE smallint NOT NULL, STATUS_GUID uuid NOT NULL,
    START_TIME timestamp NOT NULL, END_TIME timestamp NOT NULL, RESOURCE_GUID uuid NOT NULL,
    PATIENT_GUID uuid NOT NULL, WHO_FOR smallint NOT NULL, WHO_FOR_GUID uuid NOT NULL,
    NOTES varchar NOT NULL, CREATE_DATE_TIME timestamp NOT NULL, DELETED smallint NOT NULL
);
CREATE INDEX appt_m_start ON dbo.APPT_M (START_TIME);
CREATE TABLE dbo.APPT_STATUS (
    STATUS_GUID uuid PRIMARY KEY, CATEGORY smallint NOT NULL, NAME varchar(50) NOT NULL,
    PRACTICE_VID smallint NOT NULL, DELETED smallint NOT NULL
);
CREATE TABLE dbo.HD_SEX (
    HD_SEX_GUID uuid PRIMARY KEY, HD_ACCT_NUM integer NOT NULL, SEX varchar(10) NOT NULL,
    MALE smallint NOT NULL, NEUTERED smallint NOT NULL, CREATE_DATE_TIME timestamp NOT NULL
);
CREATE TABLE dbo.CLIENTS (
    CLIENT_GUID uuid PRIMARY KEY, PRACTICE_VID smallint NOT NULL, CLIENT_ACCOUNT_ID varchar(20),
    FIRST_NAME varchar(50), LAST_NAME varchar(50), ACTIVE smallint NOT NULL, DELETED smallint NOT NULL
);
CREATE TABLE dbo.SPECIES (
    SPECIES_GUID uuid PRIMARY KEY, SPECIES_NAME varchar(50) NOT NULL, WEIGHT_UNIT smallint NOT NULL,
    PRACTICE_VID smallint NOT NULL
);
CREATE TABLE dbo.BREEDS (
    BREED_GUID uuid PRIMARY KEY, SPECIES_GUID uuid NOT NULL, BREED_NAME varchar(50) NOT NULL
);
CREATE TABLE dbo.PATIENTS (
    PATIENT_GUID uuid PRIMARY KEY, CLIENT_GUID uuid NOT NULL, SPECIES_GUID uuid, BREED_GUID uuid,
    COLOR_GUID uuid, PATIENT_ACCOUNT_ID varchar(20), PATIENT_NAME varchar(50), SEX varchar(10),
    BIRTHDATE timestamp, ACTIVE smallint NOT NULL, PRACTICE_VID smallint NOT NULL, DELETED smallint NOT NULL,
    DECEASED_DATE timestamp, MEDICAL_ALERT varchar(255), WEIGHT double precision, TATTOO_NUM varchar(20),
    AVID_CHIP_NUM varchar(20), MICROCHIP_MANUFACTURER1 varchar(30)
);
"""


def doc_findscu_keys(today: date) -> list[str]:
    """The -k keys of docs/impromed.md's findscu example (the X-ray room's query), with today's date."""
    text = DOC.read_text(encoding="utf-8")
    block = text[text.index("findscu -W") :].split("```")[0]
    words = shlex.split(block.replace("$(date +%Y%m%d)", f"{today:%Y%m%d}").replace("\\\n", " "))
    return [words[n + 1] for n, word in enumerate(words) if word == "-k"]


def _id(name: str) -> uuid.UUID:
    """A stable GUID for a fixture row, so that expected SPS IDs can be computed."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"vetmwl-impromed-fixture:{name}")


def sps_id(appointment: str) -> str:
    """The SPS ID the view makes of an appointment's GUID: its first 16 hex digits, upper case."""
    return _id(appointment).hex[:16].upper()


@dataclass(frozen=True)
class Animal:
    key: str
    name: str
    owner: str
    species: str
    breed: str
    sex: str
    weight: float
    account: str
    birth: date
    practice: int = OUR_PRACTICE
    active: int = 1
    deceased: bool = False
    chip: str | None = None
    chip_maker: str | None = None


OWNERS = {
    "lefevre": ("Amélie", "Lefèvre"),
    "muller": ("Jürgen", "Müller"),
    "smith": ("Ann", "Smith"),
    "nunez": ("José", "Núñez"),
    "other": ("Olga", "Other"),
}
SPECIES = {"feline": ("Feline", POUNDS), "equine": ("Equine", KILOGRAMS), "canine": ("Canine", POUNDS)}
BREEDS = {"dsh": ("feline", "Domestic Shorthair"), "qh": ("equine", "Quarter Horse"), "lab": ("canine", "Labrador")}
#: HD_SEX rows: code, MALE, NEUTERED.
SEXES = {"M": (1, 0), "MN": (1, 1), "F": (0, 0), "FS": (0, 1)}
ANIMALS = [
    Animal(
        "felix",
        "Félix",
        "lefevre",
        "feline",
        "dsh",
        "MN",
        11.0,
        "P1001",
        date(2019, 4, 2),
        chip="985112003456789",
        chip_maker="HomeAgain",
    ),
    Animal("blitz", "Blitz", "muller", "equine", "qh", "F", 520.0, "P1002", date(2012, 5, 20)),
    Animal("rex", "Rex", "smith", "canine", "lab", "M", 66.0, "P1003", date(2021, 1, 15)),
    Animal("lola", "Lola", "nunez", "canine", "lab", "FS", 22.0, "P1004", date(2018, 7, 7)),
    Animal("minou", "Minou", "other", "feline", "dsh", "FS", 9.0, "P2001", date(2020, 3, 3), practice=OTHER_PRACTICE),
    Animal("old", "Old Tom", "smith", "feline", "dsh", "MN", 12.0, "P1005", date(2005, 1, 1), deceased=True),
    Animal("gone", "Shadow", "muller", "canine", "lab", "M", 40.0, "P1006", date(2015, 1, 1), active=0),
]
STATUSES = {"booked": "Booked", "cancelled": "Cancelled"}


@dataclass(frozen=True)
class Appointment:
    key: str
    animal: str
    day: int  # days from today
    at: time
    type: int = XRAY_TYPE
    resource: uuid.UUID | None = None
    status: str = "booked"
    deleted: int = 0
    practice: int = OUR_PRACTICE
    notes: str = ""


APPOINTMENTS = [
    Appointment("felix-dx", "felix", 0, time(8, 30), notes="Thorax, 2 views"),
    Appointment("blitz-dx", "blitz", 0, time(9, 15), notes="Left fore fetlock"),
    Appointment("rex-dx", "rex", 0, time(11, 0)),
    Appointment("lola-deleted", "lola", 0, time(10, 0), deleted=1),
    Appointment("minou-other-practice", "minou", 0, time(10, 30), practice=OTHER_PRACTICE),
    Appointment("old-deceased", "old", 0, time(12, 0)),
    Appointment("shadow-inactive", "gone", 0, time(12, 30)),
    Appointment("rex-cancelled", "rex", 0, time(13, 0), status="cancelled"),
    Appointment("blitz-vaccination", "blitz", 0, time(14, 0), type=VACCINATION_TYPE),
    Appointment("rex-us", "rex", 0, time(15, 0), type=VACCINATION_TYPE, resource=US_ROOM),
    Appointment("felix-tomorrow", "felix", 1, time(9, 0)),
]
#: Today's DX appointments the worklist must hold, in start order.
TODAYS_DX = ["felix-dx", "blitz-dx", "rex-dx"]

#: The site's own rows: what is imaging (practice 1 only) and which status is never sent.
IMAGING_RULES = [
    (1, OUR_PRACTICE, XRAY_TYPE, None, "DX", "DX_ROOM1", "DR Room 1", "Radiographs"),
    (2, OUR_PRACTICE, None, US_ROOM, "US", "US_ROOM1", "Ultrasound 1", "Ultrasound"),
]
SKIPPED_STATUSES = ["Cancelled"]


def insert(cursor: pyodbc.Cursor, table: str, row: dict[str, object]) -> None:
    """One row, its values as bind parameters (``table`` and the names are the fixture's own)."""
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cursor.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", *row.values())


def fill(connection: pyodbc.Connection, today: date) -> None:
    """The clinic's data: the ImproMed tables of :data:`SCHEMA`, filled."""
    cursor = connection.cursor()
    created = datetime(2020, 1, 1)
    for code, (male, neutered) in SEXES.items():
        insert(cursor, "dbo.HD_SEX", {"HD_SEX_GUID": _id(f"sex:{code}"), "HD_ACCT_NUM": 1, "SEX": code,
                                      "MALE": male, "NEUTERED": neutered, "CREATE_DATE_TIME": created})  # fmt: skip
    for key, name in STATUSES.items():
        insert(cursor, "dbo.APPT_STATUS", {"STATUS_GUID": _id(f"status:{key}"), "CATEGORY": 1, "NAME": name,
                                           "PRACTICE_VID": OUR_PRACTICE, "DELETED": 0})  # fmt: skip
    for key, (first, last) in OWNERS.items():
        practice = OTHER_PRACTICE if key == "other" else OUR_PRACTICE
        insert(cursor, "dbo.CLIENTS", {"CLIENT_GUID": _id(f"client:{key}"), "PRACTICE_VID": practice,
                                       "CLIENT_ACCOUNT_ID": key.upper(), "FIRST_NAME": first, "LAST_NAME": last,
                                       "ACTIVE": 1, "DELETED": 0})  # fmt: skip
    for key, (name, unit) in SPECIES.items():
        insert(cursor, "dbo.SPECIES", {"SPECIES_GUID": _id(f"species:{key}"), "SPECIES_NAME": name,
                                       "WEIGHT_UNIT": unit, "PRACTICE_VID": OUR_PRACTICE})  # fmt: skip
    for key, (species, name) in BREEDS.items():
        insert(cursor, "dbo.BREEDS", {"BREED_GUID": _id(f"breed:{key}"), "SPECIES_GUID": _id(f"species:{species}"),
                                      "BREED_NAME": name})  # fmt: skip
    for a in ANIMALS:
        insert(cursor, "dbo.PATIENTS", {
            "PATIENT_GUID": _id(f"patient:{a.key}"), "CLIENT_GUID": _id(f"client:{a.owner}"),
            "SPECIES_GUID": _id(f"species:{a.species}"), "BREED_GUID": _id(f"breed:{a.breed}"),
            "PATIENT_ACCOUNT_ID": a.account, "PATIENT_NAME": a.name, "SEX": a.sex,
            "BIRTHDATE": datetime.combine(a.birth, time()), "ACTIVE": a.active, "PRACTICE_VID": a.practice,
            "DELETED": 0, "DECEASED_DATE": datetime(2026, 1, 1) if a.deceased else None, "WEIGHT": a.weight,
            "AVID_CHIP_NUM": a.chip, "MICROCHIP_MANUFACTURER1": a.chip_maker,
        })  # fmt: skip
    for ap in APPOINTMENTS:
        start = datetime.combine(today + timedelta(days=ap.day), ap.at)
        insert(cursor, "dbo.APPT_M", {
            "APPT_GUID": _id(ap.key), "SERIES_GUID": _id(f"series:{ap.key}"), "IS_HEADER": 0,
            "PRACTICE_VID": ap.practice, "TYPE": ap.type, "STATUS_GUID": _id(f"status:{ap.status}"),
            "START_TIME": start, "END_TIME": start + timedelta(minutes=30),
            "RESOURCE_GUID": ap.resource or _id("resource:exam-room"), "PATIENT_GUID": _id(f"patient:{ap.animal}"),
            "WHO_FOR": 1, "WHO_FOR_GUID": _id("doctor:1"), "NOTES": ap.notes, "CREATE_DATE_TIME": created,
            "DELETED": ap.deleted,
        })  # fmt: skip
    cursor.close()


def fill_site_tables(connection: pyodbc.Connection) -> None:
    """What the site fills after running the script: its imaging rules and skipped statuses."""
    cursor = connection.cursor()
    names = ("RuleId", "PracticeVid", "ApptType", "ResourceGuid", "Modality", "ScheduledStationAETitle",
             "ScheduledStationName", "ProcedureDescription")  # fmt: skip
    for rule in IMAGING_RULES:
        insert(cursor, "vetmwl.impromed_imaging", dict(zip(names, rule, strict=True)))
    for status in SKIPPED_STATUSES:
        insert(cursor, "vetmwl.impromed_skipped_status", {"StatusName": status})
    cursor.close()


# -- the T-SQL script, as sqlcmd sends it, on PostgreSQL ---------------------------------------------


def tsql_batches(path: Path, variables: dict[str, str] | None = None) -> list[str]:
    """The batches sqlcmd would send (``GO`` lines, ``$(variables)``), as docker/init_demo_db.py splits them."""
    return init_demo_db().sqlcmd_batches(path.read_text(encoding="utf-8"), variables or {})


def _creates_if_missing(block: exp.IfBlock) -> list[exp.Expression]:
    """The statements of ``IF OBJECT_ID(...) IS NULL <create>`` (run: the database is new); anything
    else in an IF is refused, so that a condition this translation ignores cannot hide in the script."""
    condition = block.this
    if not (isinstance(condition, exp.Is) and isinstance(condition.this, exp.ObjectId)):
        raise AssertionError(f"an IF the PostgreSQL run cannot translate: {block.sql('tsql')}")
    body = block.args["true"]
    statements = body.expressions if isinstance(body, exp.Block) else [body]
    assert all(isinstance(s, exp.Create) for s in statements), block.sql("tsql")
    return statements


def postgres_statements(batch: str) -> list[str]:
    """One T-SQL batch as PostgreSQL statements, through sqlglot (T-SQL parsed strictly)."""
    out = []
    for statement in sqlglot.parse(batch, read="tsql", error_level=sqlglot.ErrorLevel.RAISE):
        if statement is None:
            continue
        if isinstance(statement, exp.Command):
            out.append(batch)  # CREATE SCHEMA ... AUTHORIZATION dbo: PostgreSQL says it alike
        elif isinstance(statement, exp.IfBlock):
            out += [s.sql("postgres") for s in _creates_if_missing(statement)]
        else:
            out.append(statement.sql("postgres", unsupported_level=sqlglot.ErrorLevel.RAISE))
    return out


def run_view_script(connection: pyodbc.Connection, path: Path = VIEW_SQL) -> list[str]:
    """The view script on PostgreSQL; the statements as run."""
    cursor = connection.cursor()
    ran = []
    for batch in tsql_batches(path):
        for statement in postgres_statements(batch):
            cursor.execute(statement)
            ran.append(statement)
    cursor.close()
    return ran


def grant_reader(connection: pyodbc.Connection) -> None:
    """The read-only login of sql/mssql/readonly-login.sql, as far as PostgreSQL can take it: the
    login and user are a role here (CREATE LOGIN and CREATE USER have no PostgreSQL form), the
    script's own GRANT is transpiled and run, and PostgreSQL's schema USAGE, which SQL Server does
    not need, is added. The view reads the tables with its owner's rights, as ownership chaining
    lets it on SQL Server."""
    variables = {"Database": "Impromed", "View": VIEW, "Login": READER, "Password": READER_PASSWORD}
    grants = [b for b in tsql_batches(LOGIN_SQL, variables) if b.upper().startswith("GRANT")]
    assert len(grants) == 1, grants
    cursor = connection.cursor()
    if not cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = ?", READER).fetchall():
        cursor.execute(f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}' NOSUPERUSER NOINHERIT")
    cursor.execute(f"GRANT USAGE ON SCHEMA vetmwl TO {READER}")
    for statement in postgres_statements(grants[0]):
        cursor.execute(statement)
    cursor.close()


def build(connection_string: str, today: date) -> None:
    """The whole ImproMed-shaped database: tables, clinic, the transpiled script, the site's rows, the reader."""
    with pyodbc.connect(connection_string, autocommit=True) as connection:
        cursor = connection.cursor()
        # The owner CREATE SCHEMA ... AUTHORIZATION dbo names (roles belong to the whole cluster).
        if not cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = 'dbo'").fetchall():
            cursor.execute("CREATE ROLE dbo NOLOGIN")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                cursor.execute(statement)
        cursor.close()
        fill(connection, today)
        run_view_script(connection)
        fill_site_tables(connection)
        grant_reader(connection)
