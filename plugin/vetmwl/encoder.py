"""A fast writer for worklist answers, compiled once per query shape.

Orthanc runs every worklist callback under one global lock, so the time spent per answer caps the
whole server. pydicom's general-purpose writer costs several hundred microseconds per answer; this
module writes the same bytes (Explicit VR Little Endian, defined lengths, pydicom's padding) from a
plan compiled once for each shape of query: which elements, in which order, with which VR, filled
from which column. The tests check that its output is byte-for-byte what
:func:`vetmwl.answers.encode` (pydicom) writes for the same answer.
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

from .answers import ANSWER_CHARACTER_SET, MAX_LENGTH, _decimal_ds, _vr_of, derived_study_uid
from .contract import COLUMN_BY_NAME, START_DATE, START_DATETIME, START_TIME, STEP_KEYWORDS, Kind
from .query import SPS_SEQUENCE, WorklistQuery

log = logging.getLogger("vetmwl.answers")

#: VRs whose length field has 4 bytes (after 2 reserved bytes) in Explicit VR Little Endian.
_LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
_ITEM = struct.pack("<HHI", 0xFFFE, 0xE000, 0)[:4]
#: Columns the derived Study Instance UID is made from (see answers.derived_study_uid).
_UID_SOURCES = ("StudyInstanceUID", "AccessionNumber", "RequestedProcedureID", "PatientID", "ScheduledProcedureStepID")

Formatter = Callable[[Sequence[Any]], str]
#: Encoded answers by (encoder, row); about 40 MB at most with typical answers of 600-800 bytes.
ANSWER_CACHE_SIZE = 50_000
_ANSWERS: OrderedDict[tuple, bytes] = OrderedDict()


def _header(tag: int, vr: str) -> bytes:
    return struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr.encode("ascii")


def _short(header: bytes, value: bytes) -> bytes:
    return header + struct.pack("<H", len(value)) + value


def _long(header: bytes, value: bytes) -> bytes:
    return header + struct.pack("<HI", 0, len(value)) + value


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value).strip()


def _da(value: date) -> str:
    """DA text; f-strings are three times faster than strftime, and this runs per answer."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _tm(value: datetime) -> str:
    return f"{value.hour:02d}{value.minute:02d}{value.second:02d}"


def _date(value: Any) -> str:
    return _da(value) if isinstance(value, date) else _text(value)


@lru_cache(maxsize=65536)
def _derived_uid(identity: tuple[Any, ...]) -> str:
    """derived_study_uid, remembered: modalities ask for the same orders again and again."""
    return derived_study_uid(dict(zip(_UID_SOURCES[1:], identity, strict=True)))


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
    """Which columns to read, and how to write each requested element from a row tuple."""

    def __init__(self, available: Sequence[str]) -> None:
        self.available = set(available)
        self.columns: list[str] = []

    def index(self, column: str) -> int | None:
        if column not in self.available:
            return None
        if column not in self.columns:
            self.columns.append(column)
        return self.columns.index(column)

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
            sources = [(name, self.index(name)) for name in _UID_SOURCES]

            def study_uid(row: Sequence[Any]) -> str:
                values = tuple(None if i is None else row[i] for _, i in sources)
                return _text(values[0]) or _derived_uid(values[1:])

            return study_uid
        column = COLUMN_BY_NAME.get(keyword)
        if column is None:
            return None
        i = self.index(keyword)
        if i is None:
            return None
        if column.kind is Kind.DATE:
            return lambda row: _date(row[i])
        if column.kind is Kind.DECIMAL:
            return lambda row: _decimal(row[i])
        return lambda row: _text(row[i])


class _Element:
    """One element to write: its header and, unless constant, how to get its value."""

    __slots__ = ("constant", "format", "header", "keyword", "limit", "long", "pad", "vr")

    def __init__(self, tag: int, vr: str, keyword: str, value: Formatter | None) -> None:
        self.header = _header(tag, vr)
        self.long = vr in _LONG_VRS
        self.vr = vr
        self.keyword = keyword
        self.pad = b"\0" if vr == "UI" else b" "
        self.limit = MAX_LENGTH.get(vr)
        self.format = value
        self.constant = None if value else (_long if self.long else _short)(self.header, b"")


class AnswerEncoder:
    """Writes the answers of one query shape; built by :meth:`compile`, reused while cached."""

    def __init__(self, query: WorklistQuery, available: Sequence[str], codec: str = "utf-8") -> None:
        self.codec = codec
        plan = _Plan(available)
        self._root: list[_Element] = []
        self._step: list[_Element] | None = None
        self._step_tag = b""
        charset_tag = tag_for_keyword("SpecificCharacterSet")
        charset = _short(_header(charset_tag, "CS"), ANSWER_CHARACTER_SET.encode("ascii"))
        elements = [e for e in query.identifier if e.keyword != "SpecificCharacterSet" and e.tag.group != 0x0002]
        self._charset_at = sum(1 for e in elements if e.tag < charset_tag)
        self._charset = charset
        for element in elements:
            if element.keyword == SPS_SEQUENCE:
                self._step_tag = _header(element.tag, "SQ")
                self._step = [self._element(e, plan) for e in _step_elements(query.step_requested)]
                self._root.append(_Element(element.tag, "SQ", SPS_SEQUENCE, lambda row: ""))
            else:
                self._root.append(self._element(element, plan))
        self.columns: tuple[str, ...] = tuple(plan.columns)

    @staticmethod
    def _element(element: DataElement, plan: _Plan) -> _Element:
        vr = _vr_of(element)
        if vr == "SQ":
            return _Element(element.tag, "SQ", element.keyword, None)
        return _Element(element.tag, vr, element.keyword, plan.formatter(element.keyword) if element.keyword else None)

    def _write(self, elements: list[_Element], row: Sequence[Any], out: list[bytes]) -> None:
        codec = self.codec
        for e in elements:
            if e.constant is not None:
                out.append(e.constant)
                continue
            if e.keyword == SPS_SEQUENCE:
                item: list[bytes] = []
                self._write(self._step or [], row, item)
                body = b"".join(item)
                out.append(_long(self._step_tag, _ITEM + struct.pack("<I", len(body)) + body))
                continue
            text = e.format(row)  # type: ignore[misc]
            if e.limit is not None and len(text) > e.limit:
                text = _cut(e.keyword, e.vr, text, e.limit)
            value = text.encode(codec)
            if len(value) % 2:
                value += e.pad
            out.append(_long(e.header, value) if e.long else _short(e.header, value))

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
    """What the answers' layout depends on: each requested element's tag and VR, and the step item's."""
    step = query.step_requested
    return _element_shape(query.identifier), None if step is None else _element_shape(step)


def _element_shape(dataset: Dataset) -> tuple:
    """Tags and VRs, read without converting values (pydicom's conversion is the slow part)."""
    return tuple((tag, dataset.get_item(tag, keep_deferred=True).VR) for tag in sorted(dataset.keys()))


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
