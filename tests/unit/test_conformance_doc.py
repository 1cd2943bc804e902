"""docs/conformance.md must stay true to the code: its tables are parsed and checked here."""

from __future__ import annotations

import re
import warnings
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.charset import python_encoding
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset

from vetmwl import codes
from vetmwl.answers import build_answer, encode
from vetmwl.charset import CODECS
from vetmwl.config import _AE_KEYS, DEFAULT_STATUSES, AeOptions
from vetmwl.contract import (
    ANSWERED_ROOT_KEYWORDS,
    COLUMN_BY_NAME,
    COLUMNS,
    START_DATE,
    START_DATETIME,
    START_TIME,
    STEP_KEYWORDS,
    Kind,
    Level,
)
from vetmwl.encoder import AnswerEncoder
from vetmwl.errors import QueryError
from vetmwl.query import parse_query

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"
SPS = "ScheduledProcedureStepSequence"


def table(heading: str) -> list[dict[str, str]]:
    """The first Markdown table after ``heading``, as one dict per row keyed by the header cells."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(heading)
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    header, _, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


def tag_of(cell: str) -> int:
    group, element = re.fullmatch(r"\(([0-9A-F]{4}),([0-9A-F]{4})\)", cell).groups()
    return int(group + element, 16)


def check_attribute(row: dict[str, str]) -> tuple[str, int]:
    """The keyword without its '>' marks, and its depth; the tag and VR must be the dictionary's."""
    keyword = row["Keyword"].lstrip(">")
    depth = len(row["Keyword"]) - len(keyword)
    assert keyword_for_tag(tag_of(row["Tag"])) == keyword, row
    assert dictionary_VR(keyword) == row["VR"], row
    return keyword, depth


# -- matching keys ------------------------------------------------------------------------------

MATCHING = table("### Matching keys")
SAMPLES = {
    "single value": {"DA": "20200101", "TM": "1000", "UI": "1.2.3", "PN": "Smith^Rex"},
    "wildcard": {"PN": "Sm*", "DA": "2020*", "TM": "10*", "UI": "1.2.*"},
    "range": {"DA": "20200101-20201231", "TM": "0800-1200"},
    "list of UID": {"UI": "1.2.3\\1.2.4"},
}
KINDS = {
    "single value": {"equals", "in_list", "range", "time_of_day"},
    "wildcard": {"like"},
    "range": {"range", "time_of_day"},
    "list of UID": {"in_list"},
}


def parsed(keyword: str, step: bool, value: str) -> tuple:
    ds = Dataset()
    target = Dataset() if step else ds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's validation does not know query wildcards
        setattr(target, keyword, value)
    if step:
        ds.ScheduledProcedureStepSequence = [target]
    return parse_query(ds).filters


def matchable() -> set[str]:
    """Every key the code turns into a filter: text and date columns at the root or in the step."""
    names = {c.name for c in COLUMNS if c.level is not Level.ITEM and c.kind in (Kind.TEXT, Kind.DATE)}
    return names - {START_DATETIME} | {START_DATE, START_TIME}


@pytest.mark.parametrize("row", MATCHING, ids=[r["Keyword"] for r in MATCHING])
def test_documented_matching_key(row: dict[str, str]) -> None:
    keyword, depth = check_attribute(row)
    if row["Matching"] == "sequence":
        assert keyword == SPS
        return
    column = row["Column"].strip("`")
    assert column in COLUMN_BY_NAME
    kinds = [k.strip() for k in row["Matching"].split(",")]
    assert set(kinds) <= set(KINDS), row
    for kind in KINDS:
        fallback = {"single value": "AB1", "wildcard": "AB*"}.get(kind)
        value = SAMPLES[kind].get(row["VR"], fallback)
        if value is None:
            assert kind not in kinds, f"{keyword}: no {kind} matching for VR {row['VR']}"
            continue
        try:
            filters = parsed(keyword, depth == 1, value)
        except QueryError:
            filters = ()
        found = {f.kind for f in filters if f.column == column}
        if kind in kinds:
            assert found and found <= KINDS[kind], (keyword, kind, filters)
        elif kind == "wildcard":
            assert "like" not in found, f"{keyword} does wildcard matching, which the document does not say"


def test_every_matched_key_is_documented() -> None:
    documented = {r["Keyword"].lstrip(">") for r in MATCHING} - {SPS}
    assert documented == matchable()


# -- return keys --------------------------------------------------------------------------------

RETURN = table("### Return keys")
FULL_ROW: dict[str, Any] = {
    c.name: {Kind.DATE: date(2018, 3, 4), Kind.DECIMAL: Decimal("32.5")}.get(c.kind, "X1") for c in COLUMNS
}
FULL_ROW |= {
    START_DATETIME: datetime(2026, 1, 5, 9, 30),
    "StudyInstanceUID": "1.2.3",
    "PatientSpeciesCodeValue": "448771007",
    "PatientSpeciesCodingSchemeDesignator": "SCT",
    "PatientSpeciesCodeMeaning": "Canis lupus familiaris",
    "PatientBreedCodeValue": "62137007",
    "PatientBreedCodingSchemeDesignator": "SCT",
    "PatientBreedCodeMeaning": "Labrador retriever",
    "BreedRegistryCodeValue": "109200",
    "BreedRegistryCodingSchemeDesignator": "DCM",
    "BreedRegistryCodeMeaning": "America Kennel Club",
}


def documented_tree() -> dict[str, list[str]]:
    """Each documented key's parent ('' for the root) -> its documented children."""
    tree: dict[str, list[str]] = {"": []}
    parents = [""]
    for row in RETURN:
        keyword, depth = check_attribute(row)
        parents = parents[: depth + 1]
        tree.setdefault(parents[-1], []).append(keyword)
        parents.append(keyword)
    return tree


def full_query(tree: dict[str, list[str]]) -> Dataset:
    ds = Dataset()
    for keyword in tree[""]:
        if dictionary_VR(keyword) == "SQ" and keyword != SPS:
            ds.add_new(keyword, "SQ", [])
        elif keyword != SPS:
            setattr(ds, keyword, None)
    step = Dataset()
    for keyword in tree[SPS]:
        setattr(step, keyword, None)
    ds.ScheduledProcedureStepSequence = [step]
    return ds


def test_every_documented_return_key_gets_a_value_with_its_vr() -> None:
    tree = documented_tree()
    query = parse_query(full_query(tree))
    reference = build_answer(query, FULL_ROW)
    encoder = AnswerEncoder(query, tuple(FULL_ROW))
    fast = pydicom.dcmread(BytesIO(encoder.encode(tuple(FULL_ROW[c] for c in encoder.columns))), force=True)
    assert encode(reference) == encoder.encode(tuple(FULL_ROW[c] for c in encoder.columns))

    def check(dataset: Dataset, parent: str) -> None:
        for keyword in tree.get(parent, []):
            assert keyword in dataset, f"{keyword} (in {parent or 'the root'}) is documented but not answered"
            element = dataset[keyword]
            assert dictionary_VR(keyword) == element.VR
            if element.VR == "SQ":
                assert len(element.value) == 1, f"{keyword} has no item for a full row"
                check(element.value[0], keyword)
            else:
                assert not element.is_empty, f"{keyword} is documented with a source but answered empty"

    check(fast, "")


def test_every_answered_key_is_documented() -> None:
    tree = documented_tree()
    assert set(tree[""]) == ANSWERED_ROOT_KEYWORDS | {"SpecificCharacterSet", SPS}
    assert set(tree[SPS]) == STEP_KEYWORDS


def test_source_columns_are_contract_columns() -> None:
    for row in RETURN:
        for name in re.findall(r"`([A-Z][a-z][A-Za-z]+)`", row["Source"]):
            assert name in COLUMN_BY_NAME, f"{row['Keyword']}: {name} is not a contract column"


# -- veterinary codes, character sets, options --------------------------------------------------


@pytest.mark.parametrize(("heading", "table_codes"), [("species", codes.SPECIES), ("breeds", codes.BREEDS)])
def test_code_tables(heading: str, table_codes: dict[str, codes.Code]) -> None:
    text = DOC.read_text(encoding="utf-8")
    marker = "Species codes (CID 7454" if heading == "species" else "Breed codes (CID 7480"
    paragraph = next(line for line in text.splitlines() if line.startswith(marker))
    rows = table(paragraph)
    mixed = {c.value for c in codes.MIXED_BREEDS.values()}
    for row in rows:
        code = codes.Code(row["Code"], "SCT", row["Code meaning"])
        names = row["Names recognised"].split(";")[0]
        for name in names.split(","):
            found = table_codes.get(" ".join(name.split()).casefold())
            assert found == code or (code.value in mixed and codes.breed_of({"PatientBreedDescription": name}) == code)
    documented = {r["Code"] for r in rows}
    expected = {c.value for c in table_codes.values()} | (mixed if heading == "breeds" else set())
    assert documented == expected


def test_mixed_breed_rows_follow_the_species() -> None:
    for species, code in codes.MIXED_BREEDS.items():
        row = {"PatientBreedDescription": "Mixed breed", "PatientSpeciesCodeValue": species}
        row |= {"PatientSpeciesCodingSchemeDesignator": "SCT", "PatientSpeciesCodeMeaning": "x"}
        assert codes.breed_of(row) == code


def test_character_set_table() -> None:
    rows = table("### Character sets")
    assert {r["Term"] for r in rows} == set(python_encoding) - {""}
    assert all(r["Queries"] == "decoded" for r in rows)
    assert {r["Term"] for r in rows if r["Answers"]} == set(CODECS)


def test_per_ae_option_table() -> None:
    rows = {r["Key"].strip("`"): r for r in table("### Per-AE options")}
    assert set(rows) == set(_AE_KEYS)
    defaults = AeOptions()
    assert rows["CharacterSet"]["Default"] == f"`{defaults.character_set}`"
    assert rows["RestrictToOwnStation"]["Default"] == "`false`" and defaults.restrict_to_own_station is False
    assert [s.strip(" `") for s in rows["Statuses"]["Default"].split(",")] == list(DEFAULT_STATUSES)
    assert rows["ModalityAliases"]["Default"] == "none" and defaults.modality_aliases == ()
