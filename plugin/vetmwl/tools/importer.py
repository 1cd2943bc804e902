"""Import worklist items from JSON into the worklist table, in any of the dialects.

Each item has the shape of the ``Tags`` of Orthanc's ``POST /worklists/create``: DICOM keywords (or
public tags ``gggg,eeee``) as keys, with ``ScheduledProcedureStepSequence`` holding exactly one
item. Any public attribute of the DICOM dictionary is accepted: an attribute goes to the column
named after it when the table has one, and every other one to the catch-all column of DICOM JSON,
so nothing is lost. Every item is validated first (keyword, VR, length, dates); if any is bad,
nothing at all is loaded and each bad item is reported by position and reason. Good files load in
one transaction.

Usage: ``python -m vetmwl.tools.importer --dialect sqlite --connection "Driver=SQLite3;Database=x.db"
[--create-schema] [--replace] [--table worklist] items.json`` (a JSON array, or one JSON object per
line, in UTF-8).

Exit status: 0 imported; 1 some items are bad (each reported by position, nothing imported); 2 the
file cannot be read as items (missing, not UTF-8, not JSON, nested too deeply); 3 the import cannot
run (the plugin's sql folder, the database, the table). Every error is one line, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydicom import config as pydicom_config
from pydicom.datadict import dictionary_VM, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.valuerep import validate_value

from ..config import IDENTIFIER, SQL_DIR_VARIABLE, sql_dir
from ..dialects import DIALECTS
from ..dicomtime import ValueFormatError, parse_date, parse_datetime_span, parse_time_span
from ..model import (
    BREED_CODE,
    BREED_SEQUENCE,
    CATCH_ALL,
    CHARACTER_SET,
    CODE_COLUMNS,
    CODE_ITEM_KEYWORDS,
    INTEGER_VRS,
    KEEP_LEADING_SPACES,
    MODALITY,
    REGISTRATION_NUMBER,
    REGISTRATION_SEQUENCE,
    REGISTRY_CODE,
    REGISTRY_SEQUENCE,
    REQUIRED_COLUMNS,
    ROOT_ATTRIBUTES,
    SPECIES_CODE,
    SPECIES_SEQUENCE,
    SPS_SEQUENCE,
    START_DATE,
    START_DATETIME,
    START_TIME,
    STEP_ATTRIBUTES,
    CodeColumns,
    Level,
    Source,
    dictionary_vr,
    level_of,
    source_of,
)
from ..sqlrender import render_template

SPS = SPS_SEQUENCE
SPS_TAG = "00400100"

#: The columns of the reference table (``sql/schema/*.sql``, the same in every dialect), in order.
REFERENCE_COLUMNS: tuple[str, ...] = (
    # Scheduled Procedure Step
    "ScheduledProcedureStepID",
    START_DATETIME,
    MODALITY,
    "ScheduledStationAETitle",
    "ScheduledStationName",
    "ScheduledProcedureStepLocation",
    "ScheduledProcedureStepDescription",
    "ScheduledPerformingPhysicianName",
    "ScheduledProcedureStepStatus",
    "PreMedication",
    "RequestedContrastAgent",
    "CommentsOnTheScheduledProcedureStep",
    "ScheduledProtocolCodeSequence",
    # Requested Procedure and Imaging Service Request
    "RequestedProcedureID",
    "RequestedProcedureDescription",
    "RequestedProcedurePriority",
    "RequestedProcedureCodeSequence",
    "AccessionNumber",
    "StudyInstanceUID",
    "StudyDescription",
    "ReferencedStudySequence",
    "ReferringPhysicianName",
    "RequestingPhysician",
    # Visit
    "AdmissionID",
    "CurrentPatientLocation",
    "ReferencedPatientSequence",
    # Patient (the animal) and its owner
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientSize",
    "PatientWeight",
    "PatientSpeciesDescription",
    *SPECIES_CODE,
    "PatientBreedDescription",
    *BREED_CODE,
    REGISTRATION_NUMBER,
    *REGISTRY_CODE,
    "PatientSexNeutered",
    "ResponsiblePerson",
    "ResponsiblePersonRole",
    "ResponsibleOrganization",
    "PatientComments",
    "MedicalAlerts",
    "Allergies",
    "SpecialNeeds",
    "PatientState",
    # Everything else, as DICOM JSON
    CATCH_ALL,
)

#: Keys accepted but not stored: JSON text is Unicode, whatever character set the item names.
_NOT_STORED = {CHARACTER_SET}
_REQUIRED = ("PatientName", "PatientID")
_REQUIRED_STEP = ("ScheduledProcedureStepID", MODALITY, START_DATE)
#: VRs whose value is one text that may hold backslashes (never split into several values).
_SINGLE_TEXT_VRS = frozenset({"LT", "ST", "UT", "UR"})
_FLOAT_VRS = frozenset({"FL", "FD"})
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
#: Groups that are not part of a dataset: command, file meta information, item delimiters.
_NOT_DATASET_GROUPS = frozenset({0x0000, 0x0002, 0xFFFE})
#: Every name a column of the plugin can have: attributes of the model and the special columns.
_KNOWN_COLUMNS = {
    name.lower(): name
    for name in (*ROOT_ATTRIBUTES, *STEP_ATTRIBUTES, *CODE_COLUMNS, CATCH_ALL)
    if source_of(name) is not None
}


class ItemError(ValueError):
    """One item cannot be loaded; the message names the key and the reason."""


class TableError(ValueError):
    """The table cannot take worklist items (a required column is missing)."""


@dataclass(frozen=True)
class Problem:
    position: int  # 1-based, as a person counts items in a file
    reason: str

    def __str__(self) -> str:
        return f"item {self.position}: {self.reason}"


# -- the table's columns ---------------------------------------------------------------------------
@dataclass(frozen=True)
class NumberLimit:
    """What a DECIMAL(precision, scale) column keeps, as its driver describes it."""

    precision: int
    scale: int


@dataclass(frozen=True)
class Columns:
    """The columns of the target table that the importer fills, by the keyword they are named after.

    ``names`` maps each keyword (as spelled in :mod:`vetmwl.model`) to the table's own spelling of
    the name; columns named after nothing the plugin reads are not listed, and stay unfilled.
    """

    names: dict[str, str]
    numbers: dict[str, NumberLimit] = field(default_factory=dict)

    @classmethod
    def of(cls, names: Iterable[str], numbers: dict[str, NumberLimit] | None = None) -> Columns:
        """The table's columns from their names, compared case-insensitively (PostgreSQL folds them)."""
        known = {}
        for name in names:
            keyword = _KNOWN_COLUMNS.get(name.lower())
            if keyword is not None:
                known[keyword] = name
        limits = {_KNOWN_COLUMNS[n.lower()]: v for n, v in (numbers or {}).items() if n.lower() in _KNOWN_COLUMNS}
        return cls(known, limits)

    def __contains__(self, keyword: object) -> bool:
        return keyword in self.names

    def missing_required(self) -> list[str]:
        return [name for name in REQUIRED_COLUMNS if name not in self.names]

    def has_code(self, columns: CodeColumns) -> bool:
        return all(name in self.names for name in columns)


REFERENCE = Columns.of(REFERENCE_COLUMNS)


def discover_columns(connection: Any, dialect: str, table: str) -> Columns:
    """The table's columns, read from a query that returns no rows (as the plugin finds them)."""
    cursor = connection.cursor()
    cursor.execute(_render("columns.sql.j2", dialect, table))
    names, numbers = [], {}
    for description in cursor.description or ():
        name, type_code, _display, _internal, precision, scale = description[:6]
        names.append(name)
        if type_code is Decimal and precision:
            numbers[name] = NumberLimit(int(precision), int(scale or 0))
    cursor.close()
    columns = Columns.of(names, numbers)
    missing = columns.missing_required()
    if missing:
        raise TableError(f"the table {table} lacks the required column(s) {', '.join(missing)}")
    return columns


# -- one item as a DICOM dataset -------------------------------------------------------------------
def _attribute(key: str, where: str) -> tuple[int, str, str]:
    """(tag, keyword, VR) of a key: a keyword, or a public tag ``gggg,eeee``."""
    tag = tag_for_keyword(key)
    if tag is None:
        text = key.strip().strip("()").replace(",", "")
        if len(text) != 8 or any(c not in "0123456789abcdefABCDEF" for c in text):
            raise ItemError(f"{where}{key}: unknown key (neither a DICOM keyword nor a tag gggg,eeee)")
        tag = int(text, 16)
        name = f"({text[:4].upper()},{text[4:].upper()})"
        if (tag >> 16) % 2:
            raise ItemError(
                f"{where}{key}: {name} is a private attribute; only public attributes of the DICOM dictionary"
                " are accepted"
            )
    vr = dictionary_vr(tag)
    if vr is None:
        raise ItemError(f"{where}{key}: {_tag_text(tag)} is not an attribute of the DICOM dictionary")
    keyword = keyword_for_tag(tag) or _tag_text(tag)
    if tag >> 16 in _NOT_DATASET_GROUPS:
        raise ItemError(f"{where}{key}: {keyword} is not an attribute of a worklist item")
    if vr in _BINARY_VRS:
        raise ItemError(f"{where}{key}: binary values (VR {vr}) are not supported")
    return tag, keyword, vr


def _tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _texts(keyword: str, tag: int, vr: str, value: Any) -> list[str]:
    """The values of one attribute as text (backslash-separated in the JSON), each one validated."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        kind = "text or a number" if vr in INTEGER_VRS | _FLOAT_VRS | {"DS"} else "text"
        hint = " (several values are one text, separated by backslashes)" if isinstance(value, list) else ""
        raise ItemError(f"{keyword}: value must be {kind}, not {type(value).__name__}{hint}")
    if not isinstance(value, str):
        if vr not in INTEGER_VRS | _FLOAT_VRS | {"DS"}:
            raise ItemError(f"{keyword}: value must be text, not a number ({vr} is not a numeric VR)")
        if vr in INTEGER_VRS and not isinstance(value, int):
            raise ItemError(f"{keyword}: {value!r} is not an integer ({vr})")
        value = str(value)
    parts = [value] if vr in _SINGLE_TEXT_VRS else value.split("\\")
    parts = [p.rstrip(" ") if vr in KEEP_LEADING_SPACES else p.strip(" ") for p in parts]
    if len(parts) == 1 and not parts[0]:
        return []
    if len(parts) > 1 and dictionary_VM(tag) == "1":
        raise ItemError(f"{keyword}: holds {len(parts)} values separated by backslashes, but takes one")
    for part in parts:
        _check_value(keyword, vr, part)
    return parts


def _check_value(keyword: str, vr: str, text: str) -> None:
    try:
        if vr in INTEGER_VRS | _FLOAT_VRS and vr != "IS":
            try:
                number = int(text) if vr in INTEGER_VRS else float(text)
            except ValueError:
                raise ItemError(f"{keyword}: {text!r} is not a number of VR {vr}") from None
            validate_value(vr, number, pydicom_config.RAISE)
        else:
            validate_value(vr, text, pydicom_config.RAISE)
        if vr == "DA":
            parse_date(text)
        elif vr == "TM":
            parse_time_span(text)
        elif vr == "DT":
            parse_datetime_span(text)
    except ItemError:
        raise
    except ValueFormatError as exc:
        raise ItemError(f"{keyword}: {exc}") from None
    except ValueError as exc:
        raise ItemError(f"{keyword}: {exc}".split(" Please see")[0]) from None


def _element_value(vr: str, texts: list[str]) -> Any:
    values: list[Any] = texts
    if vr in INTEGER_VRS and vr != "IS":
        values = [int(t) for t in texts]
    elif vr in _FLOAT_VRS:
        values = [float(t) for t in texts]
    return values[0] if len(values) == 1 else values


def item_dataset(obj: Any, where: str = "") -> Dataset:
    """One item (or a sequence item, ``where`` naming it) as a pydicom Dataset, validated.

    Empty and null values mean "unknown" and are left out, as are empty sequences; Specific
    Character Set is accepted and dropped (the JSON is Unicode).
    """
    if not isinstance(obj, dict):
        raise ItemError(f"{where}an item must be a JSON object, not {type(obj).__name__}")
    dataset = Dataset()
    seen: set[int] = set()
    for key, value in obj.items():
        tag, keyword, vr = _attribute(key, where)
        if tag in seen:
            raise ItemError(f"{where}{keyword} is given twice")
        seen.add(tag)
        if keyword in _NOT_STORED or value is None or value == "":
            continue
        if vr == "SQ":
            if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
                raise ItemError(f"{where}{keyword}: a sequence must be a list of objects")
            items = [item_dataset(i, f"{where}{keyword} item {n}: ") for n, i in enumerate(value, start=1)]
            if items:
                dataset.add(DataElement(tag, vr, DicomSequence(items)))
            continue
        texts = _texts(f"{where}{keyword}", tag, vr, value)
        if texts:
            dataset.add(DataElement(tag, vr, _element_value(vr, texts)))
    ordered = Dataset()  # in tag order, so that the DICOM JSON is too
    for tag in sorted(dataset.keys()):
        ordered.add(dataset[tag])
    return ordered


def _worklist_dataset(item: Any) -> Dataset:
    """A whole worklist item as a Dataset, its step checked: one SPS item and the required keys."""
    if not isinstance(item, dict):
        raise ItemError(f"an item must be a JSON object, not {type(item).__name__}")
    steps = item.get(SPS)
    if not isinstance(steps, list) or len(steps) != 1 or not isinstance(steps[0], dict):
        raise ItemError(f"{SPS} must be a list holding exactly one object")
    if START_DATETIME in steps[0]:
        raise ItemError(
            f"{SPS}: {START_DATETIME} is not taken: give {START_DATE} and {START_TIME}, which its column holds"
        )
    root = item_dataset({k: v for k, v in item.items() if k != SPS})
    step = item_dataset(steps[0])
    for keyword in _REQUIRED:
        if keyword not in root:
            raise ItemError(f"{keyword} is required")
    for keyword in _REQUIRED_STEP:
        if keyword not in step:
            raise ItemError(f"{SPS}: {keyword} is required")
    root.ScheduledProcedureStepSequence = [step]
    return root


# -- a dataset as a row ----------------------------------------------------------------------------
def _column_value(element: DataElement, keyword: str, columns: Columns) -> Any:
    """The value of one attribute as its column stores it."""
    vr = element.VR
    if vr == "SQ":
        return _json([item.to_json_dict() for item in element.value])
    values = list(element.value) if element.VM > 1 else [element.value]
    if vr in ("DA", "DT", "DS", "IS") or vr in INTEGER_VRS | _FLOAT_VRS:
        if len(values) > 1:
            raise ItemError(f"{keyword}: holds {len(values)} values, which its {vr} column cannot keep")
        text = str(values[0])
        if vr == "DA":
            return parse_date(text)
        if vr == "DT":
            if text[-5:-4] in ("+", "-"):
                raise ItemError(f"{keyword}: {text!r} has a UTC offset, which its date-time column does not keep")
            return parse_datetime_span(text)[0]
        if vr == "DS":
            return _decimal(keyword, text, columns.numbers.get(keyword))
        return int(text) if vr in INTEGER_VRS else float(text)
    if vr == "TM":
        return "\\".join(_time_text(parse_time_span(str(v))[0]) for v in values)
    if vr == "AT":
        return "\\".join(f"{int(v):08X}" for v in values)
    return "\\".join(str(v) for v in values)


def _decimal(keyword: str, text: str, limit: NumberLimit | None) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ItemError(f"{keyword}: {text!r} is not a number") from None
    if limit is not None:
        exponent = number.as_tuple().exponent
        places = max(0, -exponent) if isinstance(exponent, int) else 0
        if places > limit.scale and number != round(number, limit.scale):
            raise ItemError(f"{keyword}: {text} has more decimal places than its column keeps ({limit.scale})")
        if abs(number) >= Decimal(10) ** (limit.precision - limit.scale):
            raise ItemError(f"{keyword}: {text} is larger than its column keeps")
    return number


def _time_text(offset: timedelta) -> str:
    """A time of day as TM ``HHMMSS``, with ``.ffffff`` when it has a fraction."""
    seconds = int(offset.total_seconds())
    text = f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"
    return f"{text}.{offset.microseconds:06d}" if offset.microseconds else text


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _code_item(item: Dataset) -> tuple[str, str, str] | None:
    """A code item's value, scheme and meaning when it holds exactly those three, one value each."""
    if sorted(e.keyword for e in item) != sorted(CODE_ITEM_KEYWORDS) or any(e.VM != 1 for e in item):
        return None
    return tuple(str(item[k].value) for k in CODE_ITEM_KEYWORDS)  # type: ignore[return-value]


def _code_row(element: DataElement, columns: Columns) -> dict[str, Any] | None:
    """A veterinary code sequence as its code columns, or None when it does not fit them exactly."""
    items = list(element.value)
    if len(items) != 1:
        return None
    if element.keyword in (SPECIES_SEQUENCE, BREED_SEQUENCE):
        target = SPECIES_CODE if element.keyword == SPECIES_SEQUENCE else BREED_CODE
        code = _code_item(items[0])
        if code is None or not columns.has_code(target):
            return None
        return dict(zip(target, code, strict=True))
    registration = items[0]
    if REGISTRATION_NUMBER not in columns or REGISTRATION_NUMBER not in registration:
        return None
    if set(e.keyword for e in registration) - {REGISTRATION_NUMBER, REGISTRY_SEQUENCE}:
        return None
    number = registration[REGISTRATION_NUMBER]
    if number.VM != 1:
        return None
    row: dict[str, Any] = {REGISTRATION_NUMBER: str(number.value)}
    if REGISTRY_SEQUENCE in registration:
        registries = list(registration[REGISTRY_SEQUENCE].value)
        code = _code_item(registries[0]) if len(registries) == 1 else None
        if code is None or not columns.has_code(REGISTRY_CODE):
            return None
        row.update(zip(REGISTRY_CODE, code, strict=True))
    return row


def _place(element: DataElement, level: Level, columns: Columns, row: dict[str, Any]) -> bool:
    """Put an attribute into its column; False when it has none (it then goes to the catch-all)."""
    keyword = element.keyword
    if keyword in columns and level_of(keyword) is level and source_of(keyword) in (Source.VALUE, Source.JSON_SEQUENCE):
        row[keyword] = _column_value(element, keyword, columns)
        return True
    if level is Level.ROOT and keyword in (SPECIES_SEQUENCE, BREED_SEQUENCE, REGISTRATION_SEQUENCE):
        codes = _code_row(element, columns)
        if codes is not None:
            row.update(codes)
            return True
    return False


def dataset_to_row(dataset: Dataset, columns: Columns = REFERENCE) -> dict[str, Any]:
    """A validated item as a row: each attribute in its column, the others in the catch-all."""
    step = dataset[SPS].value[0]
    row: dict[str, Any] = {}
    rest_root, rest_step = Dataset(), Dataset()
    for element in dataset:
        if element.keyword != SPS and not _place(element, Level.ROOT, columns, row):
            rest_root.add(element)
    for element in step:
        if element.keyword in (START_DATE, START_TIME):
            continue
        if not _place(element, Level.STEP, columns, row):
            rest_step.add(element)
    day = parse_date(str(step[START_DATE].value))
    start = datetime.combine(day, datetime.min.time())
    if START_TIME in step:
        start += parse_time_span(str(step[START_TIME].value))[0]
    row[START_DATETIME] = start
    if rest_step:
        rest_root.ScheduledProcedureStepSequence = [rest_step]
    if rest_root:
        if CATCH_ALL not in columns:
            names = [e.keyword or _tag_text(e.tag) for e in rest_root if e.keyword != SPS]
            names += [f"{SPS} > {e.keyword or _tag_text(e.tag)}" for e in rest_step]
            raise ItemError(
                f"the table has no column for {', '.join(names)}, and no {CATCH_ALL} column to hold the rest"
            )
        row[CATCH_ALL] = _json(rest_root.to_json_dict())
    return row


def item_to_row(item: Any, columns: Columns = REFERENCE) -> dict[str, Any]:
    """Validate one JSON item and turn it into a row of the table (the reference table by default).

    The row maps keywords (the model's spelling) to values; attributes the item does not give are
    left out (NULL).
    """
    return dataset_to_row(_worklist_dataset(item), columns)


def read_items(text: str) -> list[Any]:
    """A JSON array of items, or one JSON object per line."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        return json.loads(stripped)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def check(items: Iterable[Any]) -> tuple[list[tuple[int, Dataset]], list[Problem]]:
    """Each good item as (position, Dataset), and a problem for each bad one (duplicate SPS IDs too).

    This needs no table: what does not depend on the table's columns is checked here.
    """
    datasets, problems, seen = [], [], {}
    for position, item in enumerate(items, start=1):
        try:
            dataset = _worklist_dataset(item)
        except ItemError as exc:
            problems.append(Problem(position, str(exc)))
            continue
        step_id = str(dataset[SPS].value[0].ScheduledProcedureStepID)
        if step_id in seen:
            problems.append(Problem(position, f"ScheduledProcedureStepID {step_id!r} repeats item {seen[step_id]}"))
            continue
        seen[step_id] = position
        datasets.append((position, dataset))
    return datasets, problems


def to_rows(datasets: Sequence[tuple[int, Dataset]], columns: Columns) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Rows of the table for checked items, and a problem for each that the table cannot hold."""
    rows, problems = [], []
    for position, dataset in datasets:
        try:
            rows.append(dataset_to_row(dataset, columns))
        except ItemError as exc:
            problems.append(Problem(position, str(exc)))
    return rows, problems


def validate(items: Iterable[Any], columns: Columns = REFERENCE) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Rows for all items, and a problem for each bad one (including duplicate SPS IDs)."""
    datasets, problems = check(items)
    rows, more = to_rows(datasets, columns)
    return rows, sorted(problems + more, key=lambda p: p.position)


# -- the database ----------------------------------------------------------------------------------
def schema_statements(dialect: str, folder: Path | None = None) -> list[str]:
    """The reference DDL of a dialect, split into statements (``folder``: the sql folder, see config.sql_dir)."""
    text = (sql_dir(folder) / "schema" / f"{dialect}.sql").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _render(template: str, dialect: str, table: str, folder: Path | None = None, **context: Any) -> str:
    return render_template(sql_dir(folder) / "queries", template, dialect, view=table, **context)


def insert_sql(dialect: str, table: str, columns: Sequence[str], folder: Path | None = None) -> str:
    """The INSERT of one row into ``columns`` (names as the table spells them), values as ``?``."""
    return _render("insert.sql.j2", dialect, table, folder, columns=list(columns))


def load(
    connection: Any,
    dialect: str,
    table: str,
    rows: list[dict[str, Any]],
    replace: bool,
    columns: Columns | None = None,
    folder: Path | None = None,
) -> None:
    """Insert rows in one transaction: all of them or, on any error, none.

    ``columns`` are the table's (found with :func:`discover_columns` when not given); a row may fill
    any of them, and the others are left NULL.
    """
    columns = columns or discover_columns(connection, dialect, table)
    used = [name for name in columns.names if any(name in row for row in rows)]
    unknown = sorted({key for row in rows for key in row} - set(columns.names))
    if unknown:
        raise TableError(f"the table {table} has no column(s) {', '.join(unknown)}")
    sql = insert_sql(dialect, table, [columns.names[name] for name in used], folder)
    encoding = DIALECTS[dialect].text_encoding
    if encoding:
        # MariaDB Connector/ODBC 3.1 (Debian 12's 3.1.15) loses characters of a UTF-16 parameter
        # longer than about 100 characters, which pyodbc sends in pieces (SQLPutData): 200 became
        # 199. Parameters sent as UTF-8 arrive whole.
        connection.setencoding(encoding=encoding)
    cursor = connection.cursor()
    try:
        if replace:
            cursor.execute(f"DELETE FROM {table}")  # table is a validated identifier
        for row in rows:
            cursor.execute(sql, *[_param(row.get(name), dialect) for name in used])
        connection.commit()
    except Exception:
        connection.rollback()
        raise


def _param(value: Any, dialect: str) -> Any:
    """A value as the dialect stores it: SQLite keeps dates, date-times and decimals as text."""
    facts = DIALECTS[dialect]
    if facts.dates_as_text and isinstance(value, Decimal):
        return str(value)
    return facts.bind_value(value, bound=False)


def _report(problems: list[Problem], total: int) -> None:
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    print(f"nothing imported: {len(problems)} of {total} item(s) are invalid", file=sys.stderr)


#: Exit statuses: the items are bad (each reported); the file cannot be read as items; the import
#: cannot run (the sql folder, the database, the table). Nothing is imported unless 0.
BAD_ITEMS, BAD_FILE, CANNOT_RUN = 1, 2, 3
#: The deepest JSON nesting accepted: a worklist item's sequences nest a few levels (each one an
#: array, an object and maybe a DICOM JSON "Value"), never dozens.
MAX_DEPTH = 32


class ItemsFileError(Exception):
    """What is wrong with the items file as a whole, in one sentence."""


def read_file(name: str) -> list[Any]:
    """The items of the file ``name`` ("-": standard input), or ItemsFileError saying why not."""
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except FileNotFoundError:
        raise ItemsFileError(f"{name} does not exist") from None
    except IsADirectoryError:
        raise ItemsFileError(f"{name} is a folder, not a file of items") from None
    except OSError as exc:
        raise ItemsFileError(f"{name} cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ItemsFileError(f"{name} is not UTF-8 text (line {line}): save it as UTF-8") from None
    depth = deep_json(text)
    if depth > MAX_DEPTH:
        raise ItemsFileError(f"{name} nests JSON {depth} levels deep; worklist items need at most {MAX_DEPTH}")
    try:
        items = read_items(text)
    except json.JSONDecodeError as exc:
        raise ItemsFileError(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(items, list):
        raise ItemsFileError(f"{name} holds neither a JSON array of items nor one item per line")
    return items


def deep_json(text: str) -> int:
    """How deep the brackets of JSON ``text`` nest (outside strings), without parsing it: Python's
    parser would recurse once per level."""
    depth = deepest = 0
    for token in re.finditer(r'"(?:\\.|[^"\\])*"|[\[{]|[\]}]', text):
        mark = token[0]
        if mark in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif mark in "]}":
            depth -= 1
    return deepest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vetmwl-import", description=__doc__.split("\n\n")[1])
    parser.add_argument("file", help="JSON file of worklist items, or - for standard input")
    parser.add_argument("--dialect", required=True, choices=DIALECTS)
    parser.add_argument("--connection", required=True, help="ODBC connection string")
    parser.add_argument("--table", default="worklist", help="table to fill (default: worklist)")
    parser.add_argument("--create-schema", action="store_true", help="create the reference table first")
    parser.add_argument("--replace", action="store_true", help="delete all existing rows first")
    parser.add_argument(
        "--sql-dir", type=Path, help="the repository's sql folder (default: $VETMWL_SQL_DIR, else ./sql)"
    )
    args = parser.parse_args(argv)

    if not IDENTIFIER.fullmatch(args.table):
        parser.error(f"--table {args.table!r} is not a table name")
    folder = sql_dir(args.sql_dir)
    if not (folder / "queries" / "insert.sql.j2").is_file() or not (folder / "schema").is_dir():
        print(
            f"error: nothing imported: {folder} is not the plugin's sql folder (no queries/insert.sql.j2 or schema/): "
            f"give --sql-dir or ${SQL_DIR_VARIABLE}",
            file=sys.stderr,
        )
        return CANNOT_RUN
    try:
        items = read_file(args.file)
    except ItemsFileError as exc:
        print(f"error: nothing imported: {exc}", file=sys.stderr)
        return BAD_FILE
    try:
        datasets, problems = check(items)
    except RecursionError:  # a nesting deep_json let through, deeper inside pydicom
        print(f"error: nothing imported: {args.file} nests its items too deeply", file=sys.stderr)
        return BAD_FILE
    if problems:
        _report(problems, len(items))
        return BAD_ITEMS

    import pyodbc

    from ..db import explain

    try:
        connection = pyodbc.connect(args.connection, autocommit=False)
        if args.create_schema:
            cursor = connection.cursor()
            for statement in schema_statements(args.dialect, args.sql_dir):
                cursor.execute(statement)
            connection.commit()
        columns = discover_columns(connection, args.dialect, args.table)
        rows, problems = to_rows(datasets, columns)
        if problems:
            _report(problems, len(items))
            return BAD_ITEMS
        load(connection, args.dialect, args.table, rows, args.replace, columns, args.sql_dir)
    except pyodbc.Error as exc:
        print(f"error: nothing imported: {explain(exc, args.connection)}", file=sys.stderr)
        return CANNOT_RUN
    except TableError as exc:
        print(f"error: nothing imported: {exc}", file=sys.stderr)
        return CANNOT_RUN
    print(f"imported {len(rows)} worklist item(s) into {args.table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
