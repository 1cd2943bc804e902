"""The answer writer: one worklist answer per row, shaped exactly like the modality's query.

Every key the query asked for is in every answer, sequences and their items included: with its
value, or zero-length when unknown, because Orthanc drops a requested key an answer lacks and
modalities then complain about missing Type 2 attributes. Inside the Scheduled Procedure Step
item, a requested sequence whose value is unknown gets one item of zero-length attributes: Orthanc
re-checks the step item against the query and would empty it for a sequence without items.

Orthanc runs every worklist callback under one global lock, so the time per answer caps the whole
server: the elements filled from the view's columns are compiled once per plan (one identifier
from one calling AE, see :meth:`vetmwl.service.WorklistService.plan`) into a list (which element,
in which order, with which VR, from which reader) and written in Explicit VR Little Endian with
defined lengths and pydicom's padding. Sequences and the attributes of the catch-all column,
rarer, are written from pydicom datasets. tests/support/reference_answers.py builds the same
answers with pydicom for the tests to compare byte for byte.
"""

from __future__ import annotations

import logging
import struct
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from .charset import CODECS, LATIN1, UTF8, latin1_text
from .kinds.ranges import orthanc_text, orthanc_time_text
from .model import (
    CHARACTER_SET,
    MAX_LENGTH,
    SPS_SEQUENCE,
    SPS_TAG,
    START_DATETIME,
    START_TIME,
    STEP_ATTRIBUTES,
    Level,
    element_vr,
    keyword_of,
)
from .query import WorklistQuery
from .values import STATUS_ATTRIBUTE, Layout, Row, Values, ViewColumn, element_items, element_text

log = logging.getLogger("vetmwl.answers")

#: VRs whose length field has 4 bytes (after 2 reserved bytes) in Explicit VR Little Endian.
_LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
#: Binary number VRs and their struct format.
_BINARY = {"US": "<H", "SS": "<h", "UL": "<I", "SL": "<i", "FL": "<f", "FD": "<d", "UV": "<Q", "SV": "<q"}
_ITEM = struct.pack("<HH", 0xFFFE, 0xE000)
#: Encoded answers by (encoder, row). The answers (600-800 bytes) take about 40 MB at most, but the
#: keys hold each row's values too, 1-2.5 kB more per entry: about 100-170 MB in all (more with a
#: catch-all column, whose JSON is part of the row).
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


def vr_of_element(element: DataElement) -> str:
    """The VR to answer a requested element with: its own, or the dictionary's when it came as UN."""
    return element_vr(element.tag, element.VR)


def _cut(keyword: str, vr: str, text: str, limit: int) -> str:
    """Each value cut to its VR's length (a PN per component group); several values each on its own."""
    if "\\" in text and vr not in ("LT", "ST", "UT"):
        values = [_cut(keyword, vr, v, limit) for v in text.split("\\")]
        return "\\".join(values)
    cut = "=".join(g[:limit] for g in text.split("=")) if vr == "PN" else text[:limit]
    if cut != text:
        log.warning("%s is longer than its VR %s allows; sent cut to %d characters", keyword, vr, limit)
    return cut


def _binary(vr: str, text: str) -> bytes:
    """A binary number VR's value from its text (several values joined by backslashes)."""
    if not text:
        return b""
    number = float if vr in ("FL", "FD") else int
    try:
        return b"".join(struct.pack(_BINARY[vr], number(part)) for part in text.split("\\"))
    except (ValueError, struct.error):
        log.warning("a value %r is not a number its VR %s can hold; sent empty", text, vr)
        return b""


def requested_item(element: DataElement) -> Dataset | None:
    """The item a query's sequence holds, None for a zero-length sequence (which asks for all)."""
    items = element.value or []
    return items[0] if len(items) else None


def _step_elements(requested: Dataset | None) -> list[DataElement]:
    """The SPS item's elements to answer: those asked for, or (zero-length, empty item) all of the model's."""
    if requested is None or len(requested) == 0:
        tags = sorted(tag_for_keyword(k) for k in STEP_ATTRIBUTES if k != START_DATETIME)
        return [DataElement(tag, dictionary_VR(tag), None) for tag in tags]
    return list(requested)


class _Element:
    """One element to write: its header and how to get its value from a row. A sequence has
    ``items`` instead; a constant (always empty) element has its bytes ready."""

    __slots__ = ("binary", "constant", "format", "header", "items", "keyword", "limit", "long", "pad", "vr")

    def __init__(
        self,
        tag: int,
        vr: str,
        keyword: str,
        value: Callable[[Row], str] | None,
        items: Callable[[Row], bytes | None] | None = None,
    ) -> None:
        self.header = _header(tag, vr)
        self.long = vr in _LONG_VRS
        self.vr = vr
        self.keyword = keyword
        self.pad = b"\0" if vr == "UI" else b" "
        self.limit = MAX_LENGTH.get(vr)
        self.binary = vr in _BINARY
        self.format = value
        self.items = items
        self.constant = None if value or items else (_long if self.long else _short)(self.header, b"")


class AnswerEncoder:
    """Writes the answers of one query over one view; built once per plan (identifier and calling
    AE), then reused for every C-FIND that repeats it."""

    def __init__(
        self,
        query: WorklistQuery,
        view: Mapping[str, ViewColumn],
        character_set: str = UTF8,
        layout: Layout | None = None,
    ) -> None:
        self.character_set = character_set
        self.codec = CODECS[character_set]
        self._latin1 = character_set == LATIN1
        self.layout = layout if layout is not None else Layout(view)
        self.values = Values(self.layout)
        self._start_time_text = query.start_time_text
        self._step_texts = step_time_texts(query)
        charset_tag = tag_for_keyword(CHARACTER_SET)
        self._charset = _short(_header(charset_tag, "CS"), character_set.encode("ascii"))
        elements = [e for e in query.identifier if e.keyword != CHARACTER_SET and e.tag.group != 0x0002]
        self._charset_at = sum(1 for e in elements if e.tag < charset_tag)
        self._root: list[_Element] = []
        for element in elements:
            if element.tag == SPS_TAG:
                step = [self._element(e, Level.STEP) for e in _step_elements(query.step_requested)]
                self._root.append(_Element(element.tag, "SQ", SPS_SEQUENCE, None, self._one_item(step)))
            else:
                self._root.append(self._element(element, Level.ROOT))

    @property
    def columns(self) -> tuple[str, ...]:
        """The view columns (by keyword) the answers read, in row order."""
        return tuple(self.layout.keywords)

    def _one_item(self, elements: list[_Element]) -> Callable[[Row], bytes]:
        write = self._write
        return lambda row: _item(write(elements, row))

    def _element(self, element: DataElement, level: Level) -> _Element:
        vr = vr_of_element(element)
        keyword = element.keyword or keyword_of(element.tag)
        if not keyword or element.tag.is_private:
            return _Element(element.tag, vr, keyword, None)  # unknown to the plugin: present and empty
        if vr == "SQ":
            read_items = self.values.items(keyword, level)
            requested = requested_item(element)
            if read_items is None and not (level is Level.STEP and requested is not None and len(requested)):
                return _Element(element.tag, "SQ", keyword, None)
            return _Element(element.tag, "SQ", keyword, None, self._sequence(read_items, requested, level))
        read = self.values.text(keyword, level)
        if read is not None and keyword == START_TIME and level is Level.STEP and self._start_time_text:
            start, query_text = self.values.start(), self._start_time_text

            def start_time(row: Row) -> str:
                value = start(row)
                return (orthanc_time_text(value, query_text) or "") if value is not None else ""

            read = start_time
        elif read is not None and level is Level.STEP and keyword in self._step_texts:
            stored, query_text = read, self._step_texts[keyword]

            def as_orthanc_compares(row: Row) -> str:
                text = stored(row)
                return (orthanc_text(vr, text, query_text) or text) if text else ""

            read = as_orthanc_compares
        return _Element(element.tag, vr, keyword, read)

    # -- sequences, from pydicom datasets ----------------------------------------------------------
    def _sequence(
        self,
        read_items: Callable[[Row], list[Dataset] | None] | None,
        requested: Dataset | None,
        level: Level,
    ) -> Callable[[Row], bytes | None]:
        """Writes a sequence's items: the stored ones with the requested attributes. A sequence the
        row does not hold has zero items, or, inside the step item when the query's item names keys,
        is left out (None): Orthanc's re-check refuses a step item whose sequence has zero items
        when the query's has keys, and would empty the step, while it passes one without the
        sequence. No item is ever made up: an item of empty values is no valid code item."""
        leave_out = _step_keys_asked(level, requested)
        write_item = self._dataset_item

        def items(row: Row) -> bytes | None:
            stored = read_items(row) if read_items is not None else None
            if not stored:
                return None if leave_out else b""
            return b"".join(_item(write_item(requested, item, level)) for item in stored)

        return items

    def _dataset_item(self, requested: Dataset | None, stored: Dataset, level: Level) -> bytes:
        """One item: the requested attributes (all the stored ones when none is named) from ``stored``."""
        if requested is not None and len(requested):
            wanted = [(e.tag, vr_of_element(e), requested_item(e) if e.VR == "SQ" else None) for e in requested]
        else:
            wanted = [(e.tag, e.VR, None) for e in stored]
        parts = []
        for tag, vr, inner in sorted(wanted, key=lambda w: w[0]):
            keyword = keyword_of(tag)
            header = _header(tag, vr)
            if vr == "SQ":
                found = element_items(stored, keyword) if keyword else None
                if found:
                    parts.append(_long(header, b"".join(_item(self._dataset_item(inner, i, level)) for i in found)))
                elif not _step_keys_asked(level, inner):
                    parts.append(_long(header, b""))  # zero items (see _sequence)
                continue
            text = element_text(stored, keyword) if keyword else ""
            parts.append(self._value_bytes(header, vr, keyword, text))
        return b"".join(parts)

    def _value_bytes(self, header: bytes, vr: str, keyword: str, text: str) -> bytes:
        if vr in _BINARY:
            value = _binary(vr, text)
        else:
            if self._latin1 and text and not text.isascii():
                text = latin1_text(keyword, text)
            limit = MAX_LENGTH.get(vr)
            if limit is not None and len(text) > limit:
                text = _cut(keyword, vr, text, limit)
            value = text.encode(self.codec)
            if len(value) % 2:
                value += b"\0" if vr == "UI" else b" "
        return _long(header, value) if vr in _LONG_VRS else _short(header, value)

    # -- the compiled elements ---------------------------------------------------------------------
    def _write(self, elements: list[_Element], row: Row, out: list[bytes] | None = None) -> bytes:
        """The elements' bytes for one row; with ``out``, appended there instead (and b"" returned)."""
        parts: list[bytes] = [] if out is None else out
        codec, latin1 = self.codec, self._latin1
        for e in elements:
            if e.constant is not None:
                parts.append(e.constant)
                continue
            if e.items is not None:
                body = e.items(row)
                if body is not None:  # None: left out (see AnswerEncoder._sequence)
                    parts.append(_long(e.header, body))
                continue
            text = e.format(row)  # type: ignore[misc]
            if e.binary:
                parts.append(_long(e.header, _binary(e.vr, text)) if e.long else _short(e.header, _binary(e.vr, text)))
                continue
            if latin1 and text and not text.isascii():
                text = latin1_text(e.keyword, text)
            if e.limit is not None and len(text) > e.limit:
                text = _cut(e.keyword, e.vr, text, e.limit)  # several values may be longer together
            value = text.encode(codec)
            if len(value) % 2:
                value += e.pad
            parts.append(_long(e.header, value) if e.long else _short(e.header, value))
        return b"" if out is not None else b"".join(parts)

    def answer(self, row: Sequence[Any]) -> bytes:
        """:meth:`encode`, remembered by the row's full content.

        Modalities poll the same worklist over and over, so most rows come back unchanged; a
        changed value (or state of the step, see :mod:`vetmwl.progress`) is a different key, so
        the cache can never return a stale answer.
        """
        key = (self, tuple(row), getattr(row, STATUS_ATTRIBUTE, None))
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


def _step_keys_asked(level: Level, requested: Dataset | None) -> bool:
    """Whether a sequence is inside the step item and the query's item for it names keys."""
    return level is Level.STEP and requested is not None and len(requested) > 0


def step_time_texts(query: WorklistQuery) -> dict[str, str]:
    """The step's TM and DT keys the query matches (but the start time), with the query's text:
    their answers are written as Orthanc's re-check compares them (see vetmwl.kinds.ranges)."""
    return {f.keyword: text for f in query.filters if (text := f.compared_as_text())}
