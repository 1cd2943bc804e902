"""DA/TM parsing and ranges: values become half-open intervals compared by value, never as text."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from vetmwl.dicomtime import (
    ValueFormatError,
    date_interval,
    datetime_interval,
    parse_date,
    parse_datetime_span,
    parse_time_span,
    time_interval,
)

TICK = timedelta(microseconds=1)


def hms(hours: int = 0, minutes: int = 0, seconds: int = 0, microseconds: int = 0) -> timedelta:
    return timedelta(hours=hours, minutes=minutes, seconds=seconds, microseconds=microseconds)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20260105", date(2026, 1, 5)),
        ("2026.01.05", date(2026, 1, 5)),  # ACR-NEMA form, still sent by old modalities
        (" 20240229 ", date(2024, 2, 29)),  # padding space of an even-length value
    ],
)
def test_parse_date_accepts_dicom_forms(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    ["20261301", "20260132", "20230229", "2026-01-05", "2026015", "yesterday", "", "202601051"],
)
def test_parse_date_rejects_invalid(text: str) -> None:
    with pytest.raises(ValueFormatError):
        parse_date(text)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        # A lower precision is that exact time ("2230" equals "223000"): the end is one tick later.
        ("10", hms(10), hms(10) + TICK),
        ("1030", hms(10, 30), hms(10, 30) + TICK),
        ("103015", hms(10, 30, 15), hms(10, 30, 15) + TICK),
        ("103015.5", hms(10, 30, 15, 500_000), hms(10, 30, 15, 500_001)),
        ("103015.25", hms(10, 30, 15, 250_000), hms(10, 30, 15, 250_001)),
        ("103015.123456", hms(10, 30, 15, 123_456), hms(10, 30, 15, 123_457)),
        ("23", hms(23), hms(23) + TICK),
        ("10:30:15", hms(10, 30, 15), hms(10, 30, 15) + TICK),  # ACR-NEMA colons are tolerated
    ],
)
def test_parse_time_span_is_the_exact_time(text: str, start: timedelta, end: timedelta) -> None:
    assert parse_time_span(text) == (start, end)


@pytest.mark.parametrize("text", ["24", "1060", "106161", "1", "10300", "103015.1234567", "ten", ""])
def test_parse_time_span_rejects_invalid(text: str) -> None:
    with pytest.raises(ValueFormatError):
        parse_time_span(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20260705", (date(2026, 7, 5), date(2026, 7, 6))),
        ("20260705-20260707", (date(2026, 7, 5), date(2026, 7, 8))),
        ("20260705-20260705", (date(2026, 7, 5), date(2026, 7, 6))),
        ("-20260707", (None, date(2026, 7, 8))),
        ("20260705-", (date(2026, 7, 5), None)),
    ],
)
def test_date_interval(text: str, expected: tuple[date | None, date | None]) -> None:
    assert date_interval(text) == expected


@pytest.mark.parametrize("text", ["20260707-20260705", "-", "20260101-20260102-20260103", "2026-"])
def test_date_interval_rejects_reversed_and_malformed(text: str) -> None:
    with pytest.raises(ValueFormatError):
        date_interval(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10", (hms(10), hms(10) + TICK)),
        ("1000-1800", (hms(10), hms(18) + TICK)),
        ("1000-180000", (hms(10), hms(18) + TICK)),
        ("-1800", (None, hms(18) + TICK)),
        ("1000-", (hms(10), None)),
        ("0000-", (hms(0), None)),  # midnight is a bound, not "no bound"
        ("1000-1000", (hms(10), hms(10) + TICK)),
    ],
)
def test_time_interval(text: str, expected: tuple[timedelta | None, timedelta | None]) -> None:
    assert time_interval(text) == expected


@pytest.mark.parametrize("text", ["1800-1000", "1001-1000", "-", "10-11-12"])
def test_time_interval_rejects_reversed_and_malformed(text: str) -> None:
    with pytest.raises(ValueFormatError):
        time_interval(text)


@pytest.mark.parametrize(
    ("date_text", "time_text", "days", "window"),
    [
        # Date and time each on their own, as Orthanc's re-check reads them (conformance.md).
        ("20260705-20260707", "1000-1800", (datetime(2026, 7, 5), datetime(2026, 7, 8)), (hms(10), hms(18) + TICK)),
        ("20260705", "", (datetime(2026, 7, 5), datetime(2026, 7, 6)), None),
        ("20260705", "10", (datetime(2026, 7, 5), datetime(2026, 7, 6)), (hms(10), hms(10) + TICK)),
        ("20260705-", "1000-1800", (datetime(2026, 7, 5), None), (hms(10), hms(18) + TICK)),
        ("-20260707", "-1800", (None, datetime(2026, 7, 8)), (None, hms(18) + TICK)),
    ],
)
def test_datetime_interval_reads_date_and_time_apart(
    date_text: str, time_text: str, days: tuple, window: tuple | None
) -> None:
    assert datetime_interval(date_text, time_text) == (*days, window)


def test_an_overnight_time_range_is_refused() -> None:
    """A time range does not cross midnight (PS3.4 C.2.2.2.5); with the date apart it cannot."""
    with pytest.raises(ValueFormatError):
        datetime_interval("20251230-20251231", "1800-0830")


def test_single_time_with_a_date_range_is_matched_on_its_own() -> None:
    """A single time is not a range: every day of the range at 08:30, not one long interval."""
    assert datetime_interval("20251231-20260101", "0830") == (
        datetime(2025, 12, 31),
        datetime(2026, 1, 2),
        (hms(8, 30), hms(8, 30) + TICK),
    )


def test_datetime_interval_time_without_date_is_a_window_in_every_day() -> None:
    assert datetime_interval("", "1000-1800") == (None, None, (hms(10), hms(18) + TICK))


def test_datetime_interval_without_date_or_time_is_universal() -> None:
    assert datetime_interval("", "") == (None, None, None)


@pytest.mark.parametrize(
    ("date_text", "time_text"),
    [
        ("20260707-20260705", ""),  # reversed dates
        ("20260705", "1800-1000"),  # reversed times
        ("20261301", "10"),  # no such month
        ("20260705", "25"),  # no such hour
    ],
)
def test_datetime_interval_rejects_bad_values(date_text: str, time_text: str) -> None:
    with pytest.raises(ValueFormatError):
        datetime_interval(date_text, time_text)


@pytest.mark.parametrize(
    ("parse", "text"),
    [(parse_date, "20260105\n"), (parse_time_span, "0930\n"), (parse_datetime_span, "20260105093000\n")],
)
def test_a_trailing_newline_is_not_part_of_a_valid_value(parse: Any, text: str) -> None:
    with pytest.raises(ValueFormatError):
        parse(text)
