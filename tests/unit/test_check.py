"""The site check's readings of values and configuration, without a database (tests/integration/test_check.py
runs the whole check on PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vetmwl.config import ConfigError, load_settings
from vetmwl.tools import check


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("LefÃ¨vre^FÃ©lix", "UTF-8 text read as cp1252"),
        ("MÃ¼ller^Bello", "UTF-8 text read as cp1252"),
        ("O\x92Brien^Rex", "Windows-1252 text (quotes, dashes, accents) read as Latin-1"),
        ("M\ufffdller^Bello", "U+FFFD"),
        ("M?ller^Bello", "'?' between letters"),
    ],
)
def test_mis_encoded_text_is_told(text: str, why: str) -> None:
    found = check.mis_encoded(text, names=True)
    assert found is not None and why in found


@pytest.mark.parametrize(
    "text",
    ["Müller^Bello", "Lefèvre^Félix", "Dvořák^Rex", "山田^ポチ", "Παπαδόπουλος^Άρης", "O'Brien^Rex", "Smith^Rex"],
)
def test_good_text_is_not_told(text: str) -> None:
    assert check.mis_encoded(text, names=True) is None


def test_a_question_mark_in_free_text_is_punctuation() -> None:
    assert check.mis_encoded("Limping?Check the left fore", names=False) is None
    assert check.mis_encoded("Limping?Check the left fore", names=True) is not None


def test_lengths_follow_the_vr() -> None:
    assert check.too_long("PatientID", "x" * 64) is None
    assert check.too_long("PatientID", "x" * 65) == 65
    assert check.too_long("ScheduledProcedureStepID", "x" * 17) == 17  # SH
    assert check.too_long("PatientName", "A" * 60 + "^" + "B" * 3) is None  # 64 per component group
    assert check.too_long("PatientName", "A" * 60 + "^" + "B" * 10) == 71
    assert check.too_long("PatientName", "A" * 70 + "=" + "B") == 70  # the longest group
    assert check.too_long("MedicalAlerts", "\\".join(["x" * 64] * 3)) is None  # each value on its own
    assert check.too_long("PatientComments", "x" * 5000) is None  # LT: 10240


def test_species_are_recognised_by_their_words() -> None:
    assert check.species_limits("Feline") == check.species_limits("Cat (domestic)")
    assert check.species_limits("Canine")[0] == 90.0
    assert check.species_limits("EQUINE")[0] == 1200.0
    assert check.species_limits("Bearded dragon") is None


def test_the_configuration_is_read_as_orthanc_reads_it(tmp_path: Path) -> None:
    (tmp_path / "orthanc.json").write_text('{\n // "Name": "x",\n "DicomAet": "A//B", /* c */ "DicomPort": 4242\n}')
    (tmp_path / "worklist.json").write_text(
        '{"SqlWorklist": {"ConnectionString": "Driver=SQLite3", "Dialect": "sqlite"}}'
    )
    (tmp_path / "notes.txt").write_text("not JSON")
    configuration = check.read_configuration(tmp_path)
    assert configuration["DicomAet"] == "A//B" and "Name" not in configuration
    one = check.read_configuration(tmp_path / "orthanc.json")
    assert one == {"DicomAet": "A//B", "DicomPort": 4242, "StorageDirectory": str(tmp_path / "OrthancStorage")}
    (tmp_path / "bad.json").write_text('{"DicomPort": 104')
    with pytest.raises(ConfigError, match=r"bad\.json: cannot be read as Orthanc's JSON"):
        check.read_configuration(tmp_path)
    with pytest.raises(ConfigError, match="no Orthanc configuration at"):
        check.read_configuration(tmp_path / "missing")


def test_the_aes_checked_are_the_listed_ones_and_the_scheduled_stations() -> None:
    settings = load_settings(
        {"SqlWorklist": {"ConnectionString": "Driver=SQLite3", "Dialect": "sqlite",
                         "Modalities": {"CR_ROOM2": {"RestrictToOwnStation": True}, "US_1@192.0.2.7": {}}}},
        sql_folder=Path(__file__).resolve().parents[2] / "sql",
    )  # fmt: skip
    assert check.calling_aets(settings, ["DX_ROOM1", "CR_ROOM2"]) == [
        ("CR_ROOM2", None),
        ("US_1", "192.0.2.7"),
        ("DX_ROOM1", None),
    ]
    plain = load_settings({"SqlWorklist": {"ConnectionString": "x", "Dialect": "sqlite"}},
                          sql_folder=Path(__file__).resolve().parents[2] / "sql")  # fmt: skip
    assert check.calling_aets(plain, []) == [(None, None)]


@pytest.mark.parametrize(
    "argv", [["--aet", "A" * 17], ["--modality", "dx"], ["--date", "07/12/2026"], ["--days", "99"]]
)
def test_bad_arguments_are_refused_in_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        check.main(["/nonexistent", *argv])
    assert stopped.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()[-1]) > 0


def test_code_columns_take_the_vr_of_their_code_item() -> None:
    assert check.column_vr("PatientSpeciesCodeValue") == "SH"
    assert check.column_vr("PatientBreedCodeMeaning") == "LO"
    assert check.column_vr("BreedRegistryCodingSchemeDesignator") == "SH"
    assert check.too_long("PatientSpeciesCodeValue", "4" * 17) == 17


def test_a_weight_that_is_not_a_number_is_one_problem_not_a_crash() -> None:
    from vetmwl.model import Source
    from vetmwl.values import ViewColumn

    view = {
        "PatientWeight": ViewColumn("PatientWeight", "PatientWeight", Source.VALUE, str),
        "PatientID": ViewColumn("PatientID", "PatientID", Source.VALUE, str),
    }
    rows = [("12 lb", "P1"), ("4.5", "P2"), ("NaN", "P3"), ("", "P4")]
    report = check.Report()
    check.check_weights(check.Rows(view, ("PatientWeight", "PatientID"), rows), report)
    assert len(report.problems) == 1 and "not a number for 1 animal(s) (e.g. P1: '12 lb')" in report.problems[0]
