"""python -m vetmwl.tools.steps: list and void performed steps from a shell, reading orthanc.json
as the plugin does; every problem a one-line reason and a distinct exit status, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.stores import sqlite_store
from vetmwl.progress import COMPLETED, STUDY, VOIDED, PerformedStep, Reference
from vetmwl.tools import steps

COMMENTED = """{
  // Orthanc's files carry comments
  "Name": "clinic", /* and block comments */
  "StorageDirectory": "storage",
  "SqlWorklist": {"ConnectionString": "Driver=SQLite3;Database=/x.sqlite", "Dialect": "sqlite",
                  "StudyArrival": {"Event": "StableStudy"}}
}"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    folder = tmp_path / "etc-orthanc"
    folder.mkdir()
    (folder / "orthanc.json").write_text(COMMENTED)
    store = sqlite_store(folder / "storage" / "vetmwl-progress.sqlite")
    step = PerformedStep("study:1.2.9", STUDY, COMPLETED, references=(Reference("", "ACC1", "1.2.9"),))
    store.study_arrived(step, "arrived")
    store.database.close()
    return folder


def test_a_step_is_voided_and_listed_from_a_configuration_folder(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert steps.main(["--config", str(config), "void", "study:1.2.9", "--reason", "wrong\ndog", "--by", "vet"]) == 0
    assert "study:1.2.9: voided" in capsys.readouterr().out
    assert steps.main(["--config", str(config / "orthanc.json"), "void", "study:1.2.9"]) == 0
    assert "voided already" in capsys.readouterr().out
    assert steps.main(["--config", str(config), "list"]) == 0
    assert f"study:1.2.9\tSTUDY\t{VOIDED}\t-\taccession ACC1 study 1.2.9" in capsys.readouterr().out
    store = sqlite_store(config / "storage" / "vetmwl-progress.sqlite")
    step = store.get("study:1.2.9")
    store.database.close()
    assert step is not None and step.events[-1].detail == "voided from the command line by vet: wrong dog"


@pytest.mark.parametrize(
    ("write", "arguments", "status", "words"),
    [
        (None, ["void", "9.9.9"], 1, "no performed step '9.9.9'"),
        ({"orthanc.json": "{ not json"}, ["list"], 2, "cannot be read as Orthanc's JSON"),
        ({"orthanc.json": b"\xff\xfe"}, ["list"], 2, "cannot be read"),
        ({"orthanc.json": "[]"}, ["list"], 2, "not an Orthanc configuration"),
        ({"orthanc.json": json.dumps({"SqlWorklist": {"Dialect": "sqlite"}})}, ["list"], 2, "ConnectionString"),
        (
            {"orthanc.json": json.dumps({"SqlWorklist": {"ConnectionString": "x", "Dialect": "sqlite"}})},
            ["list"],
            2,
            "not recorded with this configuration",
        ),
        (
            {"orthanc.json": COMMENTED.replace('"storage"', '"elsewhere"')},
            ["list"],
            2,
            "no state store at",
        ),
    ],
)
def test_what_keeps_it_from_running_is_one_line(
    config: Path,
    capsys: pytest.CaptureFixture[str],
    write: dict[str, str | bytes] | None,
    arguments: list[str],
    status: int,
    words: str,
) -> None:
    for name, text in (write or {}).items():
        (config / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    assert steps.main(["--config", str(config), *arguments]) == status
    error = capsys.readouterr().err
    assert words in error and error.count("\n") == 1 and "Traceback" not in error


def test_a_missing_configuration_and_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert steps.main(["--config", str(tmp_path / "nothing.json"), "list"]) == 2
    assert "no Orthanc configuration at" in capsys.readouterr().err
    assert steps.main(["--config", str(tmp_path), "list"]) == 2
    assert "holds no *.json file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        steps.main(["--config", str(tmp_path), "list", "--limit", "0"])
    assert usage.value.code == 2 and "--limit must be from 1 to 1000" in capsys.readouterr().err
