"""Orthanc Explorer in headless Chromium: the Worklist entry, the page, the live query log, the
performed steps.

Screenshots land in test-artifacts/ (desktop and phone widths) for a person to look at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from support import mpps
from support.browser import Chromium
from support.clients import findscu
from support.servers import OrthancServer, free_port, plugin_settings
from support.stores import sqlite_store
from vetmwl.progress import COMPLETED, DISCONTINUED, IN_PROGRESS, MPPS, STUDY, PerformedStep, Reference
from vetmwl.web.metrics import Metrics
from vetmwl.web.querylog import QueryLog
from vetmwl.web.rest import RestApi

SPS = "ScheduledProcedureStepSequence"


@pytest.fixture
def chromium() -> Iterator[Chromium]:
    browser = Chromium()
    try:
        yield browser
    finally:
        browser.quit()


def wait(driver: WebDriver, seconds: float = 15) -> WebDriverWait:
    return WebDriverWait(driver, seconds, poll_frequency=0.2)


def todays(items: list[dict], today: date, modality: str = "") -> list[dict]:
    """Today's demo items, optionally of one modality, in the order the worklist is sorted."""
    chosen = [
        i
        for i in items
        if i[SPS][0]["ScheduledProcedureStepStartDate"] == f"{today:%Y%m%d}"
        and (not modality or i[SPS][0]["Modality"] == modality)
    ]
    return sorted(
        chosen, key=lambda i: (i[SPS][0]["ScheduledProcedureStepStartTime"], i[SPS][0]["ScheduledProcedureStepID"])
    )


def column(driver: WebDriver, table: str, label: str) -> list[str]:
    """The texts of one column, read in one go: the page redraws its tables while we look."""
    return driver.execute_script(
        "return $.map($(arguments[0]), function(e) { return $(e).text(); });",
        f"#{table} tbody td[data-label='{label}'] .vetmwl-main",
    )


def query_row(driver: WebDriver, calling_aet: str) -> dict[str, str] | None:
    """The query-log row of ``calling_aet`` as {label: text}, with the status badge as 'Status'."""
    rows = driver.execute_script(
        """
        return $.map($('#queries-table tbody tr[data-seq]'), function(tr) {
          var row = {};
          $(tr).find('td').each(function() { row[$(this).attr('data-label')] = $(this).text(); });
          row['Calling AE'] = $(tr).find("td[data-label='Calling AE'] .vetmwl-main").text();
          return [row];
        });
        """
    )
    return next((row for row in rows if row["Calling AE"] == calling_aet), None)


def step_rows(driver: WebDriver) -> list[dict[str, Any]]:
    """The rows of the Performed steps section, read in one go: ``uid`` and ``status`` (the row's
    data), {label: text} of each cell's main text ('Status' is the badge), ``details`` ({label: the
    smaller text below it}, such as the date below a time), ``History`` (the texts of the events,
    whether the history is open or not), ``history_open`` and ``colour`` (the status badge's)."""
    return driver.execute_script(
        """
        return $.map($('#steps-table tbody tr[data-uid]'), function(tr) {
          var row = { uid: $(tr).attr('data-uid'), status: $(tr).attr('data-status') };
          row.details = {};
          $(tr).children('td').each(function() {
            var label = $(this).attr('data-label'), main = $(this).children('.vetmwl-main');
            row[label] = main.length ? main.text() : $(this).text();
            row.details[label] = $(this).children('.vetmwl-detail').text();
          });
          row.History = $.map($(tr).find('.vetmwl-history li'), function(li) { return $(li).text(); });
          row.history_open = $(tr).find('.vetmwl-history').prop('open');
          row.colour = getComputedStyle($(tr).find("td[data-label='Status'] .vetmwl-badge")[0]).backgroundColor;
          return [row];
        });
        """
    )


def steps_note(driver: WebDriver) -> str:
    """The line below the Performed steps table (how to turn it on, when it is off)."""
    return driver.find_element(By.ID, "steps-note").text


def steps_json(folder: Path) -> dict[str, Any]:
    """What /sql-worklist/steps answers over a real SQLite state store holding a completed MPPS
    session with two series, a discontinued and a running one, and a study that arrived."""
    store = sqlite_store(
        folder / "progress.sqlite", start_us=1_767_605_400_000_000, step_us=60_000_000, recorded_by="ORTHANC"
    )
    database = store.database
    images = {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": [f"1.2.9.1.{n}"]}} for n in range(3)]}
    performed = {"vr": "SQ", "Value": [{"00081140": images}, {"00081140": images}]}
    session = json.dumps({"00400254": {"vr": "LO", "Value": ["Left stifle, 2 views"]}, "00400340": performed})
    try:
        for uid, station, modality, reference in (
            ("1.2.3.1", "DX_ROOM1", "DX", Reference("SPS1001", "ACC1001", "1.2.9", "RP1")),
            ("1.2.3.2", "US_ROOM1", "US", Reference("SPS1002", "ACC1002", "1.2.10", "RP2")),
            ("1.2.3.3", "CT_ROOM1", "CT", None),
        ):
            step = PerformedStep(
                uid,
                MPPS,
                IN_PROGRESS,
                calling_aet=station,
                calling_address="192.0.2.10",
                station_aet=station,
                modality=modality,
                started="20260105093000",
                references=(reference,) if reference else (),
            )
            store.create(step, f"N-CREATE from {station}")
        store.update("1.2.3.1", COMPLETED, "20260105094500", session, "DX_ROOM1", "N-SET from DX_ROOM1")
        store.update("1.2.3.2", DISCONTINUED, "20260105094000", "{}", "US_ROOM1", "N-SET from US_ROOM1")
        arrived = {"OrthancStudy": "6e2c0ec2", "Series": 1, "Instances": 4, "StudyInstanceUID": "1.2.11"}
        study = PerformedStep(
            "study:1.2.11",
            STUDY,
            COMPLETED,
            calling_aet="CR_ROOM2",
            modality="CR",
            started="20260105",
            attributes=json.dumps({**arrived, "AccessionNumber": "ACC1003", "Event": "NewStudy"}),
            references=(Reference("", "ACC1003", "1.2.11", ""),),
        )
        store.study_arrived(study, "NewStudy")
        answer = RestApi(None, QueryLog(), Metrics(), progress=store).handle("GET", "/steps", {})
    finally:
        database.close()
    assert answer.status == 200
    return json.loads(answer.body)


def test_worklist_page_from_orthanc_explorer(
    sqlite_orthanc: OrthancServer, demo_items: list[dict], today: date, chromium: Chromium
) -> None:
    driver = chromium.driver
    driver.get(f"http://127.0.0.1:{sqlite_orthanc.http_port}/app/explorer.html")
    entry = wait(driver).until(seen.visibility_of_element_located((By.CSS_SELECTOR, "#sql-worklist-entry a")))
    assert "Worklist" in entry.text
    chromium.screenshot("explorer-home.png")

    entry.click()
    wait(driver).until(seen.url_contains("/sql-worklist/app/index.html"))
    want = todays(demo_items, today)
    assert len(want) >= 10
    wait(driver).until(lambda d: len(column(d, "worklist-table", "Patient")) == len(want))
    assert column(driver, "worklist-table", "Patient") == [i["PatientName"] for i in want]
    assert column(driver, "worklist-table", "Station") == [i[SPS][0]["ScheduledStationAETitle"] for i in want]
    wait(driver).until(lambda d: "Database reachable" in d.find_element(By.ID, "health-text").text)
    assert "Orthanc 1.10.1" in driver.find_element(By.ID, "health-text").text
    # This Orthanc records no performed steps: the section says how to turn it on.
    wait(driver).until(lambda d: "not recorded" in steps_note(d))
    assert "SqlWorklist.Mpps.Enable" in steps_note(driver)
    assert "SqlWorklist.StudyArrival.Event" in steps_note(driver)
    assert driver.find_element(By.ID, "steps-count").text == "off"
    assert not driver.find_element(By.ID, "steps-table").is_displayed()
    assert step_rows(driver) == []
    health = driver.execute_script("return $('#health-table').text()")
    assert "Performed stepsnot recorded (SqlWorklist.Mpps.Enable, SqlWorklist.StudyArrival.Event)" in health

    # A modality asks now; the log refreshes itself within 5 seconds.
    keys = [
        "PatientName=",
        "PatientID=",
        f"{SPS}[0].Modality=DX",
        f"{SPS}[0].ScheduledProcedureStepStartDate={today:%Y%m%d}",
        f"{SPS}[0].ScheduledProcedureStepID=",
    ]
    found = findscu(sqlite_orthanc.dicom_port, keys, aet="BROWSER_DX")
    assert found.final_status == 0 and found.answers
    row = wait(driver, 20).until(lambda d: query_row(d, "BROWSER_DX"))
    assert row["Answers"] == str(len(found.answers))
    assert row["Status"] == "ok"
    assert "Modality=DX" in row["Keys"]

    # Filter by modality, as a person would: choose DX and press Show.
    driver.execute_script("$('#worklist-modality').val('DX').selectmenu('refresh');")
    driver.find_element(By.ID, "worklist-submit").click()
    dx = todays(demo_items, today, "DX")
    wait(driver).until(lambda d: column(d, "worklist-table", "Modality") == ["DX"] * len(dx))
    assert column(driver, "worklist-table", "Patient") == [i["PatientName"] for i in dx]
    driver.execute_script("$('#worklist-modality').val('').selectmenu('refresh');")
    driver.find_element(By.ID, "worklist-submit").click()
    wait(driver).until(lambda d: len(column(d, "worklist-table", "Patient")) == len(want))
    chromium.screenshot("worklist-desktop.png")

    chromium.phone()
    wait(driver).until(
        lambda d: (
            d.execute_script("return getComputedStyle(document.querySelector('#worklist-table thead')).display")
            == "none"
        )
    )
    # On a phone nothing sticks out sideways: every row is a card within the screen.
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
    assert query_row(driver, "BROWSER_DX") is not None
    assert driver.find_element(By.ID, "steps-note").is_displayed()
    chromium.screenshot("worklist-phone.png")


def test_performed_steps_section(sqlite_orthanc: OrthancServer, chromium: Chromium, tmp_path: Path) -> None:
    """The section's rows, drawn from the JSON the route gives over a real store (this Orthanc
    records none: its page is handed that JSON), at desktop and phone width."""
    driver = chromium.driver
    driver.get(f"http://127.0.0.1:{sqlite_orthanc.http_port}/sql-worklist/app/index.html")
    wait(driver).until(lambda d: "not recorded" in steps_note(d))
    data = steps_json(tmp_path)
    driver.execute_script("VetMwl.renderSteps(arguments[0]);", data)
    rows = step_rows(driver)
    assert [r["uid"] for r in rows] == ["study:1.2.11", "1.2.3.2", "1.2.3.1", "1.2.3.3"]
    study, stopped, done, running = rows
    assert [r["Status"] for r in rows] == ["COMPLETED", "DISCONTINUED", "COMPLETED", "IN PROGRESS"]
    assert [r["Kind"] for r in rows] == ["study arrived", "MPPS", "MPPS", "MPPS"]
    assert [r["Station"] for r in rows] == ["CR_ROOM2", "US_ROOM1", "DX_ROOM1", "CT_ROOM1"]
    assert [r["Modality"] for r in rows] == ["CR", "US", "DX", "CT"]
    assert (done["Started"], done["Ended"]) == ("09:30", "09:45")
    assert (done["details"]["Started"], done["details"]["Ended"]) == ("2026-01-05", "2026-01-05")
    assert (study["Started"], study["details"]["Started"], study["Ended"]) == ("", "2026-01-05", "")  # a date alone
    assert done["details"]["Station"] == "192.0.2.10"
    assert done["Scheduled"] == "SPS SPS1001 / Acc ACC1001"
    assert done["details"]["Scheduled"] == "Left stifle, 2 views"
    assert running["Scheduled"] == "unscheduled"
    assert study["Scheduled"] == "Acc ACC1003"
    assert done["Arrived"] == "2 series, 6 instances"
    assert study["Arrived"] == "1 series, 4 instances"
    assert stopped["Arrived"] == "" and running["Arrived"] == ""
    # One colour per status.
    assert done["colour"] == study["colour"]
    assert len({done["colour"], stopped["colour"], running["colour"]}) == 3
    assert driver.find_element(By.ID, "steps-count").text == "4"
    link = driver.find_element(By.CSS_SELECTOR, "#steps-table tr[data-uid='study:1.2.11'] a")
    assert link.get_attribute("href").endswith("/app/explorer.html#study?uuid=6e2c0ec2")

    # The history opens on click.
    assert not done["history_open"] and len(done["History"]) == 2
    assert "N-CREATE from DX_ROOM1" in done["History"][0] and "COMPLETED" in done["History"][1]
    summary = driver.find_element(By.CSS_SELECTOR, "#steps-table tr[data-uid='1.2.3.1'] summary")
    assert summary.text == "2 events"
    summary.click()
    event = driver.find_element(By.CSS_SELECTOR, "#steps-table tr[data-uid='1.2.3.1'] .vetmwl-history li")
    assert event.is_displayed() and "N-CREATE" in event.text
    assert [r["history_open"] for r in step_rows(driver)] == [False, False, True, False]
    # A redraw keeps it open.
    driver.execute_script("VetMwl.renderSteps(arguments[0]);", data)
    assert [r["history_open"] for r in step_rows(driver)] == [False, False, True, False]
    chromium.screenshot("steps-desktop.png")

    chromium.phone()
    wait(driver).until(
        lambda d: (
            d.execute_script("return getComputedStyle(document.querySelector('#steps-table thead')).display") == "none"
        )
    )
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
    assert [r["Status"] for r in step_rows(driver)] == ["COMPLETED", "DISCONTINUED", "COMPLETED", "IN PROGRESS"]
    driver.execute_script("document.querySelector('#steps-section').scrollIntoView();")
    chromium.screenshot("steps-phone.png")

    # The page's own refresh asks this Orthanc again, which records nothing.
    driver.execute_script("VetMwl.loadSteps();")
    wait(driver).until(lambda d: step_rows(d) == [] and "not recorded" in steps_note(d))


def test_failures_are_shown_plainly(database_down: OrthancServer, chromium: Chromium) -> None:
    driver = chromium.driver
    findscu(database_down.dicom_port, ["PatientName=", f"{SPS}[0].Modality=US"], aet="BROWSER_US")
    driver.get(f"http://127.0.0.1:{database_down.http_port}/sql-worklist/app/index.html")
    banner = wait(driver).until(seen.visibility_of_element_located((By.CSS_SELECTOR, "#health.vetmwl-degraded")))
    assert "the database server cannot be reached" in banner.text
    error = wait(driver).until(seen.visibility_of_element_located((By.CSS_SELECTOR, "#worklist-error pre")))
    assert "the database server cannot be reached" in error.text
    row = wait(driver).until(lambda d: query_row(d, "BROWSER_US"))
    assert row["Status"] == "failed"
    failure = driver.find_element(By.CSS_SELECTOR, "#queries-table tr.vetmwl-error-row pre")
    assert "cannot be reached" in failure.text
    # The health section opens by itself to show the problem and the masked configuration.
    details = wait(driver).until(seen.visibility_of_element_located((By.CSS_SELECTOR, "#health-table")))
    assert "Pwd=***" in details.text
    chromium.screenshot("worklist-degraded.png")


def test_a_real_mpps_session_shows_on_the_page(sqlite_db: str, chromium: Chromium, tmp_path: Path) -> None:
    """End to end: a modality's N-CREATE and N-SET through Orthanc's plugin, seen on the page."""
    port = free_port()
    settings = plugin_settings(sqlite_db, "sqlite", Mpps=mpps.scp(port))
    with OrthancServer(tmp_path / "orthanc", settings) as orthanc:
        attributes = mpps.in_progress("SPS-BROWSER", "ACC-BROWSER", "1.2.826.0.1.3680043.2.1143.77", station="DX_ROOM1")
        status, uid, _ = mpps.n_create(port, attributes)
        assert status == 0
        assert mpps.n_set(port, uid, mpps.completed(series=1, images=3))[0] == 0
        driver = chromium.driver
        driver.get(f"http://127.0.0.1:{orthanc.http_port}/sql-worklist/app/index.html")
        wait(driver).until(lambda d: len(step_rows(d)) == 1)
        (row,) = step_rows(driver)
        assert (row["uid"], row["status"]) == (uid, "COMPLETED")
        assert "SPS-BROWSER" in " ".join(str(v) for v in row.values())
        assert len(row["History"]) == 2 and "DX_ROOM1" in row["History"][0]
        chromium.screenshot("performed-steps-real.png")
