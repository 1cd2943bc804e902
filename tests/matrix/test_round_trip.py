"""The whole worklist, without loss: items carrying every attribute of the model go in through the
importer and come back by C-FIND through Orthanc, the same values, in every dialect that runs here
and on every Orthanc of the matrix.

The query asks for every attribute the items hold, sequences as zero-length keys (which ask for
their whole items), with the step's among them; each answer is matched to its item by SPS ID and
compared value by value (numbers as numbers, dates and times as such). An answer whose step item
Orthanc emptied would lose every step value, and fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset

from support.clients import pynetdicom_find
from support.k61_items import NOT_GIVEN, k61_items, keyword_of_key, normalized_dataset, normalized_item
from support.runtimes import Runtime
from support.servers import MariaDBServer, OrthancServer, PostgresServer, plugin_settings, sqlite_connection_string
from vetmwl.model import SPS_SEQUENCE
from vetmwl.tools import importer

DIALECTS = ("sqlite", "postgresql", "mariadb")


def _keywords(items: list[dict[str, Any]]) -> set[str]:
    return {keyword_of_key(k) for item in items for k in item} - NOT_GIVEN - {SPS_SEQUENCE}


def full_identifier(items: list[dict[str, Any]]) -> Dataset:
    """Every attribute the items hold, asked for: values empty, sequences zero-length."""

    def ask(dataset: Dataset, keywords: set[str]) -> None:
        for keyword in sorted(keywords, key=tag_for_keyword):
            if dictionary_VR(keyword) == "SQ":
                dataset.add_new(keyword, "SQ", [])
            else:
                dataset.add_new(keyword, dictionary_VR(keyword).split(" or ")[0], None)

    root = Dataset()
    root.SpecificCharacterSet = "ISO_IR 192"
    ask(root, _keywords(items))
    step = Dataset()
    ask(step, _keywords([i[SPS_SEQUENCE][0] for i in items]))
    root.ScheduledProcedureStepSequence = [step]
    return root


@pytest.fixture(scope="module")
def items_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("k61") / "items.json"
    path.write_text(json.dumps(k61_items(), ensure_ascii=False))
    return path


@pytest.fixture
def database(request: pytest.FixtureRequest, items_file: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The items imported into a database of the dialect; (connection string, dialect)."""
    dialect = request.param
    server: PostgresServer | MariaDBServer | None = None
    if dialect == "sqlite":
        connection = sqlite_connection_string(tmp_path / "k61.sqlite")
    elif dialect == "postgresql":
        server = request.getfixturevalue("postgres")
        server.psql("DROP DATABASE IF EXISTS k61")
        server.psql("CREATE DATABASE k61")
        connection = server.connection_string("k61")
    else:
        server = request.getfixturevalue("mariadb")
        server.sql("DROP DATABASE IF EXISTS k61")
        server.sql("CREATE DATABASE k61")
        connection = server.connection_string("k61")
    status = importer.main(["--dialect", dialect, "--connection", connection, "--create-schema", str(items_file)])
    assert status == 0
    yield connection, dialect


@pytest.mark.parametrize("database", DIALECTS, indirect=True)
def test_every_attribute_comes_back_as_it_went_in(
    orthanc_runtime: Runtime, database: tuple[str, str], tmp_path: Path
) -> None:
    connection, dialect = database
    items = k61_items()
    with OrthancServer(tmp_path / "orthanc", plugin_settings(connection, dialect), runtime=orthanc_runtime) as orthanc:
        result = pynetdicom_find(orthanc.dicom_port, full_identifier(items))
        assert result.final_status == 0, orthanc.log()[-3000:]
        by_step = {}
        for answer in result.answers:
            (step,) = answer[SPS_SEQUENCE].value  # one whole step item: never emptied
            by_step[step.ScheduledProcedureStepID] = answer
        assert set(by_step) == {i[SPS_SEQUENCE][0]["ScheduledProcedureStepID"] for i in items}
        for item in items:
            expected = normalized_item(item)
            step_id = item[SPS_SEQUENCE][0]["ScheduledProcedureStepID"]
            got = normalized_dataset(by_step[step_id])
            for keyword, value in expected.items():
                if keyword in NOT_GIVEN:
                    continue
                assert got.get(keyword) == value, f"{dialect}, {step_id}: {keyword}"
    assert orthanc.exit_status == 0, orthanc.log()[-3000:]
