"""Parse a worklist C-FIND identifier into a typed query: filters to match and keys to return.

Matching follows PS3.4 C.2.2.2: an empty value, ``*`` or (for PN) a value of only wildcards and
component separators is universal; ``*``/``?`` make a wildcard match; DA and TM take ranges; Study
Instance UID takes a list. PN matching ignores case (our conformance statement says so).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from io import BytesIO

import pydicom
from pydicom.charset import python_encoding
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from . import contract
from .contract import COLUMN_BY_NAME, START_DATE, START_DATETIME, START_TIME, Kind
from .dicomtime import ValueFormatError, date_interval, datetime_interval
from .errors import QueryError
from .studyuid import UID_ROOT, UID_SOURCES, effective_study_uid

SPS_SEQUENCE = "ScheduledProcedureStepSequence"
PN_COLUMNS = frozenset(
    {
        "PatientName",
        "ReferringPhysicianName",
        "ScheduledPerformingPhysicianName",
        "ResponsiblePerson",
    }
)
#: Keys that are never matched (PS3.4 K.6-1a, and 0008,0052 some modalities send by mistake).
_NEVER_MATCHED = frozenset({"SpecificCharacterSet", "TimezoneOffsetFromUTC", "QueryRetrieveLevel"})
STATUS = "ScheduledProcedureStepStatus"
STUDY_UID = "StudyInstanceUID"
#: A step whose status is unknown (NULL or empty) is SCHEDULED: offered, matched and answered as such.
UNKNOWN_STATUS = "SCHEDULED"
#: VRs whose leading spaces are significant (PS3.5 6.2): only trailing padding is removed.
_KEEP_LEADING = frozenset({"LT", "ST", "UT"})
#: The only control characters a decoded value may hold (PS3.5 6.1.2.3 and 6.2): TAB, LF, FF and
#: CR in the text VRs; none elsewhere. ESC belongs to ISO 2022 code extensions, which decoding
#: has already consumed.
_TEXT_CONTROLS = frozenset("\t\n\f\r")


@dataclass(frozen=True)
class Equals:
    """Single value matching. ``or_unknown``: rows whose column is NULL or empty match too."""

    column: str
    value: str
    fold_case: bool = False
    kind: str = "equals"
    or_unknown: bool = False

    def params(self) -> list[object]:
        return [self.value.upper() if self.fold_case else self.value]


@dataclass(frozen=True)
class Like:
    """A DICOM wildcard pattern (``*``, ``?``); the SQL renderer turns it into LIKE."""

    column: str
    pattern: str
    fold_case: bool = False
    kind: str = "like"
    or_unknown: bool = False

    def params(self) -> list[object]:
        return [self.pattern.upper() if self.fold_case else self.pattern]


@dataclass(frozen=True)
class Range:
    """``start <= column < end``; an open bound is ``None`` and renders no comparison (not both)."""

    column: str
    start: date | datetime | None
    end: date | datetime | None
    kind: str = "range"

    def __post_init__(self) -> None:
        if self.start is None and self.end is None:
            raise ValueError(f"a range on {self.column} needs at least one bound")

    def params(self) -> list[object]:
        return [v for v in (self.start, self.end) if v is not None]


@dataclass(frozen=True)
class TimeOfDay:
    """SPS Start Time without a date: a window within every day, as seconds after midnight."""

    column: str
    start: timedelta | None
    end: timedelta | None
    kind: str = "time_of_day"

    def __post_init__(self) -> None:
        if self.start is None and self.end is None:
            raise ValueError(f"a time window on {self.column} needs at least one bound")

    def params(self) -> list[object]:
        return [v.total_seconds() for v in (self.start, self.end) if v is not None]


@dataclass(frozen=True)
class InList:
    """List matching (List of UID; also the offered statuses and modality aliases)."""

    column: str
    values: tuple[str, ...]
    kind: str = "in_list"
    or_unknown: bool = False

    def params(self) -> list[object]:
        return list(self.values)


Filter = Equals | Like | Range | TimeOfDay | InList


def person_name_matches(pattern: str, value: object) -> bool:
    """PN matching in Python, case-insensitive for every script, with ``*`` and ``?``."""
    if value is None:
        return False
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, str(value).strip(" "), re.IGNORECASE | re.DOTALL) is not None


def text_matches(f: Filter, value: object) -> bool:
    """Whether a text filter selects ``value``, decided in Python exactly as the SQL decides it."""
    if value is None or str(value).strip(" ") == "":
        return bool(getattr(f, "or_unknown", False))
    text = str(value).strip(" ")
    if isinstance(f, InList):
        return text in f.values
    if isinstance(f, Equals | Like):
        pattern = f.pattern if isinstance(f, Like) else f.value
        if f.fold_case:
            return person_name_matches(pattern, text)
        if isinstance(f, Equals):
            return text == pattern
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        return re.fullmatch(regex, text, re.DOTALL) is not None
    return False


def needs_recheck(f: Filter, dialect: str) -> bool:
    """Whether SQL alone cannot decide this filter: non-ASCII case folding on SQLite, and Study
    Instance UIDs that may be derived (SQL selects the rows without a stored UID as candidates)."""
    if isinstance(f, InList) and f.column == STUDY_UID:
        return f.or_unknown
    if dialect != "sqlite" or not isinstance(f, Like | Equals) or not f.fold_case:
        return False
    return not (f.pattern if isinstance(f, Like) else f.value).isascii()


def recheck_columns(f: Filter) -> tuple[str, ...]:
    """The columns :func:`recheck` reads."""
    return (STUDY_UID, *UID_SOURCES) if f.column == STUDY_UID else (f.column,)


def recheck(f: Filter, row: Mapping[str, object]) -> bool:
    """The Python half of a filter that :func:`needs_recheck`: does this row really match?"""
    if f.column == STUDY_UID and isinstance(f, InList):
        return effective_study_uid(row) in f.values
    return text_matches(f, row.get(f.column))


@dataclass(frozen=True)
class WorklistQuery:
    """What a modality asked: the identifier (the answers' shape) and the filters to apply."""

    identifier: Dataset
    filters: tuple[Filter, ...]
    step_requested: Dataset | None
    #: Private attributes anywhere in the identifier, as ``(gggg,eeee)``.
    private_tags: tuple[str, ...] = ()

    def matching_keys(self) -> dict[str, str]:
        """The non-universal keys, for the log line of each C-FIND."""
        keys = {}
        for f in self.filters:
            if isinstance(f, InList):
                keys[f.column] = "\\".join(f.values)
            elif isinstance(f, Equals | Like):
                keys[f.column] = f.value if isinstance(f, Equals) else f.pattern
            else:
                # A date range and a time window can both bear on the start date-time column.
                name = "ScheduledProcedureStepStartTime" if isinstance(f, TimeOfDay) else f.column
                keys[name] = f"{f.start or ''}..{f.end or ''}"
        return keys


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


def _text(dataset: Dataset, keyword: str) -> str:
    """An element's value as text, decoded with the query's character set; '' when empty.

    This is the one normalization of a query value: every filter, and so the SQL and its bound
    parameters alike, is made from what it returns. Padding goes as PS3.5 6.2 says: spaces at both
    ends of most text VRs, only trailing ones for LT, ST and UT (their leading spaces are
    significant), and NUL or spaces around a UID. A value the VR does not allow is refused here:
    several values where only a list of UIDs may have them, control characters, or bytes the
    declared character set cannot decode.
    """
    if keyword not in dataset:
        return ""
    element = dataset[keyword]  # the element, for its VR (Dataset.get would give the value)
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
    else:
        text = str(value)
    if "\ufffd" in text:
        raise QueryError(f"{keyword}: a value cannot be decoded with the query's Specific Character Set")
    if vr in _KEEP_LEADING:
        text = text.rstrip(" ")
    elif vr == "UI":
        text = text.strip("\0 ")
    else:
        text = text.strip(" ")
    controls = sorted(
        {c for c in text if unicodedata.category(c) == "Cc" and not (vr in _KEEP_LEADING and c in _TEXT_CONTROLS)}
    )
    if controls:
        codes = ", ".join(f"U+{ord(c):04X}" for c in controls)
        raise QueryError(f"{keyword} ({vr}) holds the control character(s) {codes}, which that VR does not allow")
    return text


def _is_universal(value: str, person_name: bool) -> bool:
    if person_name:
        return value.strip("*^= ") == "" or value.replace("*", "") == ""
    return value == "" or set(value) == {"*"}


def _text_filter(column: str, value: str) -> Filter | None:
    person_name = column in PN_COLUMNS
    if person_name:
        value = value.rstrip("^ ")
    if _is_universal(value, person_name):
        return None
    if "*" in value or "?" in value:
        return Like(column, value, fold_case=person_name)
    return Equals(column, value, fold_case=person_name)


def _uid_filter(value: str) -> Filter | None:
    """List of UID matching (a single UID is a list of one). UIDs take no wildcards; ``*`` alone
    is universal. A UID the plugin may have derived (``2.25.``) also selects the rows without a
    stored UID, which the service then checks in Python (see :func:`recheck`)."""
    uids = tuple(dict.fromkeys(u.strip("\0 ") for u in value.split("\\") if u.strip("\0 ")))
    if not uids or uids == ("*",):
        return None
    return InList(STUDY_UID, uids, or_unknown=any(u.startswith(UID_ROOT) for u in uids))


def _status_filter(value: str) -> Filter | None:
    """SPS Status: a key that selects SCHEDULED also selects the steps whose status is unknown."""
    found = _text_filter(STATUS, value)
    if found is not None and text_matches(found, UNKNOWN_STATUS):
        return replace(found, or_unknown=True)
    return found


def _value_filter(keyword: str, dataset: Dataset) -> Filter | None:
    column = COLUMN_BY_NAME.get(keyword)
    if column is None or keyword == START_DATETIME:
        return None
    value = _text(dataset, keyword)
    if column.kind is Kind.TEXT:
        if keyword == STUDY_UID:
            return _uid_filter(value)
        if keyword == STATUS:
            return _status_filter(value)
        return _text_filter(column.name, value)
    if column.kind is Kind.DATE and value:
        try:
            start, end = date_interval(value)
        except ValueFormatError as exc:
            raise QueryError(f"{keyword}: {exc}") from exc
        return Range(column.name, start, end)
    return None  # DECIMAL columns (weight) are returned, never matched.


def _start_filters(step: Dataset) -> list[Filter]:
    """SPS Start Date and Time: one combined range, or a date range and a time-of-day window."""
    date_text, time_text = _text(step, START_DATE), _text(step, START_TIME)
    try:
        start, end, time_of_day = datetime_interval(date_text, time_text)
    except ValueFormatError as exc:
        raise QueryError(f"Scheduled Procedure Step Start Date/Time: {exc}") from exc
    filters: list[Filter] = []
    if start is not None or end is not None:
        filters.append(Range(START_DATETIME, start, end))
    if time_of_day is not None:
        filters.append(TimeOfDay(START_DATETIME, *time_of_day))
    return filters


def _has_value(element: object) -> bool:
    """Whether a raw or converted element carries a value, without converting it (that is slow)."""
    return bool(getattr(element, "value", None))


def _filters_of(dataset: Dataset, keywords: dict[int, str]) -> list[Filter]:
    """Filters for the non-empty elements of ``dataset`` whose tags are in ``keywords``.

    Empty elements (most of a query) are only requested, never matched, so they are skipped
    before pydicom converts them: parsing is most of a small query's cost.
    """
    filters = []
    for tag in dataset.keys():  # noqa: SIM118 - iterating the dataset would convert every element
        keyword = keywords.get(tag)
        if keyword and _has_value(dataset.get_item(tag, keep_deferred=True)):
            found = _value_filter(keyword, dataset)
            if found:
                filters.append(found)
    return filters


_ROOT_MATCHED = {tag_for_keyword(k): k for k in contract.ROOT_KEYWORDS - _NEVER_MATCHED if tag_for_keyword(k)}
_STEP_MATCHED = {tag_for_keyword(k): k for k in contract.STEP_KEYWORDS - {START_DATE, START_TIME} if tag_for_keyword(k)}
_SPS_TAG = tag_for_keyword(SPS_SEQUENCE)


def _private_tags(dataset: Dataset) -> list[str]:
    """The private attributes anywhere in the identifier, as ``(gggg,eeee)``, read without converting."""
    found = []
    for tag in dataset.keys():  # noqa: SIM118 - iterating the dataset would convert every element
        if tag.group % 2:
            found.append(f"({tag.group:04X},{tag.element:04X})")
        elif dataset.get_item(tag, keep_deferred=True).VR == "SQ":
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
    try:
        filters = _filters_of(identifier, _ROOT_MATCHED)
        if _SPS_TAG in identifier:
            items = identifier[_SPS_TAG].value or []
            if len(items) > 1:
                raise QueryError("the Scheduled Procedure Step Sequence holds more than one item")
            step_requested = items[0] if items else Dataset()
            filters += _filters_of(step_requested, _STEP_MATCHED)
            filters += _start_filters(step_requested)
    except (UnicodeDecodeError, LookupError) as exc:
        raise QueryError(f"a value in the query cannot be decoded with its character set ({exc})") from exc
    return WorklistQuery(
        identifier=identifier,
        filters=tuple(filters),
        step_requested=step_requested,
        private_tags=tuple(_private_tags(identifier)),
    )
