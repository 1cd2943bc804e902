"""Build one worklist answer per database row, shaped exactly like the modality's query.

Every key the query asked for is present in the answer (empty when the database does not know it),
because Orthanc silently drops a requested key that an answer lacks, and modalities then complain
about missing Type 2 attributes. Answers are encoded in UTF-8 (ISO_IR 192), so any name survives.
"""

from __future__ import annotations

import hashlib
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

from .contract import COLUMN_BY_NAME, START_DATE, START_DATETIME, START_TIME, STEP_KEYWORDS
from .query import SPS_SEQUENCE, WorklistQuery

log = logging.getLogger("vetmwl.answers")

ANSWER_CHARACTER_SET = "ISO_IR 192"
#: Maximum characters per value (PN: per component group), PS3.5 Table 6.2-1.
MAX_LENGTH = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "PN": 64, "DS": 16, "UI": 64, "LT": 10240, "ST": 1024}
#: Root for Study Instance UIDs derived from an order's identity (PS3.5 B.2: UUID-derived UIDs).
UID_ROOT = "2.25."

Row = Mapping[str, Any]


def derived_study_uid(row: Row) -> str:
    """A stable Study Instance UID for an order that has none in the database.

    The same order gives the same UID on every query and every Orthanc instance, so images taken
    on two modalities for one order land in one study.
    """
    identity = "|".join(
        str(row.get(key) or "").strip() for key in ("AccessionNumber", "RequestedProcedureID", "PatientID")
    )
    if not identity.strip("|") or not (row.get("AccessionNumber") or row.get("RequestedProcedureID")):
        identity += "|" + str(row.get("ScheduledProcedureStepID") or "")
    digest = hashlib.sha256(b"vetmwl-study-instance-uid|" + identity.encode("utf-8")).digest()
    return UID_ROOT + str(int.from_bytes(digest[:16], "big"))


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


def value_for(keyword: str, row: Row) -> str:
    """The text of ``keyword`` for one row, '' when unknown."""
    if keyword in (START_DATE, START_TIME):
        start = row.get(START_DATETIME)
        if not isinstance(start, datetime):
            return ""
        return start.strftime("%Y%m%d") if keyword == START_DATE else start.strftime("%H%M%S")
    if keyword == START_DATETIME:  # (0040,4005) is a real DT attribute too
        start = row.get(START_DATETIME)
        return start.strftime("%Y%m%d%H%M%S") if isinstance(start, datetime) else ""
    if keyword == "ResponsiblePersonRole":
        return "OWNER" if _format(row.get("ResponsiblePerson")) else ""
    if keyword == "StudyInstanceUID":
        return _format(row.get(keyword)) or derived_study_uid(row)
    if keyword in COLUMN_BY_NAME:
        return _format(row.get(keyword))
    return ""


def _vr_of(element: DataElement) -> str:
    if element.VR in ("UN", None, "") and element.tag.is_private is False:
        try:
            return dictionary_VR(element.tag)
        except KeyError:
            return "UN"
    return element.VR


def _answer_element(element: DataElement, row: Row) -> DataElement:
    vr = _vr_of(element)
    if vr == "SQ":
        return DataElement(element.tag, "SQ", Sequence())
    text = value_for(element.keyword, row) if element.keyword else ""
    if not text:
        return DataElement(element.tag, vr, None)
    return DataElement(element.tag, vr, _truncate(element.keyword, vr, text))


def _step_item(requested: Dataset | None, row: Row) -> Dataset:
    item = Dataset()
    if requested is None or len(requested) == 0:
        # A zero-length sequence or an empty item is universal and asks for the whole item.
        for keyword in sorted(STEP_KEYWORDS, key=tag_for_keyword):
            tag = tag_for_keyword(keyword)
            item.add(_answer_element(DataElement(tag, dictionary_VR(tag), None), row))
        return item
    for element in requested:
        item.add(_answer_element(element, row))
    return item


def build_answer(query: WorklistQuery, row: Row) -> Dataset:
    """The answer dataset for one row: the query's keys, filled from the row."""
    answer = Dataset()
    for element in query.identifier:
        if element.keyword == "SpecificCharacterSet" or element.tag.group == 0x0002:
            continue
        if element.keyword == SPS_SEQUENCE:
            answer.add(DataElement(element.tag, "SQ", Sequence([_step_item(query.step_requested, row)])))
        else:
            answer.add(_answer_element(element, row))
    answer.SpecificCharacterSet = ANSWER_CHARACTER_SET
    return answer


def encode(answer: Dataset) -> bytes:
    """The dataset as Explicit VR Little Endian bytes without file meta, as Orthanc accepts."""
    buffer = BytesIO()
    answer.save_as(buffer, implicit_vr=False, little_endian=True, enforce_file_format=False)
    return buffer.getvalue()
