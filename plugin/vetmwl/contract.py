"""The column contract: which view columns exist and how each maps onto DICOM.

One row of the worklist view is one Scheduled Procedure Step (SPS). Columns carry DICOM keywords,
except ``ScheduledProcedureStepStartDateTime``, which holds SPS Start Date and Time together so that
the combined date-time range of PS3.4 Table K.6-1 becomes one indexed comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Level(Enum):
    """Where an attribute lives in the answer: the dataset root, the single SPS item, or (``ITEM``)
    inside the item of a veterinary code sequence, which the column fills but never names."""

    ROOT = "root"
    STEP = "step"
    ITEM = "item"


class Kind(Enum):
    """The SQL type family of a column, which decides how values are bound and converted."""

    TEXT = "text"
    DATE = "date"
    DATETIME = "datetime"
    DECIMAL = "decimal"


@dataclass(frozen=True)
class Column:
    name: str
    level: Level
    kind: Kind = Kind.TEXT
    required: bool = False


START_DATETIME = "ScheduledProcedureStepStartDateTime"

#: Every column the plugin knows, in SELECT order. ``required`` columns must exist in the view;
#: the others may be missing (their keys are then returned empty and cannot be matched).
COLUMNS: tuple[Column, ...] = (
    # Scheduled Procedure Step
    Column("ScheduledProcedureStepID", Level.STEP, required=True),
    Column(START_DATETIME, Level.STEP, Kind.DATETIME, required=True),
    Column("Modality", Level.STEP, required=True),
    Column("ScheduledStationAETitle", Level.STEP),
    Column("ScheduledStationName", Level.STEP),
    Column("ScheduledProcedureStepLocation", Level.STEP),
    Column("ScheduledProcedureStepDescription", Level.STEP),
    Column("ScheduledPerformingPhysicianName", Level.STEP),
    Column("ScheduledProcedureStepStatus", Level.STEP),
    # Requested Procedure and Imaging Service Request
    Column("RequestedProcedureID", Level.ROOT),
    Column("RequestedProcedureDescription", Level.ROOT),
    Column("RequestedProcedurePriority", Level.ROOT),
    Column("AccessionNumber", Level.ROOT),
    Column("StudyInstanceUID", Level.ROOT),
    Column("StudyDescription", Level.ROOT),
    Column("ReferringPhysicianName", Level.ROOT),
    # Patient (the animal) and its owner
    Column("PatientName", Level.ROOT, required=True),
    Column("PatientID", Level.ROOT, required=True),
    Column("PatientBirthDate", Level.ROOT, Kind.DATE),
    Column("PatientSex", Level.ROOT),
    Column("PatientWeight", Level.ROOT, Kind.DECIMAL),
    Column("PatientSpeciesDescription", Level.ROOT),
    Column("PatientSpeciesCodeValue", Level.ITEM),
    Column("PatientSpeciesCodingSchemeDesignator", Level.ITEM),
    Column("PatientSpeciesCodeMeaning", Level.ITEM),
    Column("PatientBreedDescription", Level.ROOT),
    Column("PatientBreedCodeValue", Level.ITEM),
    Column("PatientBreedCodingSchemeDesignator", Level.ITEM),
    Column("PatientBreedCodeMeaning", Level.ITEM),
    Column("BreedRegistrationNumber", Level.ITEM),
    Column("BreedRegistryCodeValue", Level.ITEM),
    Column("BreedRegistryCodingSchemeDesignator", Level.ITEM),
    Column("BreedRegistryCodeMeaning", Level.ITEM),
    Column("PatientSexNeutered", Level.ROOT),
    Column("ResponsiblePerson", Level.ROOT),
    Column("ResponsibleOrganization", Level.ROOT),
    Column("PatientComments", Level.ROOT),
)

COLUMN_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)

#: DICOM keywords answered from the start date-time column.
START_DATE = "ScheduledProcedureStepStartDate"
START_TIME = "ScheduledProcedureStepStartTime"

#: Keywords that belong inside the Scheduled Procedure Step Sequence item.
STEP_KEYWORDS: frozenset[str] = frozenset(
    {c.name for c in COLUMNS if c.level is Level.STEP} - {START_DATETIME} | {START_DATE, START_TIME}
)
ROOT_KEYWORDS: frozenset[str] = frozenset(c.name for c in COLUMNS if c.level is Level.ROOT) | {"ResponsiblePersonRole"}


@dataclass(frozen=True)
class CodeColumns:
    """The three columns of one coded value (PS3.3 Table 8.8-1: Code Value, Coding Scheme Designator,
    Code Meaning). A code is taken from them only when all three have a value."""

    value: str
    scheme: str
    meaning: str


SPECIES_CODE = CodeColumns(
    "PatientSpeciesCodeValue", "PatientSpeciesCodingSchemeDesignator", "PatientSpeciesCodeMeaning"
)
BREED_CODE = CodeColumns("PatientBreedCodeValue", "PatientBreedCodingSchemeDesignator", "PatientBreedCodeMeaning")
REGISTRY_CODE = CodeColumns("BreedRegistryCodeValue", "BreedRegistryCodingSchemeDesignator", "BreedRegistryCodeMeaning")
REGISTRATION_NUMBER = "BreedRegistrationNumber"

SPECIES_SEQUENCE = "PatientSpeciesCodeSequence"
BREED_SEQUENCE = "PatientBreedCodeSequence"
REGISTRATION_SEQUENCE = "BreedRegistrationSequence"
REGISTRY_SEQUENCE = "BreedRegistryCodeSequence"
#: Root sequences answered from ITEM columns (and, for species and breed, derived from the descriptions).
CODE_SEQUENCES: frozenset[str] = frozenset({SPECIES_SEQUENCE, BREED_SEQUENCE, REGISTRATION_SEQUENCE})
#: Every root keyword an answer can carry a value for: columns, derived keys and code sequences.
ANSWERED_ROOT_KEYWORDS: frozenset[str] = ROOT_KEYWORDS | CODE_SEQUENCES
