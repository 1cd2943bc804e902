"""Orthanc Explorer in headless Chromium: the Worklist entry, the page, the live query log.

Screenshots land in test-artifacts/ (desktop and phone widths) for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from support.browser import Chromium
from support.clients import findscu
from support.servers import OrthancServer

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
    chromium.screenshot("worklist-phone.png")


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
