"""DICOM DA and TM values and ranges as half-open intervals, compared by value, never as strings.

A TM of lower precision is that exact time: ``10`` is 10:00:00.000000, so ``-10`` includes
10:00:00 and not 10:00:01. Intervals are half-open so that each bound is one SQL comparison.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

_DA = re.compile(r"(\d{4})\.?(\d{2})\.?(\d{2})")
_TM = re.compile(r"(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?")

DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)


class ValueFormatError(ValueError):
    """A date or time in a query or an import item that is not valid DICOM."""


def parse_date(text: str) -> date:
    """A DA value (``YYYYMMDD``; the ACR-NEMA ``YYYY.MM.DD`` form is tolerated)."""
    match = _DA.fullmatch(text.strip(" "))
    if not match:
        raise ValueFormatError(f"{text!r} is not a DICOM date (YYYYMMDD)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise ValueFormatError(f"{text!r} is not a real calendar date") from exc


def parse_time_span(text: str) -> tuple[timedelta, timedelta]:
    """A TM value as ``(start, end)`` offsets from midnight: the exact time, ``end`` one tick later."""
    match = _TM.fullmatch(text.strip(" "))
    if not match:
        raise ValueFormatError(f"{text!r} is not a DICOM time (HH, HHMM, HHMMSS or HHMMSS.ffffff)")
    hours, minutes, seconds, fraction = match.groups()
    h, m, s = int(hours), int(minutes or 0), int(seconds or 0)
    if h > 23 or m > 59 or s > 60:
        raise ValueFormatError(f"{text!r} is not a valid time of day")
    micro = int((fraction or "").ljust(6, "0")) if fraction else 0
    start = timedelta(hours=h, minutes=m, seconds=s, microseconds=micro)
    # A time of lower precision means that exact time ("2230" equals "223000", mwl-spec §3.2), so
    # it ends one microsecond later: "-0830" includes 08:30:00 but not 08:30:15.
    return start, start + _TICK


def _split_range(text: str) -> tuple[str, str, bool]:
    """``(low, high, is_range)`` of a DICOM range value; a single value is its own low and high."""
    value = text.strip(" ")
    if value.count("-") > 1:
        raise ValueFormatError(f"{text!r} is neither a single value nor a range (A-B, A-, -A)")
    if "-" not in value:
        return value, value, False
    low, high = (part.strip(" ") for part in value.split("-"))
    if not low and not high:
        raise ValueFormatError(f"{text!r} is a range with neither bound")
    return low, high, True


def date_interval(text: str) -> tuple[date | None, date | None]:
    """A DA single value or range as ``(first_day, day_after_last)``; ``None`` means open."""
    low, high, _ = _split_range(text)
    start = parse_date(low) if low else None
    end = parse_date(high) + DAY if high else None
    if start and end and start >= end:
        raise ValueFormatError(f"{text!r} ends before it starts")
    return start, end


def time_interval(text: str) -> tuple[timedelta | None, timedelta | None]:
    """A TM single value or range as offsets ``(start, end_exclusive)``; ``None`` means open."""
    low, high, _ = _split_range(text)
    start = parse_time_span(low)[0] if low else None
    end = parse_time_span(high)[1] if high else None
    if start is not None and end is not None and start >= end:
        raise ValueFormatError(f"{text!r} ends before it starts (time ranges do not cross midnight)")
    return start, end


def datetime_interval(
    date_text: str, time_text: str
) -> tuple[datetime | None, datetime | None, tuple[timedelta | None, timedelta | None] | None]:
    """SPS Start Date and Time, each on its own, as Orthanc reads them.

    Returns ``(start, end_exclusive, time_of_day)``: the date (single or range) as whole days, and
    the time (single or range) as a window within every day. PS3.4 Table K.6-1 would combine two
    ranges into one interval (5-7 July with 10:00-18:00 meaning 5 July 10:00 to 7 July 18:00), but
    Orthanc re-checks every answer's step item reading them apart, and empties the item of a step it
    reads otherwise; so the plugin reads them apart too (docs/conformance.md, "Dates and times").
    """
    time_of_day = time_interval(time_text) if time_text else None
    if not date_text:
        return None, None, time_of_day
    first, after_last = date_interval(date_text)
    midnight = datetime.min.time()
    start = datetime.combine(first, midnight) if first else None
    end = datetime.combine(after_last, midnight) if after_last else None
    return start, end, time_of_day


_DT = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?")


def parse_datetime_span(text: str) -> tuple[datetime, datetime]:
    """A DT value as ``(start, end)``: that exact moment at its precision, ``end`` one tick later.
    A UTC offset (``+0100``) is not applied: worklist times are the clinic's local time."""
    match = _DT.fullmatch(text.strip(" "))
    if not match:
        raise ValueFormatError(f"{text!r} is not a DICOM date-time (YYYYMMDDHHMMSS.ffffff)")
    year, month, day, hour, minute, second, fraction, _ = match.groups()
    try:
        start = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "").ljust(6, "0")) if fraction else 0,
        )
    except ValueError as exc:
        raise ValueFormatError(f"{text!r} is not a real date-time") from exc
    return start, start + _TICK


def datetime_value_interval(text: str) -> tuple[datetime | None, datetime | None]:
    """A DT single value or range as ``(start, end_exclusive)``; ``None`` means open."""
    low, high, _ = _split_range(text)
    start = parse_datetime_span(low)[0] if low else None
    end = parse_datetime_span(high)[1] if high else None
    if start is not None and end is not None and start >= end:
        raise ValueFormatError(f"{text!r} ends before it starts")
    return start, end
