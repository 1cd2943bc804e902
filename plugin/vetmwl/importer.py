"""Import worklist items from JSON into the reference schema, in any of the dialects.

Each item has the shape of the ``Tags`` of Orthanc's ``POST /worklists/create``: DICOM keywords as
keys, with ``ScheduledProcedureStepSequence`` holding exactly one item. Every item is validated
first (keyword, VR, length, dates); if any is bad, nothing at all is loaded and each bad item is
reported by position and reason. Good files load in one transaction.

Usage: ``python -m vetmwl.importer --dialect sqlite --connection "Driver=SQLite3;Database=x.db"
[--create-schema] [--replace] items.json`` (a JSON array, or one JSON object per line).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydicom import config as pydicom_config
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.valuerep import validate_value

from .codes import CODE_ITEM_KEYWORDS
from .config import DEFAULT_TEMPLATE_DIR, DIALECTS, IDENTIFIER
from .contract import (
    BREED_CODE,
    BREED_SEQUENCE,
    COLUMN_BY_NAME,
    COLUMNS,
    REGISTRATION_NUMBER,
    REGISTRATION_SEQUENCE,
    REGISTRY_CODE,
    REGISTRY_SEQUENCE,
    SPECIES_CODE,
    SPECIES_SEQUENCE,
    START_DATE,
    START_DATETIME,
    START_TIME,
    CodeColumns,
    Kind,
    Level,
)
from .dicomtime import ValueFormatError, parse_date, parse_time_span
from .sqlrender import SqlRenderer, bind_value

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "sql" / "schema"
SPS = "ScheduledProcedureStepSequence"
#: Keys accepted but not stored: derived by the plugin, or meaningless in a JSON file.
_IGNORED = {"SpecificCharacterSet", "ResponsiblePersonRole"}
_ROOT = {c.name for c in COLUMNS if c.level is Level.ROOT}
_STEP = {c.name for c in COLUMNS if c.level is Level.STEP} - {START_DATETIME} | {START_DATE, START_TIME}
_REQUIRED = ("PatientName", "PatientID")
#: Root code sequences and the columns their single item goes to.
_CODE_SEQUENCES = {SPECIES_SEQUENCE: SPECIES_CODE, BREED_SEQUENCE: BREED_CODE}
_REQUIRED_STEP = ("ScheduledProcedureStepID", "Modality", START_DATE)


class ItemError(ValueError):
    """One item cannot be loaded; the message names the key and the reason."""


@dataclass(frozen=True)
class Problem:
    position: int  # 1-based, as a person counts items in a file
    reason: str

    def __str__(self) -> str:
        return f"item {self.position}: {self.reason}"


def _check_vr(keyword: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ItemError(f"{keyword}: value must be text, not {type(value).__name__}")
    text = str(value).strip()
    vr = dictionary_VR(tag_for_keyword(keyword))
    try:
        validate_value(vr, text, pydicom_config.RAISE)
    except ValueError as exc:
        raise ItemError(f"{keyword}: {exc}".split(" Please see")[0]) from None
    return text


def item_to_row(item: Any) -> dict[str, Any]:
    """Validate one JSON item and turn it into a row of the reference table."""
    if not isinstance(item, dict):
        raise ItemError(f"an item must be a JSON object, not {type(item).__name__}")
    unknown = sorted(set(item) - _ROOT - _IGNORED - {SPS} - set(_CODE_SEQUENCES) - {REGISTRATION_SEQUENCE})
    if unknown:
        raise ItemError(f"unknown or unsupported key(s): {', '.join(unknown)}")
    steps = item.get(SPS)
    if not isinstance(steps, list) or len(steps) != 1 or not isinstance(steps[0], dict):
        raise ItemError(f"{SPS} must be a list holding exactly one object")
    step = steps[0]
    unknown = sorted(set(step) - _STEP)
    if unknown:
        raise ItemError(f"{SPS}: unknown or unsupported key(s): {', '.join(unknown)}")
    for keyword in _REQUIRED:
        if not str(item.get(keyword) or "").strip():
            raise ItemError(f"{keyword} is required")
    for keyword in _REQUIRED_STEP:
        if not str(step.get(keyword) or "").strip():
            raise ItemError(f"{SPS}: {keyword} is required")

    row: dict[str, Any] = {}
    for keyword, columns in _CODE_SEQUENCES.items():
        if keyword in item:
            row.update(_code_columns(keyword, _single_item(keyword, item[keyword]), columns))
    if REGISTRATION_SEQUENCE in item:
        row.update(_registration_columns(_single_item(REGISTRATION_SEQUENCE, item[REGISTRATION_SEQUENCE])))
    for source in (item, step):
        for keyword, value in source.items():
            skipped = (SPS, REGISTRATION_SEQUENCE, START_DATE, START_TIME, *_CODE_SEQUENCES)
            if keyword in _IGNORED or keyword in skipped:
                continue
            if value is None or value == "":
                row[keyword] = None
                continue
            text = _check_vr(keyword, value)
            kind = COLUMN_BY_NAME[keyword].kind
            if kind is Kind.DATE:
                try:
                    row[keyword] = parse_date(text)
                except ValueFormatError as exc:
                    raise ItemError(f"{keyword}: {exc}") from None
            elif kind is Kind.DECIMAL:
                try:
                    row[keyword] = Decimal(text)
                except InvalidOperation:
                    raise ItemError(f"{keyword}: {text!r} is not a number") from None
            else:
                row[keyword] = text
    try:
        day = parse_date(_check_vr(START_DATE, step[START_DATE]))
        time_text = str(step.get(START_TIME) or "").strip()
        offset = parse_time_span(_check_vr(START_TIME, time_text))[0] if time_text else None
    except ValueFormatError as exc:
        raise ItemError(f"{SPS}: {exc}") from None
    start = datetime.combine(day, datetime.min.time())
    row[START_DATETIME] = start + offset if offset else start
    return row


def _single_item(keyword: str, value: Any) -> dict[str, Any] | None:
    """The one item of a code or registration sequence; None for an empty list (no code)."""
    if value is None or value == []:
        return None
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise ItemError(f"{keyword} must be a list holding at most one object")
    return value[0]


def _code_columns(keyword: str, code: dict[str, Any] | None, columns: CodeColumns) -> dict[str, Any]:
    """A code item (CodeValue, CodingSchemeDesignator, CodeMeaning: all three) as its three columns."""
    if code is None:
        return {columns.value: None, columns.scheme: None, columns.meaning: None}
    unknown = sorted(set(code) - set(CODE_ITEM_KEYWORDS))
    if unknown:
        raise ItemError(f"{keyword}: unknown or unsupported key(s): {', '.join(unknown)}")
    missing = [k for k in CODE_ITEM_KEYWORDS if not str(code.get(k) or "").strip()]
    if missing:
        raise ItemError(
            f"{keyword}: a code needs CodeValue, CodingSchemeDesignator and CodeMeaning; {missing[0]} is missing"
        )
    texts = [_check_vr(k, code[k]) for k in CODE_ITEM_KEYWORDS]
    return dict(zip((columns.value, columns.scheme, columns.meaning), texts, strict=True))


def _registration_columns(registration: dict[str, Any] | None) -> dict[str, Any]:
    """A Breed Registration Sequence item: the number, and the registry's code if given."""
    if registration is None:
        return {REGISTRATION_NUMBER: None} | _code_columns(REGISTRY_SEQUENCE, None, REGISTRY_CODE)
    unknown = sorted(set(registration) - {REGISTRATION_NUMBER, REGISTRY_SEQUENCE})
    if unknown:
        raise ItemError(f"{REGISTRATION_SEQUENCE}: unknown or unsupported key(s): {', '.join(unknown)}")
    if not str(registration.get(REGISTRATION_NUMBER) or "").strip():
        raise ItemError(f"{REGISTRATION_SEQUENCE}: {REGISTRATION_NUMBER} is required")
    number = _check_vr(REGISTRATION_NUMBER, registration[REGISTRATION_NUMBER])
    registry = _single_item(REGISTRY_SEQUENCE, registration.get(REGISTRY_SEQUENCE))
    return {REGISTRATION_NUMBER: number} | _code_columns(REGISTRY_SEQUENCE, registry, REGISTRY_CODE)


def read_items(text: str) -> list[Any]:
    """A JSON array of items, or one JSON object per line."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        return json.loads(stripped)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def validate(items: Iterable[Any]) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Rows for all items, and a problem for each bad one (including duplicate SPS IDs)."""
    rows, problems, seen = [], [], {}
    for position, item in enumerate(items, start=1):
        try:
            row = item_to_row(item)
        except ItemError as exc:
            problems.append(Problem(position, str(exc)))
            continue
        step_id = row["ScheduledProcedureStepID"]
        if step_id in seen:
            problems.append(Problem(position, f"ScheduledProcedureStepID {step_id!r} repeats item {seen[step_id]}"))
            continue
        seen[step_id] = position
        rows.append(row)
    return rows, problems


def schema_statements(dialect: str) -> list[str]:
    """The reference DDL of a dialect, split into statements."""
    text = (SCHEMA_DIR / f"{dialect}.sql").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def load(connection: Any, dialect: str, table: str, rows: list[dict[str, Any]], replace: bool) -> None:
    """Insert rows in one transaction: all of them or, on any error, none."""
    renderer = SqlRenderer(DEFAULT_TEMPLATE_DIR, "insert.sql.j2", dialect, table)
    columns = [c.name for c in COLUMNS]
    sql = renderer.render_named("insert.sql.j2", columns=columns)
    cursor = connection.cursor()
    try:
        if replace:
            cursor.execute(f"DELETE FROM {table}")  # table is a validated identifier
        for row in rows:
            cursor.execute(sql, *[_param(row.get(name), dialect) for name in columns])
        connection.commit()
    except Exception:
        connection.rollback()
        raise


def _param(value: Any, dialect: str) -> Any:
    if isinstance(value, Decimal):
        return str(value) if dialect == "sqlite" else value
    if isinstance(value, date | datetime):
        return bind_value(value, dialect, bound=False)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vetmwl-import", description=__doc__.split("\n\n")[1])
    parser.add_argument("file", help="JSON file of worklist items, or - for standard input")
    parser.add_argument("--dialect", required=True, choices=DIALECTS)
    parser.add_argument("--connection", required=True, help="ODBC connection string")
    parser.add_argument("--table", default="worklist", help="table to fill (default: worklist)")
    parser.add_argument("--create-schema", action="store_true", help="create the reference table first")
    parser.add_argument("--replace", action="store_true", help="delete all existing rows first")
    args = parser.parse_args(argv)

    if not IDENTIFIER.match(args.table):
        parser.error(f"--table {args.table!r} is not a table name")
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    try:
        items = read_items(text)
    except json.JSONDecodeError as exc:
        print(f"error: {args.file} is not valid JSON: {exc}", file=sys.stderr)
        return 2
    rows, problems = validate(items)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"nothing imported: {len(problems)} of {len(items)} item(s) are invalid", file=sys.stderr)
        return 1

    import pyodbc

    from .db import explain

    try:
        connection = pyodbc.connect(args.connection, autocommit=False)
        if args.create_schema:
            cursor = connection.cursor()
            for statement in schema_statements(args.dialect):
                cursor.execute(statement)
            connection.commit()
        load(connection, args.dialect, args.table, rows, args.replace)
    except pyodbc.Error as exc:
        print(f"error: nothing imported: {explain(exc, args.connection)}", file=sys.stderr)
        return 3
    print(f"imported {len(rows)} worklist item(s) into {args.table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
