"""The reference answer builder: the same answers as vetmwl.encoder, built with pydicom.

The plugin writes answers with its own fast writer; this builds each one as a pydicom Dataset and
lets pydicom encode it, so tests/unit/test_encoder.py can hold the two together byte for byte. The
values come from the plugin's readers (vetmwl.values), which other tests check against the
standard and Orthanc; what is checked here is the answer's shape and its encoding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from io import BytesIO
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from vetmwl.charset import LATIN1, UTF8, latin1_text
from vetmwl.encoder import requested_item, step_time_texts, vr_of_element
from vetmwl.kinds.ranges import orthanc_text, orthanc_time_text
from vetmwl.model import CHARACTER_SET, MAX_LENGTH, SPS_SEQUENCE, START_DATETIME, START_TIME, STEP_ATTRIBUTES, Level
from vetmwl.query import WorklistQuery
from vetmwl.values import Layout, Values, ViewColumn, element_items, element_text

log = logging.getLogger("vetmwl.answers")
_BINARY = {"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"}


def _value(vr: str, keyword: str, text: str, character_set: str) -> Any:
    """The element value pydicom writes as the plugin does: transliterated, cut, numbers as numbers."""
    if not text:
        return None
    if vr in _BINARY:
        numbers = [float(t) if vr in ("FL", "FD") else int(t) for t in text.split("\\")]
        return numbers[0] if len(numbers) == 1 else numbers
    if character_set == LATIN1 and vr != "UI":
        text = latin1_text(keyword, text)
    limit = MAX_LENGTH.get(vr)
    if limit is not None:
        values = text.split("\\") if vr not in ("LT", "ST", "UT") else [text]
        cut = ["=".join(g[:limit] for g in v.split("=")) if vr == "PN" else v[:limit] for v in values]
        text = "\\".join(cut)
    return text


def _element(tag: int, vr: str, keyword: str, text: str, character_set: str) -> DataElement:
    value = _value(vr, keyword, text, character_set)
    if isinstance(value, str) and vr not in ("UI",) and "\\" in value and vr not in ("LT", "ST", "UT", "UC"):
        value = value.split("\\")
    return DataElement(tag, vr, value)


def _item(requested: Dataset | None, stored: Dataset, in_step: bool, character_set: str) -> Dataset:
    """An item of stored values; a sequence the item lacks has zero items, or is left out inside the
    step item where the query's item names keys (Orthanc would empty the step for zero items)."""
    item = Dataset()
    if requested is not None and len(requested):
        wanted = [(e.tag, vr_of_element(e), e.keyword, requested_item(e) if e.VR == "SQ" else None) for e in requested]
    else:
        wanted = [(e.tag, e.VR, e.keyword, None) for e in stored]
    for tag, vr, keyword, inner in wanted:
        if vr == "SQ":
            found = element_items(stored, keyword) if keyword else None
            if found:
                item.add(DataElement(tag, "SQ", Sequence([_item(inner, i, in_step, character_set) for i in found])))
            elif not (in_step and inner is not None and len(inner) > 0):
                item.add(DataElement(tag, "SQ", Sequence()))
        else:
            text = element_text(stored, keyword) if keyword else ""
            item.add(_element(tag, vr, keyword, text, character_set))
    return item


def build_answer(
    query: WorklistQuery, view: Mapping[str, ViewColumn], row: Mapping[str, Any], character_set: str = UTF8
) -> Dataset:
    """The answer dataset for one row (a mapping of column keyword to value), as the plugin builds it."""
    layout = Layout(view)
    values = Values(layout)
    step_texts = step_time_texts(query)
    builders: list[Callable[[tuple], DataElement | None]] = []

    def builder(element: DataElement, level: Level) -> Callable[[tuple], DataElement | None]:
        vr = vr_of_element(element)
        keyword = element.keyword
        if not keyword or element.tag.is_private:
            return lambda r: DataElement(element.tag, vr, Sequence() if vr == "SQ" else None)
        if vr == "SQ":
            read_items = values.items(keyword, level)
            requested = requested_item(element)
            in_step = level is Level.STEP
            leave_out = in_step and requested is not None and len(requested) > 0

            def sequence(r: tuple) -> DataElement | None:
                stored = read_items(r) if read_items else None
                if not stored:
                    return None if leave_out else DataElement(element.tag, "SQ", Sequence())
                return DataElement(
                    element.tag, "SQ", Sequence([_item(requested, i, in_step, character_set) for i in stored])
                )

            return sequence
        read = values.text(keyword, level)
        if keyword == START_TIME and level is Level.STEP and query.start_time_text:
            start = values.start()
            read = lambda r: (orthanc_time_text(v, query.start_time_text) or "") if (v := start(r)) else ""  # noqa: E731
        elif read is not None and level is Level.STEP and keyword in step_texts:
            stored = read
            read = lambda r: (orthanc_text(vr, t, step_texts[keyword]) or t) if (t := stored(r)) else ""  # noqa: E731
        return lambda r: _element(element.tag, vr, keyword, read(r) if read else "", character_set)

    step_builders: list[Callable[[tuple], DataElement | None]] = []
    for element in query.identifier:
        if element.keyword == CHARACTER_SET or element.tag.group == 0x0002:
            continue
        if element.keyword == SPS_SEQUENCE:
            requested = query.step_requested
            if requested is None or len(requested) == 0:
                wanted = [
                    DataElement(tag_for_keyword(k), dictionary_VR(k), None)
                    for k in STEP_ATTRIBUTES
                    if k != START_DATETIME
                ]
            else:
                wanted = list(requested)
            step_builders = [builder(e, Level.STEP) for e in wanted]
            builders.append(lambda r, tag=element.tag: DataElement(tag, "SQ", Sequence([_step(r)])))
        else:
            builders.append(builder(element, Level.ROOT))

    def _step(r: tuple) -> Dataset:
        item = Dataset()
        for build in step_builders:
            if (built := build(r)) is not None:
                item.add(built)
        return item

    as_tuple = tuple(row.get(k) for k in layout.keywords)
    answer = Dataset()
    for build in builders:
        if (built := build(as_tuple)) is not None:
            answer.add(built)
    answer.SpecificCharacterSet = character_set
    return answer


def encode(answer: Dataset) -> bytes:
    """The dataset as Explicit VR Little Endian bytes without file meta, as Orthanc accepts."""
    buffer = BytesIO()
    answer.save_as(buffer, implicit_vr=False, little_endian=True, enforce_file_format=False)
    return buffer.getvalue()


def row_tuple(encoder_columns: tuple[str, ...], row: Mapping[str, Any]) -> tuple:
    """A row mapping as the tuple an encoder of those columns reads."""
    return tuple(row.get(k) for k in encoder_columns)
