"""PS3.4 C.2.2.2.5 Range Matching of dates, times and date-times.

"A string of the form "<date1> - <date2>", where <date1> is less or equal to <date2>, shall match
all occurrences of dates which fall between <date1> and <date2> inclusive"; "- <date1>" all dates
prior to and including <date1>; "<date1> -" all dates after and including <date1>. Times and
date-times likewise. A single value is the range of its precision (``2025`` is that year). Each
range is kept half open, ``start <= value < end`` (:mod:`vetmwl.dicomtime`), so that SQL and Python
compare by value, never as text.

SPS Start Date and Start Time are matched each on its own (PS3.4 K.2.2.1: "Scheduled Procedure
Step Start Date and Scheduled Procedure Step Start Time ... shall be matched independently"): a
date range on the start date-time column, and a window of the day on every day.

Orthanc re-checks the step item of every answer and compares TM and DT as text, not by value: the
last functions say which writing of a stored time Orthanc accepts, so that the plugin never hands
it a step that it would empty (docs/conformance.md, "Dates and times").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import ClassVar

from pydicom.dataset import Dataset

from ..dialects import Dialect
from ..dicomtime import (
    ValueFormatError,
    date_interval,
    datetime_interval,
    datetime_value_interval,
    parse_date,
    parse_datetime_span,
    parse_time_span,
    time_interval,
)
from ..errors import QueryError
from ..model import START_DATE, START_DATETIME, START_TIME, Level, vr_of
from .base import Kind, Value

#: The VRs matched by range.
VRS = frozenset({"DA", "TM", "DT"})


class _Bounded(Kind):
    """What both ranges share: SQL decides them on the start date-time column, and Orthanc
    compares a step's TM or DT answer with the query's text (``text``)."""

    text: str

    def on_start(self) -> bool:
        return True

    def orthanc_check(self) -> Callable[[Value], bool] | None:
        query = self.compared_as_text()
        if not query:
            return None
        vr = vr_of(self.keyword)
        return lambda value: isinstance(value, str) and orthanc_text(vr, value, query) is not None

    def compared_as_text(self) -> str:
        """The query's text that Orthanc compares this step key's answer with ('' if none)."""
        return self.text if self.level is Level.STEP and self.keyword != START_DATETIME else ""


@dataclass(frozen=True)
class Range(_Bounded):
    """Range Matching of dates or date-times: ``start <= value < end``, half open; an open bound
    is None (not both). ``text`` is the query's value, as Orthanc compares it."""

    keyword: str
    start: date | datetime | None
    end: date | datetime | None
    level: Level = Level.ROOT
    text: str = ""
    macro: ClassVar[str] = "range"

    def __post_init__(self) -> None:
        if self.start is None and self.end is None:
            raise ValueError(f"a range on {self.keyword} needs at least one bound")

    def bind(self, dialect: Dialect) -> list[object]:
        return [dialect.bind_value(v) for v in (self.start, self.end) if v is not None]

    def decidable(self, column: object, kind: str) -> bool:
        return vr_of(self.keyword) == "DA" and kind in ("date", "datetime")

    def test(self, value: str | datetime | list[Dataset]) -> bool:
        """By value, dates as days."""
        if isinstance(value, list):
            return False
        moment = _moment(value, self.keyword)
        if moment is None:
            return False
        if isinstance(self.start or self.end, datetime) and not isinstance(moment, datetime):
            moment = datetime.combine(moment, time())
        if not isinstance(self.start or self.end, datetime) and isinstance(moment, datetime):
            moment = moment.date()
        return (self.start is None or self.start <= moment) and (self.end is None or moment < self.end)  # type: ignore[operator]

    def shown(self) -> tuple[str, str]:
        name = START_DATE if self.keyword == START_DATETIME else self.keyword
        return name, f"{self.start or ''}..{self.end or ''}"


@dataclass(frozen=True)
class TimeOfDay(_Bounded):
    """Range Matching of a time of day (TM), as offsets from midnight; on the start date-time
    column, the window applies on every day. ``text`` is the query's value, as Orthanc compares it."""

    keyword: str
    start: timedelta | None
    end: timedelta | None
    level: Level = Level.ROOT
    text: str = ""
    macro: ClassVar[str] = "time_of_day"

    def __post_init__(self) -> None:
        if self.start is None and self.end is None:
            raise ValueError(f"a time window on {self.keyword} needs at least one bound")

    def bind(self, dialect: Dialect) -> list[object]:
        return [v.total_seconds() for v in (self.start, self.end) if v is not None]

    def test(self, value: str | datetime | list[Dataset]) -> bool:
        """A time of lower precision is that exact time."""
        if isinstance(value, list):
            return False
        if isinstance(value, datetime):
            offset = value - datetime.combine(value.date(), time())
        else:
            try:
                offset = parse_time_span(value)[0]
            except ValueFormatError:
                return False
        return (self.start is None or self.start <= offset) and (self.end is None or offset < self.end)

    def shown(self) -> tuple[str, str]:
        name = START_TIME if self.keyword == START_DATETIME else self.keyword
        return name, f"{self.start or ''}..{self.end or ''}"


def _moment(value: str | datetime, keyword: str) -> date | datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return parse_date(value) if vr_of(keyword) == "DA" else parse_datetime_span(value)[0]
    except ValueFormatError:
        return None


# -- reading a key ---------------------------------------------------------------------------------
def parse(keyword: str, value: str, vr: str, level: Level) -> Range | TimeOfDay:
    """A DA, TM or DT key (not the SPS start, see :func:`start_filters`)."""
    try:
        if vr == "DA":
            return Range(keyword, *date_interval(value), level=level)
        if vr == "TM":
            return TimeOfDay(keyword, *time_interval(value), level=level, text=value)
        return Range(keyword, *datetime_value_interval(value), level=level, text=value)
    except ValueFormatError as exc:
        raise QueryError(f"{keyword}: {exc}") from exc


def start_filters(date_text: str, time_text: str) -> list[Range | TimeOfDay]:
    """SPS Start Date and Time, each on its own: a date range on the start date-time column, and
    a window of the day on every day (see docs/conformance.md, "Dates and times")."""
    try:
        start, end, time_of_day = datetime_interval(date_text, time_text)
    except ValueFormatError as exc:
        raise QueryError(f"Scheduled Procedure Step Start Date/Time: {exc}") from exc
    filters: list[Range | TimeOfDay] = []
    if start is not None or end is not None:
        filters.append(Range(START_DATETIME, start, end, level=Level.STEP))
    if time_of_day is not None:
        filters.append(TimeOfDay(START_DATETIME, *time_of_day, level=Level.STEP, text=time_text))
    return filters


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
