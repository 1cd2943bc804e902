"""A worklist C-FIND identifier read into a typed query: the filters to match and the shape to answer.

This module reads the identifier: which keys it holds, their VRs and values, the step item, the
private attributes. Each key's value is read once (:func:`_text`): decoded with the query's
character set, its padding removed as its VR says, and refused when its VR does not allow it. The
kind of matching it gets, and all that follows from that kind (its SQL, its Python check, Orthanc's
reading of it), is its kind module's, in :mod:`vetmwl.kinds`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from io import BytesIO

import pydicom
from pydicom.charset import python_encoding
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from .errors import QueryError
from .kinds import Filter, ranges, sequence, single, uid_list, wildcard
from .kinds.universal import is_universal
from .model import (
    KEEP_LEADING_SPACES,
    MAX_LENGTH,
    NEVER_MATCHED,
    NUMBER_VRS,
    SPS_TAG,
    START_DATE,
    START_TIME,
    STATUS,
    TEXT_VRS,
    UNKNOWN_STATUS,
    Level,
    element_vr,
    keyword_of,
)

#: The only control characters a decoded value may hold (PS3.5 6.1.2.3 and 6.2): TAB, LF, FF and
#: CR in the text VRs; none elsewhere. ESC belongs to ISO 2022 code extensions, which decoding
#: has already consumed.
_TEXT_CONTROLS = frozenset("\t\n\f\r")


@dataclass(frozen=True)
class WorklistQuery:
    """What a modality asked: the identifier (the answers' shape) and the filters to apply."""

    identifier: Dataset
    filters: tuple[Filter, ...]
    step_requested: Dataset | None
    #: Private attributes anywhere in the identifier, as ``(gggg,eeee)``.
    private_tags: tuple[str, ...] = ()
    #: The SPS Start Time as the query gave it (Orthanc's re-check compares the answers' to it).
    start_time_text: str = ""
    #: Step keys whose value starts with spaces: padding to DICOM, but not to Orthanc's re-check.
    padded_step_keys: tuple[str, ...] = ()

    def matching_keys(self) -> dict[str, str]:
        """The non-universal keys, for the log line of each C-FIND."""
        return dict(f.shown() for f in self.filters)


# -- reading the identifier --------------------------------------------------------------------------
def read_identifier(raw: bytes) -> Dataset:
    """The C-FIND identifier Orthanc hands over (a DICOM file) as a dataset without file meta."""
    try:
        dataset = pydicom.dcmread(BytesIO(raw), force=True)
    except (InvalidDicomError, EOFError, ValueError, OSError) as exc:
        raise QueryError(f"the query is not a readable DICOM dataset ({exc})") from exc
    if len(dataset) == 0:
        raise QueryError("the query holds no keys (an empty or unreadable DICOM identifier)")
    dataset.file_meta = pydicom.dataset.FileMetaDataset()
    return dataset


def _check_character_set(dataset: Dataset) -> None:
    """Refuse a character set we cannot decode, rather than match on garbage."""
    terms = dataset.get("SpecificCharacterSet") or []
    for term in [terms] if isinstance(terms, str) else terms:
        if term and python_encoding.get(term.strip()) is None:
            raise QueryError(f"the query's Specific Character Set {term!r} is not supported")


def _text(dataset: Dataset, tag: int, keyword: str) -> str:
    """An element's value as text, decoded with the query's character set; '' when empty.

    This is the one normalization of a query value: every filter, and so the SQL and its bound
    parameters alike, is made from what it returns. Padding goes as PS3.5 6.2 says: spaces at both
    ends of most text VRs, only trailing ones for LT, ST and UT (their leading spaces are
    significant), and NUL or spaces around a UID. A value the VR does not allow is refused here:
    several values where only a list of UIDs may have them, control characters, or bytes the
    declared character set cannot decode.
    """
    element = dataset[tag]
    value = element.value
    if value is None:
        return ""
    vr = element.VR
    if isinstance(value, pydicom.multival.MultiValue):
        if vr != "UI" and len(value) > 1:
            raise QueryError(
                f"{keyword} holds {len(value)} values; only Study Instance UID may list several (PS3.4 C.2.2.2.2)"
            )
        text = "\\".join(str(v) for v in value)
    elif isinstance(value, bytes):
        raise QueryError(f"{keyword} ({vr}) holds binary data, which cannot be matched")
    else:
        text = str(value)
    if "\ufffd" in text:
        raise QueryError(f"{keyword}: a value cannot be decoded with the query's Specific Character Set")
    if vr in KEEP_LEADING_SPACES:
        text = text.rstrip(" ")
    elif vr == "UI":
        text = text.strip("\0 ")
    else:
        text = text.strip(" ")
    controls = sorted(
        {c for c in text if unicodedata.category(c) == "Cc" and not (vr in KEEP_LEADING_SPACES and c in _TEXT_CONTROLS)}
    )
    if controls:
        codes = ", ".join(f"U+{ord(c):04X}" for c in controls)
        raise QueryError(f"{keyword} ({vr}) holds the control character(s) {codes}, which that VR does not allow")
    _check_length(keyword, vr, text)
    return text


def _check_length(keyword: str, vr: str, text: str) -> None:
    """Refuse a value longer than its VR allows (PS3.5 Table 6.2-1; PN per component group, a UID
    list per UID): no stored value can be that long, and the matcher need not read it."""
    limit = MAX_LENGTH.get(vr)
    if limit is None:
        return
    parts = text.split("=") if vr == "PN" else text.split("\\") if vr == "UI" else [text]
    longest = max(len(p) for p in parts)
    if longest > limit:
        raise QueryError(f"{keyword} ({vr}) is {longest} characters long; its VR allows {limit} (PS3.5 Table 6.2-1)")


def _text_filter(keyword: str, value: str, vr: str, level: Level, or_unknown: bool = False) -> Filter | None:
    if vr == "PN":
        value = value.rstrip("^ ")
    if is_universal(value, vr):
        return None
    return wildcard.parse(keyword, value, vr, level, or_unknown) or single.parse(keyword, value, vr, level, or_unknown)


def _status_filter(value: str) -> Filter | None:
    """SPS Status: a key that selects SCHEDULED also selects the steps whose status is unknown."""
    found = _text_filter(STATUS, value, "CS", Level.STEP)
    if found is not None and found.selects(UNKNOWN_STATUS):
        return _text_filter(STATUS, value, "CS", Level.STEP, or_unknown=True)
    return found


def _value_filter(dataset: Dataset, tag: int, keyword: str, level: Level) -> Filter | None:
    """The filter of one non-empty element of the identifier or of a sequence item in it."""
    vr = dataset[tag].VR
    if vr == "SQ":
        return sequence.parse(keyword, dataset[tag].value or [], level, _filters_of)
    value = _text(dataset, tag, keyword)
    if not value:
        return None
    if keyword == STATUS:
        return _status_filter(value)
    if vr == "UI":
        return uid_list.parse(keyword, value, level)
    if vr in ranges.VRS:
        return ranges.parse(keyword, value, vr, level)
    if vr in TEXT_VRS:
        return _text_filter(keyword, value, vr, level)
    if vr in NUMBER_VRS:
        return None if is_universal(value, vr) else single.parse(keyword, value, vr, level)
    return None  # binary VRs are returned, never matched


def _start_filters(step: Dataset) -> tuple[list[Filter], str]:
    """SPS Start Date and Time (see :func:`vetmwl.kinds.ranges.start_filters`), and the start time
    as the query gave it."""
    texts = {}
    for keyword in (START_DATE, START_TIME):
        tag = pydicom.datadict.tag_for_keyword(keyword)
        texts[keyword] = _text(step, tag, keyword) if tag in step else ""
    return list(ranges.start_filters(texts[START_DATE], texts[START_TIME])), texts[START_TIME]


def _has_value(element: object) -> bool:
    """Whether a raw or converted element carries a value, without converting it (that is slow)."""
    return bool(getattr(element, "value", None))


_START_TAGS = {pydicom.datadict.tag_for_keyword(START_DATE), pydicom.datadict.tag_for_keyword(START_TIME)}


def _filters_of(dataset: Dataset, level: Level) -> list[Filter]:
    """Filters for the non-empty public elements of ``dataset`` (the root, or an item).

    Empty elements (most of a query) are only requested, never matched, so they are skipped
    before pydicom converts them: parsing is most of a small query's cost.
    """
    filters = []
    for tag in dataset.keys():  # noqa: SIM118 - iterating the dataset would convert every element
        if tag == SPS_TAG or tag in _START_TAGS or tag.is_private:
            continue
        keyword = keyword_of(tag)
        if not keyword or keyword in NEVER_MATCHED or not _has_value(dataset.get_item(tag, keep_deferred=True)):
            continue
        found = _value_filter(dataset, tag, keyword, level)
        if found is not None:
            filters.append(found)
    return filters


def _raw_vr(raw: DataElement | RawDataElement) -> str:
    """The VR of an element, read without converting it (see :func:`vetmwl.model.element_vr`)."""
    return element_vr(raw.tag, raw.VR)


def _padded(dataset: Dataset) -> list[str]:
    """The text keys of ``dataset`` whose value starts with a space (read without converting the rest)."""
    found = []
    for tag in dataset.keys():  # noqa: SIM118 - iterating the dataset would convert every element
        if tag.is_private:
            continue
        raw = dataset.get_item(tag, keep_deferred=True)
        vr = _raw_vr(raw)
        if vr not in TEXT_VRS or vr in KEEP_LEADING_SPACES or not _has_value(raw):
            continue
        value = raw.value  # as received: pydicom strips some VRs' padding when it converts them
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str) and value.startswith(" ") and value.strip(" \0"):
            found.append(keyword_of(tag))
    return found


def _private_tags(dataset: Dataset) -> list[str]:
    """The private attributes anywhere in the identifier, as ``(gggg,eeee)``, read without converting."""
    found = []
    for tag in dataset.keys():  # noqa: SIM118 - iterating the dataset would convert every element
        if tag.group % 2:
            found.append(f"({tag.group:04X},{tag.element:04X})")
        elif _raw_vr(dataset.get_item(tag, keep_deferred=True)) == "SQ":
            for item in dataset[tag].value or []:
                found += _private_tags(item)
    return found


def parse_query(identifier: Dataset) -> WorklistQuery:
    """Turn the identifier into filters; raise :class:`QueryError` when it cannot be matched.

    Private attributes are never matched; they are returned empty when asked for, and listed in
    ``private_tags`` because some Orthancs (1.10) refuse every answer to a query that has them.
    """
    _check_character_set(identifier)
    if "QueryRetrieveLevel" in identifier:
        del identifier.QueryRetrieveLevel  # not part of a worklist query; some modalities send it.
    step_requested: Dataset | None = None
    start_time = ""
    padded: list[str] = []
    try:
        filters = _filters_of(identifier, Level.ROOT)
        if SPS_TAG in identifier:
            items = identifier[SPS_TAG].value or []
            if len(items) > 1:
                raise QueryError("the Scheduled Procedure Step Sequence holds more than one item")
            step_requested = items[0] if items else Dataset()
            padded = _padded(step_requested)
            filters += _filters_of(step_requested, Level.STEP)
            start, start_time = _start_filters(step_requested)
            filters += start
    except (UnicodeDecodeError, LookupError) as exc:
        raise QueryError(f"a value in the query cannot be decoded with its character set ({exc})") from exc
    return WorklistQuery(
        identifier=identifier,
        filters=tuple(filters),
        step_requested=step_requested,
        private_tags=tuple(_private_tags(identifier)),
        start_time_text=start_time,
        padded_step_keys=tuple(padded),
    )
