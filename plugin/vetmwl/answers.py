"""Build one worklist answer per database row, shaped exactly like the modality's query.

Every key the query asked for is present in the answer (empty when the database does not know it),
because Orthanc silently drops a requested key that an answer lacks, and modalities then complain
about missing Type 2 attributes. Answers are encoded in UTF-8 (ISO_IR 192), so any name survives,
or for devices that read only Latin-1 in ISO_IR 100 with the text transliterated.

This is the reference path, written for clarity with pydicom; :mod:`vetmwl.encoder` writes the
same bytes fast, and the tests hold the two together.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.valuerep import format_number_as_ds

from . import codes
from .charset import LATIN1, UTF8, latin1_text
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
    Level,
)
from .query import SPS_SEQUENCE, WorklistQuery
from .studyuid import UID_ROOT, derived_study_uid

__all__ = ["ANSWER_CHARACTER_SET", "UID_ROOT", "build_answer", "derived_study_uid", "encode", "value_for"]

log = logging.getLogger("vetmwl.answers")

#: The default answer character set.
ANSWER_CHARACTER_SET = UTF8
#: Maximum characters per value (PN: per component group), PS3.5 Table 6.2-1.
MAX_LENGTH = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "PN": 64, "DS": 16, "UI": 64, "LT": 10240, "ST": 1024}
#: A step whose status is unknown (NULL, or no status column) is a scheduled one.
UNKNOWN_STATUS = "SCHEDULED"

Row = Mapping[str, Any]


def _truncate(keyword: str, vr: str, text: str) -> str:
    limit = MAX_LENGTH.get(vr)
    if limit is None:
        return text
    if vr == "PN":
        groups = text.split("=")
        cut = "=".join(g[:limit] for g in groups)
    else:
        cut = text[:limit]
    if cut != text:
        log.warning("%s is longer than its VR %s allows; sent cut to %d characters", keyword, vr, limit)
    return cut


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        return format_number_as_ds(float(value)) if isinstance(value, float) else _decimal_ds(value)
    return str(value).strip()


def _decimal_ds(value: Decimal | int) -> str:
    text = format(Decimal(value).normalize(), "f")
    return text if len(text) <= 16 else format_number_as_ds(float(value))


def _time_text(start: datetime) -> str:
    """TM (and the time part of DT): seconds, and the fraction only when there is one."""
    return start.strftime("%H%M%S.%f" if start.microsecond else "%H%M%S")


def value_for(keyword: str, row: Row) -> str:
    """The text of ``keyword`` for one row, '' when unknown."""
    if keyword in (START_DATE, START_TIME):
        start = row.get(START_DATETIME)
        if not isinstance(start, datetime):
            return ""
        return start.strftime("%Y%m%d") if keyword == START_DATE else _time_text(start)
    if keyword == START_DATETIME:  # (0040,4005) is a real DT attribute too
        start = row.get(START_DATETIME)
        return start.strftime("%Y%m%d") + _time_text(start) if isinstance(start, datetime) else ""
    if keyword == "ResponsiblePersonRole":
        return "OWNER" if _format(row.get("ResponsiblePerson")) else ""
    if keyword == "StudyInstanceUID":
        return _format(row.get(keyword)) or derived_study_uid(row)
    if keyword == "ScheduledProcedureStepStatus":
        return _format(row.get(keyword)) or UNKNOWN_STATUS
    column = COLUMN_BY_NAME.get(keyword)
    if column is not None and column.level is not Level.ITEM:
        return _format(row.get(keyword))
    return ""


def _vr_of(element: DataElement) -> str:
    if element.VR in ("UN", None, "") and element.tag.is_private is False:
        try:
            return dictionary_VR(element.tag)
        except KeyError:
            return "UN"
    return element.VR


def _text_element(tag: int, vr: str, keyword: str, text: str, character_set: str) -> DataElement:
    """A text element: transliterated for Latin-1 answers, then cut to its VR's length."""
    if not text:
        return DataElement(tag, vr, None)
    if character_set == LATIN1:
        text = latin1_text(keyword, text)
    return DataElement(tag, vr, _truncate(keyword, vr, text))


def _answer_element(element: DataElement, row: Row, character_set: str) -> DataElement:
    vr = _vr_of(element)
    if vr == "SQ":
        return DataElement(element.tag, "SQ", Sequence())
    text = value_for(element.keyword, row) if element.keyword else ""
    return _text_element(element.tag, vr, element.keyword, text, character_set)


def _step_item(requested: Dataset | None, row: Row, character_set: str) -> Dataset:
    item = Dataset()
    if requested is None or len(requested) == 0:
        # A zero-length sequence or an empty item is universal and asks for the whole item.
        for keyword in sorted(STEP_KEYWORDS, key=tag_for_keyword):
            tag = tag_for_keyword(keyword)
            item.add(_answer_element(DataElement(tag, dictionary_VR(tag), None), row, character_set))
        return item
    for element in requested:
        item.add(_answer_element(element, row, character_set))
    return item


def requested_item(element: DataElement) -> Dataset | None:
    """The item a query's sequence holds, None for a zero-length sequence (which asks for all)."""
    items = element.value or []
    return items[0] if len(items) else None


def _requested_elements(requested: Dataset | None, defaults: tuple[str, ...]) -> list[DataElement]:
    """The elements of the requested item, or (for an empty one) every attribute the plugin fills."""
    if requested is None or len(requested) == 0:
        return [DataElement(tag_for_keyword(k), dictionary_VR(k), None) for k in defaults]
    return list(requested)


def _code_item(requested: Dataset | None, code: codes.Code, character_set: str) -> Dataset:
    item = Dataset()
    for element in _requested_elements(requested, codes.CODE_ITEM_KEYWORDS):
        vr = _vr_of(element)
        if vr == "SQ":
            item.add(DataElement(element.tag, "SQ", Sequence()))
        else:
            text = code.text_of(element.keyword) if element.keyword else ""
            item.add(_text_element(element.tag, vr, element.keyword, text, character_set))
    return item


def _code_sequence(tag: int, requested: Dataset | None, code: codes.Code | None, character_set: str) -> DataElement:
    """Zero items when the code is unknown (Type 2C: present, empty), else one code item."""
    items = [_code_item(requested, code, character_set)] if code else []
    return DataElement(tag, "SQ", Sequence(items))


def _registration_sequence(element: DataElement, row: Row, character_set: str) -> DataElement:
    registration = codes.registration_of(row)
    if registration is None:
        return DataElement(element.tag, "SQ", Sequence())
    item = Dataset()
    for inner in _requested_elements(requested_item(element), codes.REGISTRATION_ITEM_KEYWORDS):
        if inner.keyword == REGISTRY_SEQUENCE:
            nested = requested_item(inner) if inner.VR == "SQ" else None
            item.add(_code_sequence(inner.tag, nested, registration.registry, character_set))
        elif inner.keyword == "BreedRegistrationNumber":
            item.add(_text_element(inner.tag, _vr_of(inner), inner.keyword, registration.number, character_set))
        else:  # anything else in the item is unknown to the plugin: present and empty
            vr = _vr_of(inner)
            item.add(DataElement(inner.tag, vr, Sequence() if vr == "SQ" else None))
    return DataElement(element.tag, "SQ", Sequence([item]))


def _veterinary_sequence(element: DataElement, row: Row, character_set: str) -> DataElement:
    if element.keyword == REGISTRATION_SEQUENCE:
        return _registration_sequence(element, row, character_set)
    code = codes.species_of(row) if element.keyword == SPECIES_SEQUENCE else codes.breed_of(row)
    return _code_sequence(element.tag, requested_item(element), code, character_set)


def build_answer(query: WorklistQuery, row: Row, character_set: str = UTF8) -> Dataset:
    """The answer dataset for one row: the query's keys, filled from the row."""
    answer = Dataset()
    for element in query.identifier:
        if element.keyword == "SpecificCharacterSet" or element.tag.group == 0x0002:
            continue
        if element.keyword == SPS_SEQUENCE:
            item = _step_item(query.step_requested, row, character_set)
            answer.add(DataElement(element.tag, "SQ", Sequence([item])))
        elif element.keyword in (SPECIES_SEQUENCE, BREED_SEQUENCE, REGISTRATION_SEQUENCE) and element.VR == "SQ":
            answer.add(_veterinary_sequence(element, row, character_set))
        else:
            answer.add(_answer_element(element, row, character_set))
    answer.SpecificCharacterSet = character_set
    return answer


def encode(answer: Dataset) -> bytes:
    """The dataset as Explicit VR Little Endian bytes without file meta, as Orthanc accepts."""
    buffer = BytesIO()
    answer.save_as(buffer, implicit_vr=False, little_endian=True, enforce_file_format=False)
    return buffer.getvalue()
