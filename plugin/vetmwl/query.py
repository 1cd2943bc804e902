"""A worklist C-FIND identifier read into a typed query: the filters to match and the shape to answer.

One filter type per kind of matching of PS3.4 C.2.2.2; whether SQL or Python decides a filter
is the service's choice (:mod:`vetmwl.service`), how SQL decides it is the templates' (one macro
per type), how Python decides it is :mod:`vetmwl.matching`'s.

Each value is read once (:func:`_text`): decoded with the query's character set, its padding
removed as its VR says, and refused when its VR does not allow it. The SQL and its bound values are
both made from that one reading.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from io import BytesIO
from typing import ClassVar

import pydicom
from pydicom.charset import python_encoding
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from .dicomtime import ValueFormatError, date_interval, datetime_interval, datetime_value_interval, time_interval
from .errors import QueryError
from .model import (
    KEEP_LEADING_SPACES,
    NEVER_MATCHED,
    NUMBER_VRS,
    SPS_SEQUENCE,
    START_DATE,
    START_DATETIME,
    START_TIME,
    STATUS,
    STUDY_UID,
    TEXT_VRS,
    UNKNOWN_STATUS,
    Level,
    keyword_of,
)
from .studyuid import UID_ROOT

#: The only control characters a decoded value may hold (PS3.5 6.1.2.3 and 6.2): TAB, LF, FF and
#: CR in the text VRs; none elsewhere. ESC belongs to ISO 2022 code extensions, which decoding
#: has already consumed.
_TEXT_CONTROLS = frozenset("\t\n\f\r")


def person_name_upper(text: str) -> str:
    """``text`` upper-cased one character at a time: the one case folding of PN matching.

    Databases upper-case each character to one character (PostgreSQL's UPPER() keeps ``ß``, whose
    capital is ``SS``), so the value bound for them and Python's own matching must too: bound as
    ``STRASSE``, ``Straße`` would never find the stored ``Straße``.
    """
    upper = text.upper()
    if len(upper) == len(text):  # no capital longer than its letter: the usual case, at C speed
        return upper
    return "".join(u if len(u := c.upper()) == 1 else c for c in text)


@lru_cache(maxsize=1024)
def _wildcard_regex(pattern: str, fold_case: bool) -> re.Pattern[str]:
    """A DICOM pattern as a compiled regex, made once: Python matches it against row after row."""
    text = person_name_upper(pattern) if fold_case else pattern
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text), re.DOTALL)


def wildcard_matches(pattern: str, text: str, fold_case: bool = False) -> bool:
    """Wild Card Matching (PS3.4 C.2.2.2.4) of one value: ``*`` any characters, ``?`` one character;
    ``fold_case`` (PN): both sides upper-cased by :func:`person_name_upper`."""
    return _wildcard_regex(pattern, fold_case).fullmatch(person_name_upper(text) if fold_case else text) is not None


# -- the filters: one type per kind of matching ---------------------------------------------------
@dataclass(frozen=True)
class Equals:
    """Single Value Matching (PS3.4 C.2.2.2.1). ``fold_case``: PN, compared without case.
    ``or_unknown``: a row whose value is NULL or empty matches too (SPS Status, see policy)."""

    keyword: str
    value: str
    fold_case: bool = False
    or_unknown: bool = False
    level: Level = Level.ROOT
    macro: ClassVar[str] = "equals"

    def params(self) -> list[object]:
        return [person_name_upper(self.value) if self.fold_case else self.value]


@dataclass(frozen=True)
class Like:
    """Wild Card Matching (PS3.4 C.2.2.2.4): ``*`` any characters, ``?`` one character."""

    keyword: str
    pattern: str
    fold_case: bool = False
    or_unknown: bool = False
    level: Level = Level.ROOT
    macro: ClassVar[str] = "like"

    def params(self) -> list[object]:
        return [person_name_upper(self.pattern) if self.fold_case else self.pattern]


@dataclass(frozen=True)
class Range:
    """Range Matching (PS3.4 C.2.2.2.5) of dates or date-times: ``start <= value < end``, half open;
    an open bound is None (not both)."""

    keyword: str
    start: date | datetime | None
    end: date | datetime | None
    level: Level = Level.ROOT
    text: str = ""
    macro: ClassVar[str] = "range"

    def __post_init__(self) -> None:
        if self.start is None and self.end is None:
            raise ValueError(f"a range on {self.keyword} needs at least one bound")

    def params(self) -> list[object]:
        return [v for v in (self.start, self.end) if v is not None]


@dataclass(frozen=True)
class TimeOfDay:
    """Range Matching of a time of day (TM, PS3.4 C.2.2.2.5), as offsets from midnight; on the start
    date-time column, the window applies on every day. ``text`` is the query's value, as Orthanc
    compares it (see :func:`vetmwl.matching.orthanc_time_text`)."""

    keyword: str
    start: timedelta | None
    end: timedelta | None
    level: Level = Level.ROOT
    text: str = ""
    macro: ClassVar[str] = "time_of_day"

    def __post_init__(self) -> None:
        if self.start is None and self.end is None:
            raise ValueError(f"a time window on {self.keyword} needs at least one bound")

    def params(self) -> list[object]:
        return [v.total_seconds() for v in (self.start, self.end) if v is not None]


@dataclass(frozen=True)
class InList:
    """List of UID Matching (PS3.4 C.2.2.2.2); the AE's offered statuses and modality aliases too."""

    keyword: str
    values: tuple[str, ...]
    or_unknown: bool = False
    level: Level = Level.ROOT
    macro: ClassVar[str] = "in_list"

    def params(self) -> list[object]:
        return list(self.values)


@dataclass(frozen=True)
class ItemMatch:
    """Sequence Matching (PS3.4 C.2.2.2.6): some item of the stored sequence matches all ``filters``.
    Decided in Python only."""

    keyword: str
    filters: tuple[Filter, ...]
    level: Level = Level.ROOT
    macro: ClassVar[str] = ""


Filter = Equals | Like | Range | TimeOfDay | InList | ItemMatch


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
        keys: dict[str, str] = {}
        for f in self.filters:
            if isinstance(f, InList):
                keys[f.keyword] = "\\".join(f.values)
            elif isinstance(f, Equals):
                keys[f.keyword] = f.value
            elif isinstance(f, Like):
                keys[f.keyword] = f.pattern
            elif isinstance(f, ItemMatch):
                inner = WorklistQuery(Dataset(), f.filters, None).matching_keys()
                keys[f.keyword] = "[" + ", ".join(f"{k}={v}" for k, v in inner.items()) + "]"
            else:
                # A date range and a time window can both bear on the start date-time column.
                name = START_TIME if isinstance(f, TimeOfDay) and f.keyword == START_DATETIME else f.keyword
                name = START_DATE if isinstance(f, Range) and f.keyword == START_DATETIME else name
                keys[name] = f"{f.start or ''}..{f.end or ''}"
        return keys


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
    return text


def _is_universal(value: str, person_name: bool) -> bool:
    """Universal Matching (PS3.4 C.2.2.2.3): empty, or only ``*``; for PN, only wildcards and
    component separators (``*^*``, which modalities send for "any name")."""
    if person_name:
        return value.strip("*^= ") == ""
    return value == "" or set(value) == {"*"}


def _text_filter(keyword: str, value: str, vr: str, level: Level) -> Filter | None:
    person_name = vr == "PN"
    if person_name:
        value = value.rstrip("^ ")
    if _is_universal(value, person_name):
        return None
    if "*" in value or "?" in value:
        return Like(keyword, value, fold_case=person_name, level=level)
    return Equals(keyword, value, fold_case=person_name, level=level)


def _uid_filter(keyword: str, value: str, level: Level) -> Filter | None:
    """List of UID matching (a single UID is a list of one). UIDs take no wildcards; ``*`` alone is
    universal. A Study Instance UID the plugin may have derived (``2.25.``) also selects the rows
    without a stored UID, which the service then checks in Python."""
    uids = tuple(dict.fromkeys(u.strip("\0 ") for u in value.split("\\") if u.strip("\0 ")))
    if not uids or uids == ("*",):
        return None
    derived = keyword == STUDY_UID and any(u.startswith(UID_ROOT) for u in uids)
    return InList(keyword, uids, or_unknown=derived, level=level)


def _status_filter(value: str) -> Filter | None:
    """SPS Status: a key that selects SCHEDULED also selects the steps whose status is unknown."""
    found = _text_filter(STATUS, value, "CS", Level.STEP)
    if isinstance(found, Equals | Like) and selects(found, UNKNOWN_STATUS):
        return replace(found, or_unknown=True)
    return found


def selects(f: Equals | Like | InList, text: str) -> bool:
    """Whether ``f`` lets the (known, single) value ``text`` through: what a key decides about a
    value known before any row is read, such as the statuses an SPS Status key selects."""
    if isinstance(f, InList):
        return text in f.values
    if isinstance(f, Like):
        return wildcard_matches(f.pattern, text, f.fold_case)
    return person_name_upper(text) == person_name_upper(f.value) if f.fold_case else text == f.value


def _value_filter(dataset: Dataset, tag: int, keyword: str, level: Level) -> Filter | None:
    """The filter of one non-empty element of the identifier or of a sequence item in it."""
    vr = dataset[tag].VR
    if vr == "SQ":
        items = dataset[tag].value or []
        if len(items) > 1:
            raise QueryError(f"{keyword} holds {len(items)} items; a key sequence holds one (PS3.4 C.2.2.2.6)")
        inner = _filters_of(items[0], level) if items else []
        return ItemMatch(keyword, tuple(inner), level) if inner else None
    value = _text(dataset, tag, keyword)
    if not value:
        return None
    if keyword == STATUS:
        return _status_filter(value)
    if vr == "UI":
        return _uid_filter(keyword, value, level)
    try:
        if vr == "DA":
            return Range(keyword, *date_interval(value), level=level)
        if vr == "TM":
            return TimeOfDay(keyword, *time_interval(value), level=level, text=value)
        if vr == "DT":
            return Range(keyword, *datetime_value_interval(value), level=level, text=value)
    except ValueFormatError as exc:
        raise QueryError(f"{keyword}: {exc}") from exc
    if vr in TEXT_VRS:
        return _text_filter(keyword, value, vr, level)
    if vr in NUMBER_VRS:
        return None if value == "*" else Equals(keyword, value, level=level)
    return None  # binary VRs are returned, never matched


def _start_filters(step: Dataset) -> list[Filter]:
    """SPS Start Date and Time, each on its own: a date range on the start date-time column, and a
    window of the day on every day (see docs/conformance.md, "Dates and times")."""
    texts = {}
    for keyword in (START_DATE, START_TIME):
        tag = pydicom.datadict.tag_for_keyword(keyword)
        texts[keyword] = _text(step, tag, keyword) if tag in step else ""
    try:
        start, end, time_of_day = datetime_interval(texts[START_DATE], texts[START_TIME])
    except ValueFormatError as exc:
        raise QueryError(f"Scheduled Procedure Step Start Date/Time: {exc}") from exc
    filters: list[Filter] = []
    if start is not None or end is not None:
        filters.append(Range(START_DATETIME, start, end, level=Level.STEP))
    if time_of_day is not None:
        filters.append(TimeOfDay(START_DATETIME, *time_of_day, level=Level.STEP, text=texts[START_TIME]))
    return filters


def _has_value(element: object) -> bool:
    """Whether a raw or converted element carries a value, without converting it (that is slow)."""
    return bool(getattr(element, "value", None))


_SPS_TAG = pydicom.datadict.tag_for_keyword(SPS_SEQUENCE)
_START_TAGS = {pydicom.datadict.tag_for_keyword(START_DATE), pydicom.datadict.tag_for_keyword(START_TIME)}


def _filters_of(dataset: Dataset, level: Level) -> list[Filter]:
    """Filters for the non-empty public elements of ``dataset`` (the root, or an item).

    Empty elements (most of a query) are only requested, never matched, so they are skipped
    before pydicom converts them: parsing is most of a small query's cost.
    """
    filters = []
    for tag in dataset.keys():  # noqa: SIM118 - iterating the dataset would convert every element
        if tag == _SPS_TAG or tag in _START_TAGS or tag.is_private:
            continue
        keyword = keyword_of(tag)
        if not keyword or keyword in NEVER_MATCHED or not _has_value(dataset.get_item(tag, keep_deferred=True)):
            continue
        found = _value_filter(dataset, tag, keyword, level)
        if found is not None:
            filters.append(found)
    return filters


def _raw_vr(raw: DataElement | RawDataElement) -> str | None:
    """The VR of a public element, read without converting it: pydicom leaves it None (Implicit VR
    Little Endian) or UN until conversion, which then takes the dictionary's, and so does this."""
    vr = raw.VR
    if vr is None or vr == "UN":
        try:
            return dictionary_VR(raw.tag)
        except KeyError:
            return vr
    return vr


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
        if _SPS_TAG in identifier:
            items = identifier[_SPS_TAG].value or []
            if len(items) > 1:
                raise QueryError("the Scheduled Procedure Step Sequence holds more than one item")
            step_requested = items[0] if items else Dataset()
            padded = _padded(step_requested)
            filters += _filters_of(step_requested, Level.STEP)
            filters += _start_filters(step_requested)
            start_time = next((f.text for f in filters if isinstance(f, TimeOfDay) and f.keyword == START_DATETIME), "")
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
