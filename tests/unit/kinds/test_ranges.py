"""PS3.4 C.2.2.2.5 Range Matching of dates, times and date-times, and how Orthanc's re-check reads them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from vetmwl.dialects import DIALECTS
from vetmwl.errors import QueryError
from vetmwl.kinds import Range, TimeOfDay
from vetmwl.kinds.ranges import orthanc_datetime_text, orthanc_text, orthanc_time_text, parse, start_filters
from vetmwl.model import START_DATETIME, Level


@pytest.mark.parametrize(
    ("value", "query", "written"),
    [
        (time(15, 30), "-1530", "1530"),  # 15:30:00 is within -1530 by value; Orthanc reads "153000" > "1530"
        (time(15, 30), "1530", "1530"),
        (time(15, 30), "153000", "153000"),
        (time(15, 30, 5), "1500-1531", "153005"),
        (time(8), "08-08", "08"),
        (time(15, 30, 0, 500000), "1500-", "153000.500000"),
        (time(15, 30), "153000-1530", None),  # no writing of 15:30 passes both bounds as text
        (timedelta(hours=13), "130000-150000", "130000"),
    ],
)
def test_the_time_is_written_as_orthanc_compares_it(value: object, query: str, written: str | None) -> None:
    assert orthanc_time_text(value, query) == written


@pytest.mark.parametrize(
    ("value", "query", "written"),
    [
        (datetime(2025, 12, 30, 11, 30), "20251230113000", "20251230113000"),
        (datetime(2025, 12, 30, 11, 30), "202512301130", "202512301130"),
        (datetime(2025, 12, 30), "20251230-", "20251230000000"),
        (datetime(2025, 12, 30), "-20251230", "20251230"),
        (datetime(2025, 12, 30, 11, 30, 1), "-202512301130", None),
    ],
)
def test_a_date_time_is_written_as_orthanc_compares_it(value: datetime, query: str, written: str | None) -> None:
    assert orthanc_datetime_text(value, query) == written


def test_orthanc_text_reads_the_stored_text_by_vr() -> None:
    assert orthanc_text("TM", "1300", "130000") == "130000"
    assert orthanc_text("DT", "202512301130", "20251230113000") == "20251230113000"
    assert orthanc_text("TM", "not a time", "1300") is None
    assert orthanc_text("LO", "anything", "x") == "anything"


@pytest.mark.parametrize(
    ("f", "value", "expected"),
    [
        (Range("PatientBirthDate", date(2018, 1, 1), None), "20180304", True),
        (Range("PatientBirthDate", date(2018, 1, 1), None), "2017", False),
        (Range("PatientBirthDate", date(2018, 1, 1), None), "not a date", False),
        (Range(START_DATETIME, datetime(2026, 1, 5), datetime(2026, 1, 6)), datetime(2026, 1, 5, 23, 59), True),
        (Range(START_DATETIME, datetime(2026, 1, 5), datetime(2026, 1, 6)), datetime(2026, 1, 6), False),
        (TimeOfDay("ScheduledProcedureStepEndTime", timedelta(hours=13), None), "1300", True),
        (TimeOfDay(START_DATETIME, None, timedelta(hours=12)), datetime(2026, 1, 5, 11, 59), True),
        (TimeOfDay(START_DATETIME, None, timedelta(hours=12)), datetime(2026, 1, 5, 12), False),
    ],
)
def test_ranges_match_by_value_half_open(f: Range | TimeOfDay, value: object, expected: bool) -> None:
    assert f.matches(value) is expected


def test_parsing_a_key() -> None:
    since = Range("PatientBirthDate", date(2018, 1, 1), None)
    assert parse("PatientBirthDate", "20180101-", "DA", Level.ROOT) == since
    with pytest.raises(QueryError, match="PatientBirthDate"):
        parse("PatientBirthDate", "2018", "DA", Level.ROOT)
    day, window = start_filters("20260105", "0800-1200")
    assert day == Range(START_DATETIME, datetime(2026, 1, 5), datetime(2026, 1, 6), level=Level.STEP)
    assert window.on_start() and window.text == "0800-1200"


def test_binding_follows_the_dialects_facts() -> None:
    day = Range(START_DATETIME, datetime(2026, 1, 5), datetime(2026, 1, 6, 0, 0, 0, 500000))
    assert day.bind(DIALECTS["sqlite"]) == ["2026-01-05 00:00:00", "2026-01-06 00:00:00.500000"]
    assert day.bind(DIALECTS["mariadb"]) == [datetime(2026, 1, 5), datetime(2026, 1, 6, 0, 0, 1)]
    assert TimeOfDay(START_DATETIME, timedelta(hours=8), None).bind(DIALECTS["mssql"]) == [28800.0]


def test_orthanc_reads_only_step_times_and_date_times_as_text() -> None:
    step = TimeOfDay("ScheduledProcedureStepEndTime", timedelta(hours=15), None, level=Level.STEP, text="1500-")
    check = step.orthanc_check()
    assert check is not None and check("1530") and not check("1400")
    assert TimeOfDay("ScheduledProcedureStepEndTime", timedelta(hours=15), None, text="1500-").orthanc_check() is None
    assert step.compared_as_text() == "1500-"
