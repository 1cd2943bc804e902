"""A fast writer for worklist answers, compiled once per query shape.

Orthanc runs every worklist callback under one global lock, so the time spent per answer caps the
whole server. pydicom's general-purpose writer costs several hundred microseconds per answer; this
module writes the same bytes (Explicit VR Little Endian, defined lengths, pydicom's padding) from a
plan compiled once for each shape of query: which elements, in which order, with which VR, filled
from which column. The tests check that its output is byte-for-byte what
:func:`vetmwl.answers.encode` (pydicom) writes for the same answer, in both answer character sets.
Work that only some keys need (veterinary codes, transliteration) is compiled in only for them.
"""

from __future__ import annotations

import logging
import struct
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from . import codes
from .answers import MAX_LENGTH, UNKNOWN_STATUS, _decimal_ds, _vr_of, requested_item
from .charset import CODECS, LATIN1, UTF8, latin1_text
from .contract import (
    BREED_SEQUENCE,
    COLUMN_BY_NAME,
    REGISTRATION_SEQUENCE,
    REGISTRY_SEQUENCE,
    SPECIES_SEQUENCE,
    START_DATE,
    START_DATETIME,
    START_TIME,
    STEP_KEYWORDS,
    Kind,
    Level,
)
from .query import SPS_SEQUENCE, WorklistQuery
from .studyuid import UID_SOURCES, derived_study_uid

log = logging.getLogger("vetmwl.answers")

#: VRs whose length field has 4 bytes (after 2 reserved bytes) in Explicit VR Little Endian.
_LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
_ITEM = struct.pack("<HH", 0xFFFE, 0xE000)
#: Columns the derived Study Instance UID is made from (see studyuid.derived_study_uid).
_UID_SOURCES = ("StudyInstanceUID", *UID_SOURCES)

Formatter = Callable[[Any], str]
#: Writes the value (the items) of a sequence element from its source.
ItemsWriter = Callable[[Any], bytes]
#: Encoded answers by (encoder, row); about 40 MB at most with typical answers of 600-800 bytes.
ANSWER_CACHE_SIZE = 50_000
_ANSWERS: OrderedDict[tuple, bytes] = OrderedDict()


def _header(tag: int, vr: str) -> bytes:
    return struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr.encode("ascii")


def _short(header: bytes, value: bytes) -> bytes:
    return header + struct.pack("<H", len(value)) + value


def _long(header: bytes, value: bytes) -> bytes:
    return header + struct.pack("<HI", 0, len(value)) + value


def _item(body: bytes) -> bytes:
    return _ITEM + struct.pack("<I", len(body)) + body


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value).strip()


def _da(value: date) -> str:
    """DA text; f-strings are three times faster than strftime, and this runs per answer."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _tm(value: datetime) -> str:
    text = f"{value.hour:02d}{value.minute:02d}{value.second:02d}"
    return f"{text}.{value.microsecond:06d}" if value.microsecond else text


def _date(value: Any) -> str:
    return _da(value) if isinstance(value, date) else _text(value)


@lru_cache(maxsize=65536)
def _derived_uid(identity: tuple[Any, ...]) -> str:
    """derived_study_uid, remembered: modalities ask for the same orders again and again."""
    return derived_study_uid(dict(zip(UID_SOURCES, identity, strict=True)))


def _decimal(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        from pydicom.valuerep import format_number_as_ds

        return format_number_as_ds(value)
    if isinstance(value, Decimal | int):
        return _decimal_ds(value)
    return _text(value)


class _Plan:
    """Which columns to read, and how to get each requested value from a row tuple."""

    def __init__(self, available: Sequence[str]) -> None:
        self.available = set(available)
        self.columns: list[str] = []

    def index(self, column: str) -> int | None:
        if column not in self.available:
            return None
        if column not in self.columns:
            self.columns.append(column)
        return self.columns.index(column)

    def reader(self, columns: Sequence[str]) -> Callable[[Sequence[Any]], list[Any]]:
        """Reads these columns from a row, None for those the view lacks."""
        indexes = [self.index(c) for c in columns]
        return lambda row: [None if i is None else row[i] for i in indexes]

    def formatter(self, keyword: str) -> Formatter | None:
        """How to turn a row into this keyword's text; ``None`` when it is always empty."""
        if keyword in (START_DATE, START_TIME, START_DATETIME):
            i = self.index(START_DATETIME)
            write = {START_DATE: _da, START_TIME: _tm, START_DATETIME: lambda v: _da(v) + _tm(v)}[keyword]
            return None if i is None else lambda row: write(row[i]) if isinstance(row[i], datetime) else ""
        if keyword == "ResponsiblePersonRole":
            i = self.index("ResponsiblePerson")
            return None if i is None else lambda row: "OWNER" if _text(row[i]) else ""
        if keyword == "StudyInstanceUID":
            read = self.reader(_UID_SOURCES)

            def study_uid(row: Sequence[Any]) -> str:
                values = read(row)
                return _text(values[0]) or _derived_uid(tuple(values[1:]))

            return study_uid
        if keyword == "ScheduledProcedureStepStatus":
            i = self.index(keyword)
            return (lambda row: UNKNOWN_STATUS) if i is None else lambda row: _text(row[i]) or UNKNOWN_STATUS
        column = COLUMN_BY_NAME.get(keyword)
        if column is None or column.level is Level.ITEM:
            return None
        i = self.index(keyword)
        if i is None:
            return None
        if column.kind is Kind.DATE:
            return lambda row: _date(row[i])
        if column.kind is Kind.DECIMAL:
            return lambda row: _decimal(row[i])
        return lambda row: _text(row[i])

    def species(self) -> Callable[[Sequence[Any]], codes.Code | None]:
        read = self.reader(codes.SPECIES_COLUMNS)
        return lambda row: codes.species_from(*read(row))

    def breed(self) -> Callable[[Sequence[Any]], codes.Code | None]:
        read, species = self.reader(codes.BREED_COLUMNS), self.species()
        return lambda row: codes.breed_from(*read(row), species(row))

    def registration(self) -> Callable[[Sequence[Any]], codes.Registration | None]:
        read = self.reader(codes.REGISTRATION_COLUMNS)
        return lambda row: codes.registration_from(*read(row))


class _Element:
    """One element to write: its header and, unless constant, how to get its value from a source
    (the row, or a code for the elements of a code item). A sequence has ``items`` instead."""

    __slots__ = ("constant", "format", "header", "items", "keyword", "limit", "long", "pad", "vr")

    def __init__(
        self, tag: int, vr: str, keyword: str, value: Formatter | None, items: ItemsWriter | None = None
    ) -> None:
        self.header = _header(tag, vr)
        self.long = vr in _LONG_VRS
        self.vr = vr
        self.keyword = keyword
        self.pad = b"\0" if vr == "UI" else b" "
        self.limit = MAX_LENGTH.get(vr)
        self.format = value
        self.items = items
        self.constant = None if value or items else (_long if self.long else _short)(self.header, b"")


def _empty(element: DataElement) -> _Element:
    """An element the plugin has no value for: present and empty (an empty sequence for SQ)."""
    vr = _vr_of(element)
    return _Element(element.tag, vr, element.keyword, None)


def _defaults(keywords: tuple[str, ...]) -> list[DataElement]:
    return [DataElement(tag_for_keyword(k), dictionary_VR(k), None) for k in keywords]


def _requested(item: Dataset | None, defaults: tuple[str, ...]) -> list[DataElement]:
    return _defaults(defaults) if item is None or len(item) == 0 else list(item)


class AnswerEncoder:
    """Writes the answers of one query shape; built by :meth:`compile`, reused while cached."""

    def __init__(self, query: WorklistQuery, available: Sequence[str], character_set: str = UTF8) -> None:
        self.character_set = character_set
        self.codec = CODECS[character_set]
        self._latin1 = character_set == LATIN1
        plan = _Plan(available)
        self._root: list[_Element] = []
        charset_tag = tag_for_keyword("SpecificCharacterSet")
        self._charset = _short(_header(charset_tag, "CS"), character_set.encode("ascii"))
        elements = [e for e in query.identifier if e.keyword != "SpecificCharacterSet" and e.tag.group != 0x0002]
        self._charset_at = sum(1 for e in elements if e.tag < charset_tag)
        for element in elements:
            if element.keyword == SPS_SEQUENCE:
                step = [self._element(e, plan) for e in _step_elements(query.step_requested)]
                self._root.append(_Element(element.tag, "SQ", SPS_SEQUENCE, None, self._one_item(step)))
            elif element.keyword in (SPECIES_SEQUENCE, BREED_SEQUENCE, REGISTRATION_SEQUENCE) and element.VR == "SQ":
                self._root.append(self._veterinary(element, plan))
            else:
                self._root.append(self._element(element, plan))
        self.columns: tuple[str, ...] = tuple(plan.columns)

    def _one_item(self, elements: list[_Element]) -> ItemsWriter:
        """Writes a sequence of exactly one item made of ``elements``."""
        write = self._write
        return lambda source: _item(write(elements, source))

    @staticmethod
    def _element(element: DataElement, plan: _Plan) -> _Element:
        vr = _vr_of(element)
        if vr == "SQ":
            return _Element(element.tag, "SQ", element.keyword, None)
        return _Element(element.tag, vr, element.keyword, plan.formatter(element.keyword) if element.keyword else None)

    def _code_items(self, requested: Dataset | None) -> ItemsWriter:
        """Writes a code sequence from a :class:`codes.Code`: no item without a code, else one item."""
        elements = []
        for e in _requested(requested, codes.CODE_ITEM_KEYWORDS):
            vr = _vr_of(e)
            known = vr != "SQ" and e.keyword in codes.CODE_ITEM_KEYWORDS
            keyword = e.keyword
            elements.append(_Element(e.tag, vr, keyword, (lambda c, k=keyword: c.text_of(k)) if known else None))
        write = self._write
        return lambda code: _item(write(elements, code)) if code else b""

    def _veterinary(self, element: DataElement, plan: _Plan) -> _Element:
        """Species, breed or registration, read from their columns (or derived) only when asked for."""
        keyword = element.keyword
        if keyword != REGISTRATION_SEQUENCE:
            lookup = plan.species() if keyword == SPECIES_SEQUENCE else plan.breed()
            code_items = self._code_items(requested_item(element))
            return _Element(element.tag, "SQ", keyword, None, lambda row: code_items(lookup(row)))
        registration = plan.registration()
        inner: list[_Element] = []
        for e in _requested(requested_item(element), codes.REGISTRATION_ITEM_KEYWORDS):
            if e.keyword == REGISTRY_SEQUENCE:
                registry = self._code_items(requested_item(e) if e.VR == "SQ" else None)
                inner.append(_Element(e.tag, "SQ", e.keyword, None, lambda r, w=registry: w(r.registry)))
            elif e.keyword == "BreedRegistrationNumber":
                inner.append(_Element(e.tag, _vr_of(e), e.keyword, lambda r: r.number))
            else:
                inner.append(_empty(e))
        write = self._write

        def items(row: Sequence[Any]) -> bytes:
            found = registration(row)
            return _item(write(inner, found)) if found else b""

        return _Element(element.tag, "SQ", keyword, None, items)

    def _write(self, elements: list[_Element], source: Any, out: list[bytes] | None = None) -> bytes:
        """The elements' bytes for one source (a row, a code or a registration)."""
        parts: list[bytes] = [] if out is None else out
        codec, latin1 = self.codec, self._latin1
        for e in elements:
            if e.constant is not None:
                parts.append(e.constant)
                continue
            if e.items is not None:
                parts.append(_long(e.header, e.items(source)))
                continue
            text = e.format(source)  # type: ignore[misc]
            if latin1 and text and not text.isascii():
                text = latin1_text(e.keyword, text)
            if e.limit is not None and len(text) > e.limit:
                text = _cut(e.keyword, e.vr, text, e.limit)
            value = text.encode(codec)
            if len(value) % 2:
                value += e.pad
            parts.append(_long(e.header, value) if e.long else _short(e.header, value))
        return b"".join(parts)

    def answer(self, row: Sequence[Any]) -> bytes:
        """:meth:`encode`, remembered by the row's full content.

        Modalities poll the same worklist over and over, so most rows come back unchanged; a
        changed value is a different key, so the cache can never return a stale answer.
        """
        key = (self, tuple(row))
        cached = _ANSWERS.get(key)
        if cached is None:
            cached = _ANSWERS[key] = self.encode(row)
            if len(_ANSWERS) > ANSWER_CACHE_SIZE:
                _ANSWERS.popitem(last=False)
        else:
            _ANSWERS.move_to_end(key)
        return cached

    def encode(self, row: Sequence[Any]) -> bytes:
        """The answer for one row (a tuple in :attr:`columns` order), ready for Orthanc."""
        out: list[bytes] = []
        self._write(self._root, row, out)
        out.insert(self._charset_at, self._charset)
        return b"".join(out)


def shape_of(query: WorklistQuery) -> tuple:
    """What the answers' layout depends on: each requested element's tag and VR, nested items included."""
    step = query.step_requested
    return _element_shape(query.identifier), None if step is None else _element_shape(step)


def _element_shape(dataset: Dataset) -> tuple:
    """Tags and VRs, read without converting values (pydicom's conversion is the slow part).

    Only sequences are looked into (their items shape the answer); they are few and small.
    """
    shape = []
    for tag in sorted(dataset.keys()):
        raw = dataset.get_item(tag, keep_deferred=True)
        if raw.VR == "SQ" and tag != _SPS_TAG:
            items = dataset[tag].value or []
            shape.append((tag, "SQ", tuple(_element_shape(i) for i in items)))
        else:
            shape.append((tag, raw.VR))
    return tuple(shape)


_SPS_TAG = tag_for_keyword(SPS_SEQUENCE)


def _cut(keyword: str, vr: str, text: str, limit: int) -> str:
    cut = "=".join(g[:limit] for g in text.split("=")) if vr == "PN" else text[:limit]
    if cut != text:
        log.warning("%s is longer than its VR %s allows; sent cut to %d characters", keyword, vr, limit)
    return cut


def _step_elements(requested: Dataset | None) -> list[DataElement]:
    if requested is None or len(requested) == 0:
        # A zero-length sequence or an empty item asks for the whole item.
        tags = sorted(tag_for_keyword(k) for k in STEP_KEYWORDS)
        return [DataElement(tag, dictionary_VR(tag), None) for tag in tags]
    return list(requested)
