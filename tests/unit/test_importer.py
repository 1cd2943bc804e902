"""Import: every valid item becomes a row without loss (columns and the catch-all of DICOM JSON);
every bad item is reported by position and reason."""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyodbc
import pytest

from support.k61_items import (
    NOT_GIVEN,
    SPS,
    code,
    k61_items,
    keyword_of_key,
    normalized_dataset,
    normalized_item,
    row_dataset,
)
from vetmwl import model
from vetmwl.model import CATCH_ALL, START_DATETIME
from vetmwl.tools import demo, importer
from vetmwl.tools.importer import (
    REFERENCE,
    REFERENCE_COLUMNS,
    Columns,
    ItemError,
    NumberLimit,
    Problem,
    item_to_row,
    read_items,
    validate,
)

ITEMS = demo.schedule(date(2026, 1, 5), days=2)
K61 = k61_items()
#: A site's own table: the required columns and the catch-all only.
MINIMAL = Columns.of([*model.REQUIRED_COLUMNS, CATCH_ALL])


def good_item() -> dict[str, Any]:
    return copy.deepcopy(ITEMS[0])


def catch_all(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row[CATCH_ALL]) if row.get(CATCH_ALL) else {}


def assert_lossless(item: dict[str, Any], row: dict[str, Any]) -> None:
    """The row's columns and catch-all hold the item: rebuilt, it equals the item, value for value."""
    assert normalized_dataset(row_dataset(row)) == normalized_item(item)


# -- the demo and simple items -------------------------------------------------------------------
def test_demo_items_all_validate() -> None:
    rows, problems = validate(ITEMS)
    assert problems == []
    assert len(rows) == len(ITEMS) == 2 * sum(s[4] for s in demo.STATIONS.values())


def test_item_becomes_a_row_of_the_reference_table() -> None:
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


def test_demo_rows_are_lossless_in_reference_columns() -> None:
    for item in ITEMS:
        row = item_to_row(item)
        assert set(row) <= set(REFERENCE_COLUMNS)
        assert_lossless(item, row)


def test_demo_gives_some_of_the_newer_columns() -> None:
    rows = [item_to_row(i) for i in ITEMS]
    for column in ("MedicalAlerts", "ScheduledProtocolCodeSequence", "IssuerOfPatientID", "RequestingPhysician"):
        assert any(r.get(column) for r in rows), column
    assert all(CATCH_ALL not in r for r in rows)  # the demo fits the reference columns


def test_empty_values_are_unknown_and_the_character_set_is_not_stored() -> None:
    item = good_item()
    item.update(PatientBreedDescription="", ResponsibleOrganization=None, AdmittingDiagnosesCodeSequence=[])
    item.update(SpecificCharacterSet="ISO_IR 192", ResponsiblePersonRole="OWNER", StudyDate="")
    row = item_to_row(item)
    assert row.get("PatientBreedDescription") is None
    assert row.get("ResponsibleOrganization") is None
    assert CATCH_ALL not in row  # nothing else: the empty date and sequence are unknown
    assert model.CHARACTER_SET not in row
    assert row["ResponsiblePersonRole"] == "OWNER"


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("", datetime(2026, 1, 5)),
        ("09", datetime(2026, 1, 5, 9)),
        ("0930", datetime(2026, 1, 5, 9, 30)),
        ("093015", datetime(2026, 1, 5, 9, 30, 15)),
        ("093015.25", datetime(2026, 1, 5, 9, 30, 15, 250000)),
    ],
)
def test_start_date_and_time_combine(time: str, expected: datetime) -> None:
    item = good_item()
    item[SPS][0].update(ScheduledProcedureStepStartDate="20260105", ScheduledProcedureStepStartTime=time)
    assert item_to_row(item)[START_DATETIME] == expected


# -- every attribute of the model, without loss --------------------------------------------------
def test_k61_items_carry_every_attribute_of_the_model() -> None:
    given = set()
    for item in K61:
        given |= {keyword_of_key(k) for k in item} | {keyword_of_key(k) for k in item[SPS][0]}
    assert (set(model.ROOT_ATTRIBUTES) | set(model.STEP_ATTRIBUTES)) - NOT_GIVEN <= given
    assert not (NOT_GIVEN & given)


@pytest.mark.parametrize("position", range(len(K61)))
@pytest.mark.parametrize(
    "columns",
    [REFERENCE, MINIMAL, Columns.of([n.lower() for n in REFERENCE_COLUMNS])],
    ids=["reference", "minimal", "lower-case"],
)
def test_k61_items_are_imported_without_loss(position: int, columns: Columns) -> None:
    item = K61[position]
    row = item_to_row(item, columns)
    assert set(row) <= set(columns.names)
    assert_lossless(item, row)


def test_k61_attributes_go_to_their_reference_columns() -> None:
    bello = item_to_row(K61[0])
    assert bello["MedicalAlerts"] == "Bites when in pain\\Epilepsy"
    assert bello["Allergies"] == "Penicillin\\Chicken protein"
    assert bello["PatientSize"] == Decimal("0.62")
    assert bello["IssuerOfPatientID"] == "RVC"
    assert bello["RequestingPhysician"] == "Okafor^James^^Dr"
    assert bello["ResponsiblePersonRole"] == "OWNER"
    assert bello["PreMedication"] == "Butorphanol 0.2 mg/kg IV"
    assert bello["CommentsOnTheScheduledProcedureStep"] == "Two people needed to position him"
    protocols = json.loads(bello["ScheduledProtocolCodeSequence"])
    assert [p["00080100"]["Value"] for p in protocols] == [["XR-THX-LAT"], ["XR-THX-VD"]]
    assert protocols[0]["00080103"] == {"vr": "SH", "Value": ["2026"]}  # Coding Scheme Version
    (context,) = protocols[1]["00400440"]["Value"]  # Protocol Context Sequence, nested
    assert context["0040A160"] == {"vr": "UT", "Value": ["Take in full inspiration"]}
    (study,) = json.loads(bello["ReferencedStudySequence"])
    assert study["00081150"] == {"vr": "UI", "Value": ["1.2.840.10008.3.1.2.3.1"]}
    assert json.loads(bello["ReferencedPatientSequence"])[0]["00081150"]["Value"] == ["1.2.840.10008.3.1.2.1.1"]
    assert json.loads(bello["RequestedProcedureCodeSequence"])[0]["00080104"]["Value"] == ["XR Thorax 3 views"]
    # Fits the code columns: one code of exactly three attributes.
    assert (bello["PatientSpeciesCodeValue"], bello["PatientBreedCodeValue"]) == ("448771007", "42252000")
    assert (bello["BreedRegistrationNumber"], bello["BreedRegistryCodeValue"]) == ("DN12345601", "109200")
    extra = catch_all(bello)
    assert extra["00100032"] == {"vr": "TM", "Value": ["0615"]}  # Patient's Birth Time
    assert extra["00402001"] == {"vr": "LO", "Value": ["Suspected pneumonia"]}  # retired, given by tag
    assert extra["00081080"] == {"vr": "LO", "Value": ["Pneumonia", "Dehydration"]}  # multi-valued
    assert extra["001021C0"] == {"vr": "US", "Value": [4]}
    assert extra["00401010"]["Value"] == [{"Alphabetic": "Okafor^James^^Dr"}, {"Alphabetic": "Carter^Emily^^Dr"}]
    (other,) = extra["00101002"]["Value"]  # Other Patient IDs, with its nested qualifiers
    assert other["00100024"]["Value"][0]["00400033"] == {"vr": "CS", "Value": ["ISO"]}
    (step,) = extra["00400100"]["Value"]  # the step's attributes without a column
    assert set(step) == {
        "00102210",  # Anatomical Orientation Type
        "00400004",  # SPS End Date
        "00400005",  # SPS End Time
        "0040000B",  # Scheduled Performing Physician Identification Sequence
        "00404025",  # Scheduled Station Name Code Sequence
        "00404026",  # Scheduled Station Class Code Sequence
        "00404010",  # SPS Modification Date Time
    }
    assert step["00404010"] == {"vr": "DT", "Value": ["20261126164512+0100"]}
    assert not set(extra) & {"00100010", "00100020", "00101030", "00102000"}  # those have columns


def test_codes_that_do_not_fit_go_whole_to_the_catch_all() -> None:
    argos = item_to_row(K61[1])
    for column in (*model.SPECIES_CODE, *model.BREED_CODE, model.REGISTRATION_NUMBER, *model.REGISTRY_CODE):
        assert column not in argos
    extra = catch_all(argos)
    (species,) = extra["00102202"]["Value"]
    assert species["00080103"] == {"vr": "SH", "Value": ["20260101"]}  # the Coding Scheme Version that did not fit
    assert len(extra["00102293"]["Value"]) == 2
    assert [r["00102295"]["Value"] for r in extra["00102294"]["Value"]] == [["GR-AR-0042"], ["WAHO-77812"]]


CODE = code("448771007", "SCT", "Canis lupus familiaris")
REGISTRY = code("109200", "DCM", "America Kennel Club")


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
    assert row.get("PatientBreedCodeValue") is None and CATCH_ALL not in row  # []: no code
    assert row["BreedRegistrationNumber"] == "SR1"
    assert (row["BreedRegistryCodeValue"], row["BreedRegistryCodeMeaning"]) == ("109200", "America Kennel Club")
    assert_lossless(item, row)


@pytest.mark.parametrize(
    ("change", "tag"),
    [
        ({"PatientSpeciesCodeSequence": [CODE, CODE]}, "00102202"),
        ({"PatientBreedCodeSequence": [{"CodeValue": "1", "CodingSchemeDesignator": "SCT"}]}, "00102293"),
        ({"PatientBreedCodeSequence": [CODE | {"CodingSchemeVersion": "1"}]}, "00102293"),
        (
            {
                "PatientBreedCodeSequence": [
                    {"LongCodeValue": "1" * 20, "CodingSchemeDesignator": "X", "CodeMeaning": "Y"}
                ]
            },
            "00102293",
        ),
        ({"BreedRegistrationSequence": [{"BreedRegistryCodeSequence": [REGISTRY]}]}, "00102294"),
        (
            {
                "BreedRegistrationSequence": [
                    {"BreedRegistrationNumber": "1", "BreedRegistryCodeSequence": [REGISTRY] * 2}
                ]
            },
            "00102294",
        ),
        (
            {
                "BreedRegistrationSequence": [
                    {"BreedRegistrationNumber": "1", "BreedRegistryCodeSequence": [CODE | {"CodingSchemeVersion": "2"}]}
                ]
            },
            "00102294",
        ),
        ({"BreedRegistrationSequence": [{"BreedRegistrationNumber": "1", "PatientID": "9"}]}, "00102294"),
        (
            {"BreedRegistrationSequence": [{"BreedRegistrationNumber": "1"}, {"BreedRegistrationNumber": "2"}]},
            "00102294",
        ),
    ],
)
def test_code_sequence_that_does_not_fit_is_kept_in_the_catch_all(change: dict[str, Any], tag: str) -> None:
    item = good_item()
    item.update(change)
    row = item_to_row(item)
    assert set(catch_all(row)) == {tag}
    assert not set(row) & model.CODE_COLUMNS
    assert_lossless(item, row)


def test_codes_go_to_the_catch_all_when_the_table_lacks_a_code_column() -> None:
    item = good_item()
    item.update(PatientSpeciesCodeSequence=[CODE])
    names = [c for c in REFERENCE_COLUMNS if c != model.SPECIES_CODE.meaning]
    row = item_to_row(item, Columns.of(names))
    assert set(catch_all(row)) == {"00102202"}
    assert_lossless(item, row)


def test_catch_all_is_one_dicom_json_dataset_with_the_step_inside() -> None:
    item = good_item()
    item.update({"StudyDate": "20260105", "PatientAge": "005Y", "OtherPatientIDsSequence": [{"PatientID": "X1"}]})
    item[SPS][0].update(ScheduledProcedureStepEndTime="0930")
    row = item_to_row(item)
    assert json.loads(row[CATCH_ALL]) == {
        "00080020": {"vr": "DA", "Value": ["20260105"]},
        "00101002": {"vr": "SQ", "Value": [{"00100020": {"vr": "LO", "Value": ["X1"]}}]},
        "00101010": {"vr": "AS", "Value": ["005Y"]},
        "00400100": {"vr": "SQ", "Value": [{"00400005": {"vr": "TM", "Value": ["0930"]}}]},
    }
    assert list(json.loads(row[CATCH_ALL])) == sorted(json.loads(row[CATCH_ALL]))  # tag order


def test_any_public_attribute_is_accepted_and_attributes_keep_their_level() -> None:
    """Attributes outside the model, or at the other level, go to the catch-all where they were."""
    item = good_item()
    item.update({"OperatorsName": "Kim^Jae", "Modality": "OT", "0008,1040": "Radiology"})
    item[SPS][0].update(PatientName="Not^Here", ContrastBolusAgent="Iohexol")
    row = item_to_row(item)
    extra = catch_all(row)
    assert set(extra) == {"00080060", "00081040", "00081070", "00400100"}
    assert set(extra["00400100"]["Value"][0]) == {"00100010", "00180010"}
    assert row["Modality"] == item[SPS][0]["Modality"] and row["PatientName"] == item["PatientName"]
    assert_lossless(item, row)


def test_a_site_table_with_more_columns_gets_them() -> None:
    """Any column named after an attribute of the model is filled, with the value its VR gives."""
    extra = ["StudyDate", "StudyTime", "PatientAge", "PregnancyStatus", "OtherPatientIDsSequence", "AdmittingDate"]
    extra += ["PatientSpeciesCodeSequence", "ScheduledProcedureStepEndTime", "IssueTimeOfImagingServiceRequest"]
    columns = Columns.of([*REFERENCE_COLUMNS, *extra])
    bello = K61[0]
    row = item_to_row(bello, columns)
    assert row["StudyDate"] == date(2026, 11, 27)
    assert row["StudyTime"] == "093000"
    assert row["ScheduledProcedureStepEndTime"] == "100000"
    assert row["IssueTimeOfImagingServiceRequest"] == "164512.250000"
    assert row["PatientAge"] == "007Y"
    assert row["PregnancyStatus"] == 4
    assert json.loads(row["OtherPatientIDsSequence"])[0]["00100020"]["Value"] == ["276098106123456"]
    # A sequence with its own column goes there whole, and not to the code columns.
    assert json.loads(row["PatientSpeciesCodeSequence"])[0]["00080100"]["Value"] == ["448771007"]
    assert "PatientSpeciesCodeValue" not in row
    assert not set(catch_all(row)) & {"00080020", "00080030", "00101010", "001021C0", "00101002", "00102202"}
    assert_lossless(bello, row)


def test_date_time_column_takes_no_utc_offset() -> None:
    columns = Columns.of([*REFERENCE_COLUMNS, "ScheduledProcedureStepModificationDateTime"])
    with pytest.raises(ItemError, match=r"ScheduledProcedureStepModificationDateTime: .*UTC offset"):
        item_to_row(K61[0], columns)
    item = copy.deepcopy(K61[0])
    item[SPS][0]["ScheduledProcedureStepModificationDateTime"] = "20261126164512"
    row = item_to_row(item, columns)
    assert row["ScheduledProcedureStepModificationDateTime"] == datetime(2026, 11, 26, 16, 45, 12)
    assert_lossless(item, row)


def test_decimal_column_refuses_what_it_would_round() -> None:
    columns = Columns(REFERENCE.names, {"PatientWeight": NumberLimit(8, 3)})
    item = good_item()
    item["PatientWeight"] = "4.2500"
    assert item_to_row(item, columns)["PatientWeight"] == Decimal("4.2500")  # same value at 3 places
    item["PatientWeight"] = "4.2345"
    with pytest.raises(ItemError, match=r"PatientWeight: 4.2345 has more decimal places than its column keeps \(3\)"):
        item_to_row(item, columns)
    item["PatientWeight"] = "123456"
    with pytest.raises(ItemError, match="PatientWeight: 123456 is larger than its column keeps"):
        item_to_row(item, columns)


def test_table_without_a_catch_all_refuses_items_that_need_it() -> None:
    columns = Columns.of([c for c in REFERENCE_COLUMNS if c != CATCH_ALL])
    assert item_to_row(good_item(), columns)  # everything has a column
    with pytest.raises(ItemError) as error:
        item_to_row(K61[1], columns)
    message = str(error.value)
    assert message.startswith("the table has no column for PatientAge, PregnancyStatus, ")
    assert f"{SPS} > AnatomicalOrientationType" in message and f"no {CATCH_ALL} column" in message
    rows, problems = validate([good_item(), K61[1]], columns)
    assert len(rows) == 1 and [p.position for p in problems] == [2]


def test_columns_are_found_case_insensitively_and_others_ignored() -> None:
    columns = Columns.of(["scheduledprocedurestepid", "PATIENTNAME", "patientid", "modality", "Internal_Id", "Notes"])
    columns = Columns.of([*columns.names.values(), "scheduledprocedurestepstartdatetime", "additionalattributes"])
    assert columns.names["PatientName"] == "PATIENTNAME"
    assert "Internal_Id" not in columns.names.values() and columns.missing_required() == []
    assert Columns.of(["PatientName", "PatientID"]).missing_required() == [
        "ScheduledProcedureStepID",
        START_DATETIME,
        "Modality",
    ]


# -- keys and values ------------------------------------------------------------------------------
def test_tags_are_accepted_as_keys() -> None:
    item = good_item()
    del item["PatientID"]
    item.update({"0010,0020": "000099", "(0010,1090)": "Cabinet 1"})
    item[SPS][0]["0040,0007"] = item[SPS][0].pop("ScheduledProcedureStepDescription")
    row = item_to_row(item)
    assert row["PatientID"] == "000099"
    assert row["ScheduledProcedureStepDescription"] == ITEMS[0][SPS][0]["ScheduledProcedureStepDescription"]
    assert catch_all(row) == {"00101090": {"vr": "LO", "Value": ["Cabinet 1"]}}


def test_numbers_for_numeric_vrs() -> None:
    item = good_item()
    item.update(PatientWeight=38.5, PatientSize=1, PregnancyStatus=4, NumberOfStudyRelatedSeries=3)
    row = item_to_row(item)
    assert row["PatientWeight"] == Decimal("38.5") and row["PatientSize"] == Decimal("1")
    assert catch_all(row)["001021C0"] == {"vr": "US", "Value": [4]}
    assert catch_all(row)["00201206"] == {"vr": "IS", "Value": [3]}


def test_several_values_are_kept() -> None:
    item = good_item()
    item.update(MedicalAlerts="Bites\\Epilepsy\\Deaf", Allergies=" Penicillin \\Eggs")
    row = item_to_row(item)
    assert row["MedicalAlerts"] == "Bites\\Epilepsy\\Deaf"
    assert row["Allergies"] == "Penicillin\\Eggs"  # each value without padding
    item["PatientComments"] = "C:\\temp is not a list"  # LT: one value, backslashes and all
    assert item_to_row(item)["PatientComments"] == "C:\\temp is not a list"


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
        (_set("Foo", "x"), "Foo: unknown key (neither a DICOM keyword nor a tag gggg,eeee)"),
        (_set_step("Foo", "x"), "Foo: unknown key"),
        (_set("0009,1010", "x"), "0009,1010: (0009,1010) is a private attribute; only public attributes"),
        (_set("0010,9999", "x"), "0010,9999: (0010,9999) is not an attribute of the DICOM dictionary"),
        (_set("0002,0010", "1.2"), "0002,0010: TransferSyntaxUID is not an attribute of a worklist item"),
        (_set("PixelData", "AAAA"), "PixelData: binary values (VR OB) are not supported"),
        (_set("0010,0020", "1"), "PatientID is given twice"),
        (_set_step(START_DATETIME, "20260105083000"), f"{START_DATETIME} is not taken"),
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
        (_set("PatientBirthDate", "20260230"), "PatientBirthDate: '20260230' is not a real calendar date"),
        (_set("StudyDate", "20260230"), "StudyDate: '20260230' is not a real calendar date"),
        (_set("StudyTime", "2460"), "StudyTime"),
        (_set_step("ScheduledProcedureStepStartDate", "20261301"), "ScheduledProcedureStepStartDate"),
        (_set_step("ScheduledProcedureStepStartTime", "2500"), "ScheduledProcedureStepStartTime"),
        (_set_step("Modality", "dx"), "Modality: Invalid value for VR CS: 'dx'."),
        (_set("AccessionNumber", "A" * 17), "AccessionNumber"),
        (_set("PatientID", "P" * 65), "PatientID"),
        (_set("PatientID", 42), "PatientID: value must be text, not a number (LO is not a numeric VR)"),
        (_set("PatientID", "1\\2"), "PatientID: holds 2 values separated by backslashes, but takes one"),
        (_set("MedicalAlerts", ["a", "b"]), "MedicalAlerts: value must be text, not list (several values are one"),
        (_set("MedicalAlerts", "ok\\" + "x" * 65), "MedicalAlerts"),
        (_set("PatientWeight", "heavy"), "PatientWeight"),
        (_set("PatientWeight", True), "PatientWeight: value must be text or a number, not bool"),
        (_set("PregnancyStatus", 1.5), "PregnancyStatus: 1.5 is not an integer (US)"),
        (_set("PregnancyStatus", "70000"), "PregnancyStatus"),
        (_set("PregnancyStatus", "four"), "PregnancyStatus: 'four' is not a number of VR US"),
        (_set("PatientName", {"Alphabetic": "Smith"}), "PatientName: value must be text, not dict"),
        (_set("PatientSpeciesCodeSequence", CODE), "PatientSpeciesCodeSequence: a sequence must be a list of objects"),
        (_set("PatientSpeciesCodeSequence", ["SCT"]), "PatientSpeciesCodeSequence: a sequence must be a list"),
        (
            _set("PatientBreedCodeSequence", [CODE | {"CodeValue": "1" * 17}]),
            "PatientBreedCodeSequence item 1: CodeValue",
        ),
        (
            _set(
                "OtherPatientIDsSequence",
                [{"PatientID": "1"}, {"IssuerOfPatientIDQualifiersSequence": [{"UniversalEntityIDType": "iso"}]}],
            ),
            "OtherPatientIDsSequence item 2: IssuerOfPatientIDQualifiersSequence item 1: UniversalEntityIDType",
        ),
        (_set("PatientSpeciesCodeValue", "448771007"), "PatientSpeciesCodeValue: unknown key"),
    ],
)
def test_bad_items_are_refused_with_a_reason(change: Callable[[dict[str, Any]], None], reason: str) -> None:
    item = good_item()
    change(item)
    with pytest.raises(ItemError) as error:
        item_to_row(item)
    assert reason in str(error.value)
    key = reason.split(":")[0]
    assert str(error.value).count(f"{key}:") <= 1, "the key is named once"


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
    assert problems[1].reason.startswith("Modality: Invalid value for VR CS")
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


# -- a site's own table, through the SQLite ODBC driver -------------------------------------------
SITE_TABLE = """CREATE TABLE site_worklist (
    internal_id INTEGER PRIMARY KEY AUTOINCREMENT,
    scheduledprocedurestepid TEXT NOT NULL, SCHEDULEDPROCEDURESTEPSTARTDATETIME TEXT NOT NULL,
    Modality TEXT NOT NULL, PatientName TEXT NOT NULL, PatientID TEXT NOT NULL,
    medicalalerts TEXT, StudyDate DATE, PatientWeight NUMERIC, additionalattributes TEXT, notes TEXT)"""


def import_file(tmp_path: Path, items: list[dict[str, Any]], *arguments: str) -> tuple[int, str]:
    path = tmp_path / "items.json"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    connection = f"Driver=SQLite3;Database={tmp_path / 'site.sqlite'}"
    return importer.main(["--dialect", "sqlite", "--connection", connection, *arguments, str(path)]), connection


def test_a_site_table_with_its_own_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(tmp_path / "site.sqlite") as db:
        db.execute(SITE_TABLE)
    status, connection = import_file(tmp_path, K61, "--table", "site_worklist")
    assert status == 0, capsys.readouterr().err
    with pyodbc.connect(connection) as db:
        cursor = db.execute("SELECT * FROM site_worklist ORDER BY internal_id")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    assert [r["internal_id"] for r in rows] == [1, 2, 3] and {r["notes"] for r in rows} == {None}
    assert rows[0]["medicalalerts"] == "Bites when in pain\\Epilepsy"
    assert rows[0]["StudyDate"] == date(2026, 11, 27)
    for item, row in zip(K61, rows, strict=True):
        assert_lossless(item, row)


def test_a_table_without_required_columns_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(tmp_path / "site.sqlite") as db:
        db.execute("CREATE TABLE thin (PatientName TEXT, PatientID TEXT, Modality TEXT)")
    status, _ = import_file(tmp_path, ITEMS[:2], "--table", "thin")
    assert status == 3
    assert "nothing imported: the table thin lacks the required column(s) ScheduledProcedureStepID, " in (
        capsys.readouterr().err
    )


def test_items_the_table_cannot_hold_are_reported_and_nothing_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(tmp_path / "site.sqlite") as db:
        db.execute(SITE_TABLE.replace(", additionalattributes TEXT", ""))
    fits = {
        "PatientName": "Müller^Bello",
        "PatientID": "000042",
        "MedicalAlerts": "Bites",
        SPS: [{"Modality": "DX", "ScheduledProcedureStepStartDate": "20261127", "ScheduledProcedureStepID": "S1"}],
    }
    status, connection = import_file(tmp_path, [fits, K61[2]], "--table", "site_worklist")
    assert status == 1
    err = capsys.readouterr().err
    assert "item 1" not in err
    assert "item 2: the table has no column for AccessionNumber, PatientBirthDate, PatientSex, " in err
    assert "nothing imported: 1 of 2 item(s) are invalid" in err
    with pyodbc.connect(connection) as db:
        assert db.execute("SELECT COUNT(*) FROM site_worklist").fetchone()[0] == 0


def run_main(path: str, *options: str) -> int:
    return importer.main(["--dialect", "sqlite", "--connection", "Driver=NoSuchDriver", *options, path])


@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        (None, 2, "does not exist"),
        (b'[{"PatientName": "M\xfcller^Rex"}]', 2, "is not UTF-8 text (line 1): save it as UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, 2, "nests JSON 100000 levels deep; worklist items need at most 32"),
        (b'{"a": ' * 40 + b"1" + b"}" * 40, 2, "nests JSON 40 levels deep"),
        (b'[{"PatientID": "1"', 2, "is not valid JSON"),
    ],
)
def test_a_file_that_cannot_be_read_as_items_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, status: int, words: str
) -> None:
    path = tmp_path / "items.json"
    if content is not None:
        path.write_bytes(content)
    assert run_main(str(path)) == status
    err = capsys.readouterr().err
    assert words in err and err.startswith("error: nothing imported: ") and err.count("\n") == 1


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    item = good_item()
    item["StudyDescription"] = "[[[[" * 8 + "{{{{" * 8
    path = tmp_path / "items.json"
    path.write_text(json.dumps([item]), encoding="utf-8-sig")  # a BOM, as some Windows editors write
    assert run_main(str(path)) == 3  # read and valid: only the database is missing
    assert "nothing imported" in capsys.readouterr().err


def test_a_folder_is_not_a_file_of_items(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(str(tmp_path)) == 2
    assert "is a folder, not a file of items" in capsys.readouterr().err


def test_without_the_plugins_sql_folder_it_cannot_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "items.json"
    path.write_text(json.dumps([good_item()]))
    assert run_main(str(path), "--sql-dir", str(tmp_path / "nowhere")) == 3
    err = capsys.readouterr().err
    assert "is not the plugin's sql folder" in err and "--sql-dir" in err and err.count("\n") == 1
