"""The values of one view row as DICOM: where each attribute comes from, and its text.

An attribute comes from, in this order: what the plugin derives (the step's start date and time,
an unknown status, a missing Study Instance UID, the owner's role), its own column, the catch-all
column (DICOM JSON), or nowhere. A sequence comes from the veterinary code columns, its own DICOM
JSON column, or the catch-all. The answer writer and Python-side matching both read values here,
so what a modality is sent and what it is matched on are the same.

A query reads only the columns its answers and filters need: :class:`Layout` collects them, and
each reader takes the row as the tuple of those columns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydicom import config
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import format_number_as_ds

from . import codes
from .model import (
    BREED_SEQUENCE,
    CATCH_ALL,
    CODE_ITEM_KEYWORDS,
    INTEGER_VRS,
    KEEP_LEADING_SPACES,
    OWNER,
    REGISTRATION_NUMBER,
    REGISTRATION_SEQUENCE,
    REGISTRY_SEQUENCE,
    RESPONSIBLE_PERSON,
    RESPONSIBLE_PERSON_ROLE,
    SPECIES_SEQUENCE,
    SPS_SEQUENCE,
    START_DATE,
    START_DATETIME,
    START_TIME,
    STATUS,
    STUDY_UID,
    UNKNOWN_STATUS,
    Level,
    Source,
    level_of,
    tag_of,
    vr_of,
)
from .studyuid import UID_SOURCES, derived_study_uid

log = logging.getLogger("vetmwl.values")

Row = Sequence[Any]
#: The attribute of a row whose step has a state in the plugin's own store (see
#: :mod:`vetmwl.progress`): its status then wins over the view's.
STATUS_ATTRIBUTE = "_vetmwl_status"
#: A row's value of an attribute as DICOM text ('' when unknown).
TextReader = Callable[[Row], str]
#: A row's items of a sequence (None when unknown).
ItemsReader = Callable[[Row], list[Dataset] | None]


@dataclass(frozen=True)
class ViewColumn:
    """One column of the view the plugin reads: its name there, what it holds, its Python type."""

    name: str
    keyword: str
    source: Source
    python_type: type | None = None


class Layout:
    """The columns one query reads, in SELECT order; readers index into the row tuple by them."""

    def __init__(self, view: Mapping[str, ViewColumn]) -> None:
        self.view = view
        self.keywords: list[str] = []

    def index(self, keyword: str) -> int | None:
        """The row position of the column ``keyword``, None when the view has no such column."""
        if keyword not in self.view:
            return None
        if keyword not in self.keywords:
            self.keywords.append(keyword)
        return self.keywords.index(keyword)

    @property
    def names(self) -> tuple[str, ...]:
        """The columns to SELECT, named as the view names them."""
        return tuple(self.view[k].name for k in self.keywords)


# -- DICOM text of Python values ------------------------------------------------------------------
def _da(value: date) -> str:
    """DA text; f-strings are three times faster than strftime, and this runs per answer."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _tm(value: datetime | time) -> str:
    text = f"{value.hour:02d}{value.minute:02d}{value.second:02d}"
    return f"{text}.{value.microsecond:06d}" if value.microsecond else text


def _decimal(value: Decimal | int) -> str:
    text = format(Decimal(value).normalize(), "f")
    return text if len(text) <= 16 else format_number_as_ds(float(value))


def dicom_text(value: Any, vr: str) -> str:
    """A stored value as the DICOM text of its VR ('' for None): dates, times, numbers, text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.rstrip() if vr in KEEP_LEADING_SPACES else value.strip()
    if isinstance(value, datetime):
        if vr == "DA":
            return _da(value)
        if vr == "TM":
            return _tm(value)
        return _da(value) + _tm(value)
    if isinstance(value, date):
        return _da(value)
    if isinstance(value, time):
        return _tm(value)
    if isinstance(value, timedelta):  # MariaDB's TIME
        return _tm(datetime.min + value)
    if isinstance(value, bool):
        return ""
    if isinstance(value, float):
        return format_number_as_ds(value) if vr == "DS" else repr(value)
    if isinstance(value, Decimal | int):
        return str(int(value)) if vr in INTEGER_VRS else _decimal(value)
    return str(value).strip()


def element_text(dataset: Dataset, keyword: str) -> str:
    """The text of a (non-sequence) element of a pydicom dataset, '' when absent or empty."""
    tag = tag_of(keyword)
    if tag not in dataset:
        return ""
    value = dataset[tag].value
    if value is None or value == "":
        return ""
    if isinstance(value, MultiValue | list):
        return "\\".join(str(v) for v in value)
    if isinstance(value, bytes):
        return ""
    return str(value)


def element_items(dataset: Dataset, keyword: str) -> list[Dataset] | None:
    """The items of a sequence element of a pydicom dataset, None when absent."""
    tag = tag_of(keyword)
    if tag not in dataset:
        return None
    return list(dataset[tag].value or [])


@lru_cache(maxsize=4096)
def _json_dataset(text: str) -> Dataset | None:
    """A DICOM JSON dataset (the catch-all column), decoded once per distinct text."""
    try:
        return Dataset.from_json(json.loads(text))
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("a worklist row's %s is not a DICOM JSON dataset, so it is ignored: %s", CATCH_ALL, exc)
        return None


@lru_cache(maxsize=4096)
def _json_items(text: str) -> tuple[Dataset, ...] | None:
    """A DICOM JSON sequence column: a list of items (or one ``{"vr": "SQ", "Value": [...]}``)."""
    try:
        value = json.loads(text)
        if isinstance(value, dict) and "Value" in value:
            value = value["Value"]
        if not isinstance(value, list):
            raise ValueError("not a list of items")
        return tuple(Dataset.from_json(item) for item in value)
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("a worklist row's sequence column is not DICOM JSON, so it is ignored: %s", exc)
        return None


def put(dataset: Dataset, keyword: str, value: Any) -> None:
    """Set a value as given, without pydicom's checks: a stored value is cut by the answer writer,
    which logs it; a query's value is judged by the service, as a modality's is."""
    tag = tag_of(keyword)
    dataset.add(DataElement(tag, dictionary_VR(tag), value, validation_mode=config.IGNORE))


def _code_item(code: codes.Code) -> Dataset:
    item = Dataset()
    for keyword in CODE_ITEM_KEYWORDS:
        put(item, keyword, code.text_of(keyword))
    return item


class Values:
    """Readers of a row's DICOM values, over one :class:`Layout`."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.view = layout.view
        self.has_catch_all = CATCH_ALL in layout.view

    def _column(self, keyword: str, source: Source) -> int | None:
        column = self.view.get(keyword)
        return self.layout.index(keyword) if column is not None and column.source is source else None

    # -- the catch-all ----------------------------------------------------------------------------
    def _catch_all(self, level: Level) -> Callable[[Row], Dataset | None] | None:
        """The catch-all dataset of a row, or its step item, decoded only for queries that read it."""
        if not self.has_catch_all:
            return None
        i = self.layout.index(CATCH_ALL)
        assert i is not None

        def root(row: Row) -> Dataset | None:
            text = row[i]
            return _json_dataset(text) if isinstance(text, str) and text.strip() else None

        if level is Level.ROOT:
            return root

        def step(row: Row) -> Dataset | None:
            dataset = root(row)
            items = element_items(dataset, SPS_SEQUENCE) if dataset is not None else None
            return items[0] if items else None

        return step

    # -- values -----------------------------------------------------------------------------------
    def start(self) -> Callable[[Row], datetime | None]:
        i = self.layout.index(START_DATETIME)
        return lambda row: row[i] if i is not None and isinstance(row[i], datetime) else None

    def text(self, keyword: str, level: Level) -> TextReader | None:
        """How to read ``keyword``'s text from a row; None when nothing can hold it."""
        if keyword in (START_DATE, START_TIME, START_DATETIME) and level is Level.STEP:
            start = self.start()
            write = {START_DATE: _da, START_TIME: _tm, START_DATETIME: lambda v: _da(v) + _tm(v)}[keyword]
            return lambda row: write(value) if (value := start(row)) is not None else ""
        stored = self._stored_text(keyword, level)
        if keyword == STATUS and level is Level.STEP:
            view = stored or (lambda row: "")
            return lambda row: getattr(row, STATUS_ATTRIBUTE, None) or view(row) or UNKNOWN_STATUS
        if keyword == STUDY_UID and level is Level.ROOT:
            identity = [self._stored_text(k, Level.ROOT) for k in UID_SOURCES[:3]]
            identity.append(self._stored_text(UID_SOURCES[3], Level.STEP))

            def study_uid(row: Row) -> str:
                found = stored(row) if stored else ""
                if found:
                    return found
                parts = tuple(read(row) if read else "" for read in identity)
                return _derived_uid(parts)

            return study_uid
        if keyword == RESPONSIBLE_PERSON_ROLE and level is Level.ROOT:
            person = self._stored_text(RESPONSIBLE_PERSON, Level.ROOT)

            def role(row: Row) -> str:
                found = stored(row) if stored else ""
                return found or (OWNER if person and person(row) else "")

            return role if stored or person else None
        return stored

    def _stored_text(self, keyword: str, level: Level) -> TextReader | None:
        """The text stored for ``keyword``: its own column when the view has one, else the catch-all."""
        vr = vr_of(keyword)
        own = self._column(keyword, Source.VALUE) if _column_level(keyword, level) else None
        if own is not None:  # an attribute with a column is there only, so that SQL matches what is sent
            return lambda row: dicom_text(row[own], vr)
        catch_all = self._catch_all(level)  # selected (and hashed per row) only when needed
        if catch_all is not None:
            return lambda row: _text_in(catch_all(row), keyword)
        return None

    def items(self, keyword: str, level: Level) -> ItemsReader | None:
        """How to read a sequence's items from a row; None when nothing can hold them."""
        veterinary = level is Level.ROOT and keyword in (SPECIES_SEQUENCE, BREED_SEQUENCE, REGISTRATION_SEQUENCE)
        own = None if veterinary or not _column_level(keyword, level) else self._column(keyword, Source.JSON_SEQUENCE)
        if own is not None:

            def column(row: Row) -> list[Dataset] | None:
                text = row[own]
                found = _json_items(text) if isinstance(text, str) and text.strip() else None
                return list(found) if found is not None else None

            return column
        catch_all = self._catch_all(level)  # selected (and hashed per row) only when needed
        in_catch_all = (lambda row: _items_in(catch_all(row), keyword)) if catch_all else None
        if veterinary:
            derived = self._veterinary(keyword)
            if in_catch_all is None:
                return derived
            return lambda row: _first(in_catch_all(row), derived(row))
        return in_catch_all

    def _reader(self, columns: Sequence[str]) -> Callable[[Row], list[Any]]:
        indexes = [self.layout.index(c) for c in columns]
        return lambda row: [None if i is None else row[i] for i in indexes]

    def _veterinary(self, keyword: str) -> ItemsReader:
        """Species and breed codes from their columns or derived from the descriptions; the breed
        registration from its number and registry code (PS3.3 C.7.1.1)."""
        species_columns = self._reader(codes.SPECIES_COLUMNS)
        if keyword == SPECIES_SEQUENCE:

            def species(row: Row) -> list[Dataset]:
                code = codes.species_from(*species_columns(row))
                return [_code_item(code)] if code else []

            return species
        if keyword == BREED_SEQUENCE:
            breed_columns = self._reader(codes.BREED_COLUMNS)

            def breed(row: Row) -> list[Dataset]:
                code = codes.breed_from(*breed_columns(row), codes.species_from(*species_columns(row)))
                return [_code_item(code)] if code else []

            return breed
        registration_columns = self._reader(codes.REGISTRATION_COLUMNS)

        def registration(row: Row) -> list[Dataset]:
            found = codes.registration_from(*registration_columns(row))
            if found is None:
                return []
            item = Dataset()
            put(item, REGISTRATION_NUMBER, found.number)
            put(item, REGISTRY_SEQUENCE, [_code_item(found.registry)] if found.registry else [])
            return [item]

        return registration


def _column_level(keyword: str, level: Level) -> bool:
    """Whether a column named ``keyword`` holds the attribute at ``level`` (columns follow the model)."""
    found = level_of(keyword)
    return found is None or found is level


def _text_in(dataset: Dataset | None, keyword: str) -> str:
    return element_text(dataset, keyword) if dataset is not None else ""


def _items_in(dataset: Dataset | None, keyword: str) -> list[Dataset] | None:
    return element_items(dataset, keyword) if dataset is not None else None


def _first(first: list[Dataset] | None, second: list[Dataset] | None) -> list[Dataset] | None:
    return first if first is not None else second


@lru_cache(maxsize=65536)
def _derived_uid(identity: tuple[str, ...]) -> str:
    """derived_study_uid, remembered: modalities ask for the same orders again and again."""
    return derived_study_uid(dict(zip(UID_SOURCES, identity, strict=True)))
