"""Matching in Python: a filter of :mod:`vetmwl.query` against a row's DICOM value.

SQL decides most filters; Python decides those SQL cannot (a value in the catch-all column or in
a DICOM JSON sequence, several stored values, times and numbers kept as text, sequence matching),
and confirms those where SQL only narrows (a derived Study Instance UID, a non-ASCII name on
SQLite). The value is what the answer carries (:mod:`vetmwl.values`), so a row is matched on
exactly what the modality is sent. One function per kind of matching, as PS3.4 C.2.2.2 has them.

Orthanc re-checks the step item of every answer with its own matcher and empties the item when it
disagrees; the last functions here say what Orthanc would decide, so that the plugin never hands
it a step that it would empty (docs/conformance.md, "Dates and times").
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from pydicom.dataset import Dataset

from .dicomtime import ValueFormatError, parse_date, parse_datetime_span, parse_time_span
from .model import NUMBER_VRS, multi_valued, vr_of
from .query import Equals, Filter, InList, ItemMatch, Like, Range, TimeOfDay, person_name_upper, wildcard_matches
from .values import element_items, element_text

#: A row's value of one attribute: DICOM text, the start date-time, or a sequence's items.
Value = str | datetime | list[Dataset] | None


def _unknown(value: Value) -> bool:
    return value is None or (isinstance(value, str) and value.strip(" ") == "") or value == []


def _values(keyword: str, text: str) -> list[str]:
    """The values of a stored attribute: several for a multi-valued one (K.2.2.3: any may match)."""
    return text.split("\\") if multi_valued(keyword) else [text]


def person_name_matches(pattern: str, value: str) -> bool:
    """PN matching, case-insensitive for every script as the databases fold case (see
    :func:`vetmwl.query.person_name_upper`), with ``*`` and ``?`` (on characters)."""
    return wildcard_matches(pattern, value.strip(" "), fold_case=True)


def single_value(f: Equals, text: str) -> bool:
    """C.2.2.2.1: the value itself; PN without case; numbers by value."""
    if f.fold_case:
        return person_name_matches(f.value, text)
    if vr_of(f.keyword) in NUMBER_VRS:
        try:
            return Decimal(text) == Decimal(f.value)
        except InvalidOperation:
            return False
    return text == f.value


def wildcard(f: Like, text: str) -> bool:
    """C.2.2.2.4: ``*`` any characters, ``?`` one; PN without case."""
    return wildcard_matches(f.pattern, text, f.fold_case)


def uid_list(f: InList, text: str) -> bool:
    """C.2.2.2.2: any UID of the list (and, for the AE's options, any listed value)."""
    return text in f.values


def _moment(value: str | datetime, keyword: str) -> date | datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return parse_date(value) if vr_of(keyword) == "DA" else parse_datetime_span(value)[0]
    except ValueFormatError:
        return None


def date_range(f: Range, value: str | datetime) -> bool:
    """C.2.2.2.5: ``start <= value < end`` by value, dates as days."""
    moment = _moment(value, f.keyword)
    if moment is None:
        return False
    if isinstance(f.start or f.end, datetime) and not isinstance(moment, datetime):
        moment = datetime.combine(moment, time())
    if not isinstance(f.start or f.end, datetime) and isinstance(moment, datetime):
        moment = moment.date()
    return (f.start is None or f.start <= moment) and (f.end is None or moment < f.end)  # type: ignore[operator]


def time_range(f: TimeOfDay, value: str | datetime) -> bool:
    """C.2.2.2.5 on a time of day; a time of lower precision is that exact time."""
    if isinstance(value, datetime):
        offset = value - datetime.combine(value.date(), time())
    else:
        try:
            offset = parse_time_span(value)[0]
        except ValueFormatError:
            return False
    return (f.start is None or f.start <= offset) and (f.end is None or offset < f.end)


def sequence(f: ItemMatch, items: list[Dataset]) -> bool:
    """C.2.2.2.6: some item matches every key of the query's item."""
    return any(all(matches(inner, item_value(item, inner)) for inner in f.filters) for item in items)


def item_value(item: Dataset, f: Filter) -> Value:
    """The value of a filter's attribute in a sequence item."""
    if isinstance(f, ItemMatch):
        return element_items(item, f.keyword)
    return element_text(item, f.keyword)


def matches(f: Filter, value: Value) -> bool:
    """Whether a row whose value is ``value`` matches ``f``. An unknown value matches nothing,
    except where the filter says so (``or_unknown``: an unknown SPS Status is SCHEDULED, a row
    without a stored UID may have the derived one)."""
    if _unknown(value):
        return bool(getattr(f, "or_unknown", False))
    if isinstance(f, ItemMatch):
        return isinstance(value, list) and sequence(f, value)
    if isinstance(value, list):
        return False
    if isinstance(f, Range):
        return date_range(f, value)
    if isinstance(f, TimeOfDay):
        return time_range(f, value)
    if isinstance(value, datetime):
        return False
    texts = _values(f.keyword, value.strip(" "))
    if isinstance(f, InList):
        return any(uid_list(f, t) for t in texts)
    if isinstance(f, Like):
        return any(wildcard(f, t) for t in texts)
    return any(single_value(f, t) for t in texts)


# -- what Orthanc's re-check decides ------------------------------------------------------------------
def _orthanc_range(text: str, query: str) -> bool:
    """Orthanc compares TM values as strings: a single value for equality, a range by byte order."""
    if "-" not in query:
        return text == query
    low, high = query.split("-", 1)
    return (not low or text >= low) and (not high or text <= high)


def orthanc_time_text(value: datetime | time | timedelta, query: str) -> str | None:
    """The TM text of ``value`` that Orthanc's re-check accepts for the query's TM ``query``.

    ``1530`` and ``153000`` are the same time (PS3.5: a lower precision is that exact time), but
    Orthanc compares them as strings, so that a step at 15:30:00 matched by ``-1530`` would lose
    its step item if sent as ``153000``. So the time is written at the highest precision Orthanc
    accepts, without changing its value; None when no writing of it passes (the step is then not
    answered, since Orthanc would empty it).
    """
    if isinstance(value, timedelta):
        value = datetime.min + value
    full = f"{value.hour:02d}{value.minute:02d}{value.second:02d}"
    candidates = [f"{full}.{value.microsecond:06d}"] if value.microsecond else [full]
    if not value.microsecond and not value.second:
        candidates.append(full[:4])
        if not value.minute:
            candidates.append(full[:2])
    return next((c for c in candidates if _orthanc_range(c, query)), None)


def orthanc_datetime_text(value: datetime, query: str) -> str | None:
    """:func:`orthanc_time_text` for a DT: the date-time at a precision Orthanc's text comparison
    accepts (``202512301130`` and ``20251230113000`` are the same moment), or None."""
    full = f"{value:%Y%m%d%H%M%S}"
    candidates = [f"{full}.{value.microsecond:06d}"] if value.microsecond else [full]
    if not value.microsecond:
        for length in (12, 10, 8, 6, 4):  # drop components that are zero (or 1 for month and day)
            rest = full[length:]
            unit = {12: "00", 10: "0000", 8: "000000", 6: "01000000", 4: "0101000000"}[length]
            if rest == unit:
                candidates.append(full[:length])
    return next((c for c in candidates if _orthanc_range(c, query)), None)


def orthanc_text(vr: str, text: str, query: str) -> str | None:
    """A stored TM or DT value written as Orthanc's re-check accepts for ``query``; None when no
    writing of it passes; other VRs as they are."""
    try:
        if vr == "TM":
            return orthanc_time_text(parse_time_span(text)[0], query)
        if vr == "DT":
            return orthanc_datetime_text(parse_datetime_span(text)[0], query)
    except ValueFormatError:
        return None
    return text


@lru_cache(maxsize=1024)
def _orthanc_regex(pattern: str) -> re.Pattern[bytes]:
    """A pattern as Orthanc reads it, compiled once: it is matched against row after row."""
    regex = b"".join(b".*" if c == "*" else b"." if c == "?" else re.escape(c.encode("utf-8")) for c in pattern)
    return re.compile(regex, re.DOTALL)


def orthanc_wildcard(f: Like, text: str) -> bool:
    """Orthanc's wildcard matching, where ``?`` is one byte of UTF-8, not one character; a PN without
    case (folded by :func:`vetmwl.query.person_name_upper`)."""
    pattern, value = (person_name_upper(f.pattern), person_name_upper(text)) if f.fold_case else (f.pattern, text)
    return _orthanc_regex(pattern).fullmatch(value.encode("utf-8")) is not None
