"""The site check: is the worklist view ready for the clinic's devices, before the first X-ray?

It reads the same Orthanc configuration as the plugin (a file, or a folder of ``*.json`` files as
Orthanc reads ``/etc/orthanc``), connects as the plugin does, and checks what a wrong view would
only show at the console: the view's columns and their types; today's and the coming days'
steps; SPS IDs given twice; values longer than DICOM allows; keys strict devices refuse an item
without (per calling AE, with the plugin's own per-AE settings and logic); text that was
mis-encoded on its way (Windows-1252 read as Latin-1, UTF-8 read as Windows-1252, ``?`` for lost
characters); weights that look like pounds. With ``--aet`` it then prints the list that device
would receive for the day, made by the plugin's own service (the same code path as a C-FIND).

Usage: ``python -m vetmwl.tools.check [/etc/orthanc | orthanc.json] [--aet DX_ROOM1] [--modality DX]
[--days 3] [--date 2026-12-07]``. Exit status: 0 ready, 1 problems found (one line each, saying what
to change), 2 the database cannot be reached (or the configuration read).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from io import BytesIO
from pathlib import Path
from typing import Any, TextIO

import pydicom
from pydicom.dataset import Dataset

from ..config import SQL_DIR_VARIABLE, ConfigError, Settings, load_settings, orthanc_warnings
from ..dialects import DIALECTS
from ..errors import DatabaseError, InternalError, QueryError
from ..model import (
    CODE_COLUMNS,
    CODE_ITEM_KEYWORDS,
    MAX_LENGTH,
    PATIENT_KEYS,
    REQUIRED_COLUMNS,
    START_DATETIME,
    Source,
    multi_valued,
    vr_of,
)
from ..service import WorklistService
from ..values import ViewColumn
from ..viewcolumns import discover
from ..web.identifiers import file_bytes
from .configuration import read_configuration

READY, PROBLEMS, UNREACHABLE = 0, 1, 2
#: Rows of the view read at most (the date window keeps a clinic's far below).
MAX_ROWS = 10_000
#: What strict devices refuse an item without (one DR console's service manual lists these).
STRICT_KEYS = {
    "PatientName": "Patient Name",
    "PatientID": "Patient ID",
    "StudyInstanceUID": "Study Instance UID",
    "ScheduledStationAETitle": "Scheduled Station AE Title",
    "ScheduledProcedureStepStartDate": "SPS Start Date",
}
_STEP_KEYS = ("ScheduledStationAETitle", "ScheduledProcedureStepStartDate", "ScheduledProcedureStepStartTime",
              "Modality", "ScheduledProcedureStepID", "ScheduledProcedureStepDescription")  # fmt: skip
_ROOT_KEYS = (*PATIENT_KEYS, "PatientSexNeutered", "StudyInstanceUID", "AccessionNumber")
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Heaviest plausible adult weight in kg, and the highest plausible median of a practice's animals,
#: by words of the species' description. A weight above reads as pounds sent as kilograms.
_SPECIES_KG = (
    (("feline", "cat", "cats", "felis", "chat", "katze"), 10.0, 7.0),
    (("canine", "dog", "dogs", "canis", "chien", "hund"), 90.0, 35.0),
    (("rabbit", "lapin", "oryctolagus", "kaninchen"), 8.0, 4.0),
    (("ferret", "furet", "frettchen"), 2.5, 1.8),
    (("guinea", "cavia"), 1.6, 1.2),
    (("equine", "horse", "equus", "pony", "cheval", "pferd"), 1200.0, 750.0),
)
#: Text of the C1 range: a Windows-1252 byte (quotes, dashes, euro sign...) read as Latin-1.
_C1 = re.compile("[\x80-\x9f]")
#: A '?' between two letters: a character the connection could not carry, replaced.
_QUESTION = re.compile(r"[^\W\d_]\?[^\W\d_]")


@dataclass
class Report:
    """What the check found: problems (each a sentence saying what to change) and notes."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: What the AE of ``--aet`` receives, as printed.
    listing: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.problems.append(one_line(text))

    def note(self, text: str) -> None:
        self.notes.append(text)


def one_line(text: str) -> str:
    """Drivers' messages span lines; each problem is printed on one."""
    return " ".join(text.split())


# -- the configuration, as Orthanc reads it -------------------------------------------------------


def default_sql_dir(environ: dict[str, str]) -> Path:
    """Where ``sql/`` is: $VETMWL_SQL_DIR, else beside the plugin as installed (``/opt/vetmwl/sql``,
    the repository's ``sql``), else ``./sql``."""
    if environ.get(SQL_DIR_VARIABLE):
        return Path(environ[SQL_DIR_VARIABLE])
    beside = Path(__file__).resolve().parents[3] / "sql"
    return beside if (beside / "queries").is_dir() else Path("sql")


# -- values: lengths, encodings, weights ----------------------------------------------------------


def column_vr(keyword: str) -> str:
    """The VR of a column's values: its attribute's, or for a code column its code item attribute's."""
    for item in CODE_ITEM_KEYWORDS:
        if keyword.endswith(item) and keyword != item:
            return vr_of(item)
    return vr_of(keyword)


def too_long(keyword: str, text: str) -> int | None:
    """The length of the longest value (PN: component group) beyond what the VR allows, or None."""
    vr = column_vr(keyword)
    limit = MAX_LENGTH.get(vr)
    if limit is None:
        return None
    values = text.split("\\") if keyword in CODE_COLUMNS or multi_valued(keyword) else [text]
    parts = [group for v in values for group in v.split("=")] if vr == "PN" else values
    longest = max((len(p) for p in parts), default=0)
    return longest if longest > limit else None


def mis_encoded(text: str, names: bool) -> str | None:
    """Why ``text`` looks damaged on its way from the database, or None. ``names``: a name or short
    identifier, where a ``?`` between letters is a lost character rather than punctuation."""
    if "\ufffd" in text:
        return "holds the replacement character U+FFFD (a character the connection could not carry)"
    if _C1.search(text):
        return "holds C1 control characters: Windows-1252 text (quotes, dashes, accents) read as Latin-1"
    if not text.isascii():
        for codec in ("cp1252", "latin-1"):
            try:
                repaired = text.encode(codec).decode("utf-8")
            except UnicodeError:
                continue
            if repaired != text:
                return f"reads {repaired!r} once its bytes are taken as UTF-8: UTF-8 text read as {codec}"
    if names and _QUESTION.search(text):
        return "has '?' between letters: a character the connection could not carry was replaced"
    return None


def species_limits(description: str) -> tuple[float, float] | None:
    """(heaviest plausible kg, highest plausible median kg) of a species by its description."""
    words = set(re.findall(r"[a-z]+", description.lower()))
    for names, heaviest, median in _SPECIES_KG:
        if words & set(names):
            return heaviest, median
    return None


# -- the checks ------------------------------------------------------------------------------------


@dataclass
class Rows:
    """The view's rows in the date window, with what each contract column is called and where."""

    view: dict[str, ViewColumn]
    columns: tuple[str, ...]
    rows: list[Sequence[Any]]

    def reader(self, keyword: str) -> Callable[[Sequence[Any]], Any] | None:
        column = self.view.get(keyword)
        if column is None:
            return None
        index = self.columns.index(column.name)
        return lambda row: row[index]

    def sps_id(self, row: Sequence[Any]) -> str:
        read = self.reader("ScheduledProcedureStepID")
        return str(read(row)) if read else "?"


def check_columns(names: tuple[str, ...], types: tuple[type | None, ...], report: Report) -> dict[str, ViewColumn]:
    """The view's columns as the plugin discovers them; missing or unreadable ones are problems."""
    view, notes = discover(names, types)
    for note in notes:
        if "cannot read" in note:
            report.problem(f"the view's {note}: give the column a type of its kind (see sql/README.md)")
    for name in REQUIRED_COLUMNS:
        if name not in view:
            report.problem(f"the view has no {name} column, which the plugin requires: add it (see sql/README.md)")
    wanted = (*PATIENT_KEYS, "ScheduledStationAETitle", "PatientSexNeutered")
    absent = [k for k in wanted if k not in view and k not in REQUIRED_COLUMNS]
    if absent:
        report.note(f"columns the view does not have (devices get them empty): {', '.join(absent)}")
    report.note(f"the view has {len(view)} column(s) the plugin reads")
    return view


def check_days(found: Rows, today: date, days: int, report: Report) -> None:
    """How many steps each day of the window holds; none at all is a problem."""
    start = found.reader(START_DATETIME)
    assert start is not None
    per_day = Counter(_day(start(row)) for row in found.rows)
    for n in range(days + 1):
        day = today + timedelta(days=n)
        report.note(f"{day:%Y-%m-%d}{' (today)' if n == 0 else ''}: {per_day.get(day, 0)} step(s)")
    if not found.rows:
        report.problem(
            f"the view holds no step from {today:%Y-%m-%d} to {today + timedelta(days=days):%Y-%m-%d}: check which "
            "appointments it selects (ImproMed: the rules of vetmwl.impromed_imaging and their PracticeVid)"
        )


def check_duplicates(found: Rows, report: Report) -> None:
    counts = Counter(found.sps_id(row) for row in found.rows)
    twice = [(k, n) for k, n in counts.items() if n > 1]
    for sps_id, n in twice[:5]:
        report.problem(
            f"SPS ID {sps_id} is given to {n} rows: each step needs its own ID (ImproMed: two rules of "
            "vetmwl.impromed_imaging match one appointment; make them not overlap)"
        )
    if len(twice) > 5:
        report.problem(f"{len(twice) - 5} more SPS IDs are given to several rows: see above")


def check_values(found: Rows, report: Report) -> None:
    """Values longer than their VR, and text that looks mis-encoded, one line per column."""
    long: dict[str, list[tuple[str, int]]] = defaultdict(list)
    damaged: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for keyword, column in found.view.items():
        if column.source not in (Source.VALUE, Source.CODE):
            continue
        read = found.reader(keyword)
        assert read is not None
        names = column_vr(keyword) in ("PN", "LO", "SH", "CS")
        for row in found.rows:
            value = read(row)
            if not isinstance(value, str) or not value:
                continue
            length = too_long(keyword, value)
            if length is not None:
                long[keyword].append((found.sps_id(row), length))
            why = mis_encoded(value, names)
            if why:
                damaged[keyword].append((found.sps_id(row), value, why))
    for keyword, cases in long.items():
        vr = column_vr(keyword)
        sps_id, length = cases[0]
        report.problem(
            f"{keyword}: {len(cases)} value(s) longer than the {MAX_LENGTH[vr]} characters of a {vr} (e.g. SPS ID "
            f"{sps_id}: {length}); devices get them cut: shorten them in the view (LEFT(..., {MAX_LENGTH[vr]}))"
        )
    for keyword, damages in damaged.items():
        sps_id, value, why = damages[0]
        report.problem(
            f"{keyword}: {len(damages)} value(s) look mis-encoded (e.g. SPS ID {sps_id}: {value!r} {why}): fix the "
            "connection's character set (FreeTDS: ClientCharset=UTF-8; the view's text as NVARCHAR), or the data"
        )


def check_weights(found: Rows, report: Report) -> None:
    """Per species, the weights sent: a sample to confirm the units, and those that look like pounds."""
    weight, species = found.reader("PatientWeight"), found.reader("PatientSpeciesDescription")
    patient = found.reader("PatientID")
    if weight is None:
        return
    by_species: dict[str, dict[str, float]] = defaultdict(dict)
    not_numbers: dict[str, str] = {}
    for row in found.rows:
        value = weight(row)
        if value is None or value == "":
            continue
        name = str(species(row) or "").strip() if species else ""
        animal = str(patient(row)) if patient else found.sps_id(row)
        try:
            kilograms = float(Decimal(str(value).strip()))
        except (InvalidOperation, ValueError):
            not_numbers.setdefault(animal, str(value))
            continue
        if math.isfinite(kilograms):
            by_species[name or "(no species)"][animal] = kilograms
    if not_numbers:
        animal, value = next(iter(not_numbers.items()))
        report.problem(
            f"PatientWeight is not a number for {len(not_numbers)} animal(s) (e.g. {animal}: {value!r}): the view "
            "must give kilograms as a number (DS), without a unit"
        )
    for name, weights in sorted(by_species.items()):
        values = sorted(weights.values())
        median = statistics.median(values)
        report.note(
            f"weights of {name}: {len(values)} animal(s), {values[0]:g} to {values[-1]:g} kg, median {median:g} kg"
        )
        limits = species_limits(name)
        if limits is None:
            continue
        heaviest, typical = limits
        over = [(k, w) for k, w in weights.items() if w > heaviest]
        if over or median > typical:
            animal, example = over[0] if over else max(weights.items(), key=lambda kv: kv[1])
            report.problem(
                f"PatientWeight: the weights of {name} look like pounds sent as kilograms (median {median:g} kg, "
                f"e.g. patient {animal}: {example:g} kg; {heaviest:g} kg is already heavy): convert in the view "
                "(x 0.45359237; ImproMed: the species' code in vetmwl.impromed_weight_unit)"
            )


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip()).date()
        except ValueError:
            return None
    return None


# -- what each device receives, from the plugin's own service --------------------------------------


def identifier(first: date, last: date, modality: str = "") -> Dataset:
    """A C-FIND identifier as a device sends it: the days, a modality or any, the keys a console shows."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    for keyword in _ROOT_KEYS:
        setattr(ds, keyword, "")
    step = Dataset()
    for keyword in _STEP_KEYS:
        setattr(step, keyword, "")
    step.Modality = modality
    step.ScheduledProcedureStepStartDate = f"{first:%Y%m%d}" if first == last else f"{first:%Y%m%d}-{last:%Y%m%d}"
    ds.ScheduledProcedureStepSequence = [step]
    return ds


def receives(service: WorklistService, aet: str | None, query: Dataset, address: str | None = None) -> list[Dataset]:
    """The answers a device calling as ``aet`` gets for ``query``: the plugin's own find()."""
    result = service.find(file_bytes(query), aet, address)
    return [pydicom.dcmread(BytesIO(answer), force=True) for answer in result.answers]


def _value(answer: Dataset, keyword: str) -> str:
    container = answer.ScheduledProcedureStepSequence[0] if keyword in _STEP_KEYS else answer
    value = container.get(keyword)
    return "" if value is None else str(value).strip()


def calling_aets(settings: Settings, stations: Iterable[str]) -> list[tuple[str | None, str | None]]:
    """The calling AEs to check: each "Modalities" entry (AE and address), and each station the view
    schedules for; the defaults alone when there is neither."""
    found: dict[tuple[str | None, str | None], None] = {}
    for key, _ in settings.modalities:
        aet, _, address = key.partition("@")
        found[(aet, address or None)] = None
    for station in stations:
        if station and not any(aet == station for aet, _ in found):
            found[(station, None)] = None
    return list(found) or [(None, None)]


def check_devices(service: WorklistService, found: Rows, today: date, days: int, report: Report) -> None:
    """Per calling AE: what it receives over the window, and items a strict device would refuse."""
    station = found.reader("ScheduledStationAETitle")
    stations = sorted({str(station(r)).strip() for r in found.rows if station(r)}) if station else []
    query = identifier(today, today + timedelta(days=days))
    for aet, address in calling_aets(service.settings, stations):
        who = f"{aet}@{address}" if address else (aet or "a device not listed in Modalities")
        answers = receives(service, aet, query, address)
        report.note(f"{who} receives {len(answers)} item(s) over these days")
        for keyword, label in STRICT_KEYS.items():
            lacking = [a for a in answers if not _value(a, keyword)]
            if lacking:
                report.problem(
                    f"{who} gets {len(lacking)} of {len(answers)} item(s) without {label} (e.g. SPS ID "
                    f"{_value(lacking[0], 'ScheduledProcedureStepID')}), which strict devices refuse: give every "
                    f"row a {keyword} value {_fix_hint(keyword)}"
                )


def _fix_hint(keyword: str) -> str:
    return {
        "ScheduledStationAETitle": "(ImproMed: ScheduledStationAETitle of the rule in vetmwl.impromed_imaging)",
        "PatientName": "(Owner^Pet: check the owner's and the animal's names)",
        "PatientID": "(the patient's number)",
        "StudyInstanceUID": "(or leave the column empty: the plugin then derives one)",
        "ScheduledProcedureStepStartDate": "(from ScheduledProcedureStepStartDateTime)",
    }.get(keyword, "")


def device_list(service: WorklistService, aet: str, day: date, modality: str = "") -> list[str]:
    """The list ``aet`` receives for ``day`` (and ``modality``): a title line, then one line per item."""
    answers = receives(service, aet, identifier(day, day, modality))
    lines = [f"{aet} receives {len(answers)} item(s) for {day:%Y-%m-%d}{f' ({modality})' if modality else ''}:"]
    for a in answers:
        start = _value(a, "ScheduledProcedureStepStartTime")
        cells = [
            f"{start[:2]}:{start[2:4]}" if len(start) >= 4 else start or "--:--",
            _value(a, "ScheduledProcedureStepID"),
            _value(a, "Modality"),
            _value(a, "ScheduledStationAETitle") or "-",
            _value(a, "PatientName"),
            _value(a, "PatientID"),
            "/".join(v for v in (_value(a, "PatientSpeciesDescription"), _value(a, "PatientBreedDescription")) if v),
            " ".join(v for v in (_value(a, "PatientSex"), _value(a, "PatientSexNeutered")) if v),
            f"{_value(a, 'PatientWeight')} kg" if _value(a, "PatientWeight") else "",
            f"owner {_value(a, 'ResponsiblePerson')}" if _value(a, "ResponsiblePerson") else "",
        ]
        lines.append("  " + "  ".join(c for c in cells if c))
    return lines


# -- the command -----------------------------------------------------------------------------------


def run(args: argparse.Namespace, out: TextIO) -> int:
    environ = dict(os.environ)
    try:
        configuration = read_configuration(args.configuration)
        settings = load_settings(configuration, environ, args.sql_dir or default_sql_dir(environ))
    except ConfigError as exc:
        print(f"cannot check: {one_line(str(exc))}", file=out)
        return UNREACHABLE
    report = Report()
    for warning in orthanc_warnings(configuration):
        report.problem(f"Orthanc's configuration: {warning}")
    service = WorklistService(settings)
    try:
        return _run(service, settings, args, report, out)
    finally:
        service.close()


def _run(service: WorklistService, settings: Settings, args: argparse.Namespace, report: Report, out: TextIO) -> int:
    print(f"checking {settings.view} ({settings.dialect}) as the plugin reads it", file=out)
    try:
        described = service.database.fetch(service.renderer.render_named("columns.sql.j2"), max_rows=0)
    except DatabaseError as error:
        if error.connection or error.timeout or error.sqlstate[:2] in ("08", "28", "IM", "01", "HY", ""):
            for problem in report.problems:
                print(f"problem: {problem}", file=out)
            print(f"cannot connect: {one_line(str(error))}", file=out)
            return UNREACHABLE
        report.problem(str(error))
        return _finish(report, out)
    view = check_columns(described.columns, described.types, report)
    if any(name not in view for name in REQUIRED_COLUMNS):
        return _finish(report, out)
    first = datetime.combine(args.date, time())
    last = first + timedelta(days=args.days + 1)
    names = {k: view[k].name for k in (START_DATETIME, "ScheduledProcedureStepID")}
    if not (_PLAIN_NAME.fullmatch(settings.view.replace(".", "_")) and all(map(_PLAIN_NAME.fullmatch, names.values()))):
        report.problem(f"the view's column names {sorted(names.values())} cannot be used in a query: rename them")
        return _finish(report, out)
    start, sps_id = names[START_DATETIME], names["ScheduledProcedureStepID"]
    sql = f"SELECT * FROM {settings.view} WHERE {start} >= ? AND {start} < ? ORDER BY {start}, {sps_id}"
    try:
        dialect = DIALECTS[settings.dialect]
        window = [dialect.bind_value(first), dialect.bind_value(last)]
        result = service.database.fetch(sql, window, max_rows=MAX_ROWS + 1)
        found = Rows(view, result.columns, result.rows[:MAX_ROWS])
        if len(result.rows) > MAX_ROWS:
            report.note(f"more than {MAX_ROWS} steps in these days: the first {MAX_ROWS} were checked")
        check_days(found, args.date, args.days, report)
        check_duplicates(found, report)
        check_values(found, report)
        check_weights(found, report)
        check_devices(service, found, args.date, args.days, report)
        if args.aet:
            report.listing = device_list(service, args.aet, args.date, args.modality)
            if settings.tracks_steps:
                report.listing.append(
                    "  (Orthanc also leaves out the steps a modality or an arrived study has already performed: "
                    "this list, made from the view alone, still shows them)"
                )
    except (DatabaseError, InternalError, QueryError) as error:
        report.problem(f"the plugin's query failed: {error}")
    return _finish(report, out)


def _finish(report: Report, out: TextIO) -> int:
    for note in report.notes:
        print(f"  {note}", file=out)
    for problem in report.problems:
        print(f"problem: {problem}", file=out)
    for line in report.listing:
        print(line, file=out)
    if report.problems:
        print(f"{len(report.problems)} problem(s): not ready", file=out)
        return PROBLEMS
    print("ready", file=out)
    return READY


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date such as 2026-12-07") from None


def _aet(text: str) -> str:
    if not 0 < len(text.strip()) <= 16 or "\\" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not an AE title (1 to 16 characters, no backslash)")
    return text.strip()


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vetmwl.tools.check", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "configuration", nargs="?", type=Path, default=Path("/etc/orthanc"),
        help="Orthanc's configuration file or folder, as Orthanc is started with (default: /etc/orthanc)",
    )  # fmt: skip
    parser.add_argument("--aet", type=_aet, help="print the list this calling AE title receives")
    parser.add_argument("--modality", default="", help="with --aet: the modality the device asks for (default: any)")
    parser.add_argument("--date", type=_date, default=date.today(), help="the day to check (default: today)")
    parser.add_argument("--days", type=int, default=3, choices=range(0, 31), metavar="0-30",
                        help="coming days checked beside the day (default: 3)")  # fmt: skip
    parser.add_argument("--sql-dir", type=Path, help=f"the plugin's sql folder (default: ${SQL_DIR_VARIABLE}, ...)")
    args = parser.parse_args(argv)
    if args.modality and not re.fullmatch(r"[A-Z0-9_]{1,16}", args.modality):
        parser.error(f"--modality {args.modality!r} is not a modality code such as DX")
    return run(args, out or sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
