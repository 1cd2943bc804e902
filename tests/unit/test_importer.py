"""Import validation: good items become rows; every bad item is reported by position and reason."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from vetmwl import demo, importer
from vetmwl.contract import COLUMN_BY_NAME, START_DATETIME
from vetmwl.importer import ItemError, Problem, item_to_row, read_items, validate

SPS = "ScheduledProcedureStepSequence"
ITEMS = demo.schedule(date(2026, 1, 5), days=2)


def good_item() -> dict[str, Any]:
    return copy.deepcopy(ITEMS[0])


def test_demo_items_all_validate() -> None:
    rows, problems = validate(ITEMS)
    assert problems == []
    assert len(rows) == len(ITEMS) == 2 * sum(s[4] for s in demo.STATIONS.values())


def test_item_becomes_a_row_of_the_contract() -> None:
    item = {
        "PatientName": "García^Luna",
        "PatientID": "000004",
        "PatientBirthDate": "20210402",
        "PatientWeight": "4.20",
        "PatientSex": "F",
        "AccessionNumber": "2601050001",
        SPS: [
            {
                "Modality": "DX",
                "ScheduledProcedureStepStartDate": "20260105",
                "ScheduledProcedureStepStartTime": "083000",
                "ScheduledProcedureStepID": "SPS00001",
                "ScheduledStationAETitle": "DX_ROOM1",
            }
        ],
    }
    assert item_to_row(item) == {
        "PatientName": "García^Luna",
        "PatientID": "000004",
        "PatientBirthDate": date(2021, 4, 2),
        "PatientWeight": Decimal("4.20"),
        "PatientSex": "F",
        "AccessionNumber": "2601050001",
        "Modality": "DX",
        "ScheduledProcedureStepID": "SPS00001",
        "ScheduledStationAETitle": "DX_ROOM1",
        START_DATETIME: datetime(2026, 1, 5, 8, 30),
    }


def test_demo_rows_use_only_contract_columns() -> None:
    for item in ITEMS:
        assert set(item_to_row(item)) <= set(COLUMN_BY_NAME)


def test_empty_values_become_null_and_derived_keys_are_ignored() -> None:
    item = good_item()
    item.update(PatientBreedDescription="", ResponsibleOrganization=None)
    item.update(SpecificCharacterSet="ISO_IR 192", ResponsiblePersonRole="OWNER")
    row = item_to_row(item)
    assert row["PatientBreedDescription"] is None
    assert row["ResponsibleOrganization"] is None
    assert "SpecificCharacterSet" not in row
    assert "ResponsiblePersonRole" not in row


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("", datetime(2026, 1, 5)),
        ("09", datetime(2026, 1, 5, 9)),
        ("0930", datetime(2026, 1, 5, 9, 30)),
        ("093015", datetime(2026, 1, 5, 9, 30, 15)),
    ],
)
def test_start_date_and_time_combine(time: str, expected: datetime) -> None:
    item = good_item()
    item[SPS][0].update(ScheduledProcedureStepStartDate="20260105", ScheduledProcedureStepStartTime=time)
    assert item_to_row(item)[START_DATETIME] == expected


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda item: item.update({key: value})


def _set_step(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda item: item[SPS][0].update({key: value})


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda item: item.pop(key)


def _drop_step(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda item: item[SPS][0].pop(key)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_set("Foo", "x"), "unknown or unsupported key(s): Foo"),
        (_set("ScheduledProcedureStepStartDate", "20260105"), "unknown or unsupported key(s)"),
        (_set_step("Foo", "x"), f"{SPS}: unknown or unsupported key(s): Foo"),
        (_set(SPS, []), "exactly one object"),
        (lambda item: item[SPS].append(copy.deepcopy(item[SPS][0])), "exactly one object"),
        (_set(SPS, {"Modality": "DX"}), "exactly one object"),
        (_set(SPS, ["DX"]), "exactly one object"),
        (_drop(SPS), "exactly one object"),
        (_drop("PatientID"), "PatientID is required"),
        (_set("PatientID", "  "), "PatientID is required"),
        (_drop("PatientName"), "PatientName is required"),
        (_drop_step("Modality"), "Modality is required"),
        (_drop_step("ScheduledProcedureStepID"), "ScheduledProcedureStepID is required"),
        (_drop_step("ScheduledProcedureStepStartDate"), "ScheduledProcedureStepStartDate is required"),
        (_set("PatientBirthDate", "20261301"), "PatientBirthDate"),
        (_set("PatientBirthDate", "20260230"), "PatientBirthDate"),
        (_set_step("ScheduledProcedureStepStartDate", "20261301"), "ScheduledProcedureStepStartDate"),
        (_set_step("ScheduledProcedureStepStartTime", "2500"), "ScheduledProcedureStepStartTime"),
        (_set_step("Modality", "dx"), "Modality"),
        (_set("AccessionNumber", "A" * 17), "AccessionNumber"),
        (_set("PatientID", "P" * 65), "PatientID"),
        (_set("PatientWeight", "heavy"), "PatientWeight"),
        (_set("PatientWeight", True), "PatientWeight: value must be text"),
        (_set("PatientName", {"Alphabetic": "Smith"}), "PatientName: value must be text"),
    ],
)
def test_bad_items_are_refused_with_a_reason(change: Callable[[dict[str, Any]], None], reason: str) -> None:
    item = good_item()
    change(item)
    with pytest.raises(ItemError) as error:
        item_to_row(item)
    assert reason in str(error.value)


def test_non_object_item_is_refused() -> None:
    with pytest.raises(ItemError, match="JSON object"):
        item_to_row(["PatientName", "x"])


def test_validate_reports_each_bad_item_by_position() -> None:
    bad_date = good_item()
    bad_date["PatientBirthDate"] = "20261301"
    lowercase = copy.deepcopy(ITEMS[1])
    lowercase[SPS][0]["Modality"] = "dx"
    duplicate = copy.deepcopy(ITEMS[3])
    duplicate[SPS][0]["ScheduledProcedureStepID"] = ITEMS[2][SPS][0]["ScheduledProcedureStepID"]
    rows, problems = validate([bad_date, lowercase, ITEMS[2], duplicate, ITEMS[4]])
    assert [p.position for p in problems] == [1, 2, 4]
    assert "PatientBirthDate" in problems[0].reason
    assert "Modality" in problems[1].reason
    assert "repeats item 3" in problems[2].reason
    assert str(problems[2]).startswith("item 4: ScheduledProcedureStepID")
    assert [r["ScheduledProcedureStepID"] for r in rows] == [
        ITEMS[2][SPS][0]["ScheduledProcedureStepID"],
        ITEMS[4][SPS][0]["ScheduledProcedureStepID"],
    ]


def test_problem_text() -> None:
    assert str(Problem(7, "PatientID is required")) == "item 7: PatientID is required"


def test_read_items_accepts_a_json_array() -> None:
    text = "\n  " + json.dumps(ITEMS[:3], ensure_ascii=False, indent=1)
    assert read_items(text) == ITEMS[:3]


def test_read_items_accepts_json_lines() -> None:
    text = "\n".join(json.dumps(item, ensure_ascii=False) for item in ITEMS[:3]) + "\n\n"
    assert read_items(text) == ITEMS[:3]


def test_read_items_rejects_broken_json() -> None:
    with pytest.raises(json.JSONDecodeError):
        read_items('{"PatientID": "1"}\n{"PatientID": ')


def test_main_refuses_a_file_with_bad_items_before_connecting(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """No database is needed to refuse: validation happens before the connection is opened."""
    bad = good_item()
    bad["AccessionNumber"] = "A" * 17
    path = tmp_path / "items.json"
    path.write_text(json.dumps([ITEMS[1], bad]))
    status = importer.main(["--dialect", "sqlite", "--connection", "Driver=NoSuchDriver", str(path)])
    assert status == 1
    err = capsys.readouterr().err
    assert "item 2: AccessionNumber" in err
    assert "nothing imported: 1 of 2 item(s) are invalid" in err


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mssql", "mariadb"])
def test_schema_statements_have_no_comments(dialect: str) -> None:
    statements = importer.schema_statements(dialect)
    assert statements[0].upper().startswith("CREATE TABLE")
    assert all(not line.lstrip().startswith("--") for s in statements for line in s.splitlines())


CODE = {"CodeValue": "448771007", "CodingSchemeDesignator": "SCT", "CodeMeaning": "Canis lupus familiaris"}
REGISTRY = {"CodeValue": "109200", "CodingSchemeDesignator": "DCM", "CodeMeaning": "America Kennel Club"}


def test_code_sequences_become_their_columns() -> None:
    item = good_item()
    item.update(
        PatientSpeciesCodeSequence=[CODE],
        PatientBreedCodeSequence=[],
        BreedRegistrationSequence=[{"BreedRegistrationNumber": "SR1", "BreedRegistryCodeSequence": [REGISTRY]}],
    )
    row = item_to_row(item)
    assert (row["PatientSpeciesCodeValue"], row["PatientSpeciesCodingSchemeDesignator"]) == ("448771007", "SCT")
    assert row["PatientSpeciesCodeMeaning"] == "Canis lupus familiaris"
    assert row["PatientBreedCodeValue"] is None and row["PatientBreedCodeMeaning"] is None
    assert row["BreedRegistrationNumber"] == "SR1"
    assert (row["BreedRegistryCodeValue"], row["BreedRegistryCodeMeaning"]) == ("109200", "America Kennel Club")


def test_demo_gives_some_codes() -> None:
    rows = [item_to_row(i) for i in ITEMS]
    assert any(r.get("BreedRegistrationNumber") for r in rows)
    assert any(r.get("PatientSpeciesCodeValue") for r in rows)
    assert any(r.get("PatientBreedCodeValue") for r in rows)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"PatientSpeciesCodeSequence": [CODE, CODE]}, "PatientSpeciesCodeSequence must be a list holding at most one"),
        ({"PatientSpeciesCodeSequence": CODE}, "at most one object"),
        ({"PatientBreedCodeSequence": [{"CodeValue": "1", "CodingSchemeDesignator": "SCT"}]}, "CodeMeaning is missing"),
        ({"PatientBreedCodeSequence": [CODE | {"CodingSchemeVersion": "1"}]}, "unknown or unsupported key(s)"),
        ({"PatientBreedCodeSequence": [CODE | {"CodeValue": "1" * 17}]}, "CodeValue"),
        (
            {"BreedRegistrationSequence": [{"BreedRegistryCodeSequence": [REGISTRY]}]},
            "BreedRegistrationNumber is required",
        ),
        ({"BreedRegistrationSequence": [{"BreedRegistrationNumber": "1", "Foo": 1}]}, "unknown or unsupported"),
        ({"PatientSpeciesCodeValue": "448771007"}, "unknown or unsupported key(s): PatientSpeciesCodeValue"),
    ],
)
def test_bad_code_sequences_are_refused(change: dict[str, Any], reason: str) -> None:
    item = good_item()
    item.update(change)
    with pytest.raises(ItemError) as error:
        item_to_row(item)
    assert reason in str(error.value)
