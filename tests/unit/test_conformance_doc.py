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

from support.reference_answers import build_answer, encode
from support.views import python_type, reference_columns, view_of
from vetmwl import codes
from vetmwl.charset import CODECS
from vetmwl.config import _AE_KEYS, DEFAULT_STATUSES, AeOptions
from vetmwl.encoder import AnswerEncoder
from vetmwl.errors import QueryError
from vetmwl.kinds import ItemMatch
from vetmwl.model import (
    CATCH_ALL,
    CODE_SEQUENCES,
    REGISTRATION_SEQUENCE,
    START_DATE,
    START_DATETIME,
    START_TIME,
    Level,
    Source,
    level_of,
    vr_of,
)
from vetmwl.query import parse_query
from vetmwl.service import _sql_decides

VIEW = view_of(reference_columns())

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
    "single value": {"DA": "20200101", "TM": "1000", "UI": "1.2.3", "PN": "Smith^Rex", "DS": "12.5"},
    "wildcard": {"PN": "Sm*", "DA": "2020*", "TM": "10*", "UI": "1.2.*", "DS": None},
    "range": {"DA": "20200101-20201231", "TM": "0800-1200"},
    "list of UID": {"UI": "1.2.3\\1.2.4"},
}
KINDS = {
    "single value": {"equals", "in_list", "range", "time_of_day"},
    "wildcard": {"like"},
    "range": {"range", "time_of_day"},
    "list of UID": {"in_list"},
}


def code_query(keyword: str, step: bool) -> tuple:
    """A sequence key whose one item names a code value: sequence matching."""
    ds = Dataset()
    item = Dataset()
    item.CodeValue = "P1"
    target = Dataset() if step else ds
    setattr(target, keyword, [item])
    if step:
        ds.ScheduledProcedureStepSequence = [target]
    return parse_query(ds).filters


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
    """Every key of the reference table the code matches: its plain and sequence columns, and the
    start date and time."""
    names = {k for k, c in VIEW.items() if c.source in (Source.VALUE, Source.JSON_SEQUENCE)}
    return names | {START_DATE, START_TIME}


@pytest.mark.parametrize("row", MATCHING, ids=[r["Keyword"] for r in MATCHING])
def test_documented_matching_key(row: dict[str, str]) -> None:
    keyword, depth = check_attribute(row)
    if keyword == SPS:
        assert row["Matching"] == "sequence"
        return
    column = row["Column"].strip("`")
    assert column in VIEW
    if row["Matching"] == "sequence":
        (found,) = code_query(keyword, depth == 1)
        assert isinstance(found, ItemMatch) and found.keyword == keyword
        assert row["Decided by"] == "Python"
        return
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
        mine = [f for f in filters if f.keyword == column]
        found = {f.macro for f in mine}
        if kind in kinds:
            assert found and found <= KINDS[kind], (keyword, kind, filters)
            decided = "SQL" if all(_sql_decides(f, VIEW) for f in mine) else "Python"
            assert row["Decided by"].split(" ")[0] == decided, (keyword, kind)
        elif kind == "wildcard":
            assert "like" not in found, f"{keyword} does wildcard matching, which the document does not say"


def test_every_matched_key_is_documented() -> None:
    documented = {r["Keyword"].lstrip(">") for r in MATCHING} - {SPS}
    assert documented == matchable()


# -- return keys --------------------------------------------------------------------------------

RETURN = table("### Return keys")
CODE_JSON = (
    '[{"00080100": {"vr": "SH", "Value": ["P1"]}, "00080102": {"vr": "SH", "Value": ["99VET"]},'
    ' "00080104": {"vr": "LO", "Value": ["Thorax"]}}]'
)
FULL_ROW: dict[str, Any] = {
    name: {date: date(2018, 3, 4), Decimal: Decimal("32.5")}.get(python_type(name), "X1") for name in VIEW
}
FULL_ROW |= {k: CODE_JSON for k, c in VIEW.items() if c.source is Source.JSON_SEQUENCE}
FULL_ROW |= {
    CATCH_ALL: "{}",
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
    reference = build_answer(query, VIEW, FULL_ROW)
    encoder = AnswerEncoder(query, VIEW)
    fast = pydicom.dcmread(BytesIO(encoder.encode(tuple(FULL_ROW[c] for c in encoder.columns))), force=True)
    assert encode(reference) == encoder.encode(tuple(FULL_ROW[c] for c in encoder.columns))

    def check(dataset: Dataset, parent: str) -> None:
        for keyword in tree.get(parent, []):
            assert keyword in dataset, f"{keyword} (in {parent or 'the root'}) is documented but not answered"
            element = dataset[keyword]
            assert dictionary_VR(keyword) == element.VR
            if element.VR == "SQ":
                assert len(element.value) >= 1, f"{keyword} has no item for a full row"
                check(element.value[0], keyword)
            else:
                assert not element.is_empty, f"{keyword} is documented with a source but answered empty"

    check(fast, "")


def test_every_column_of_the_reference_table_is_documented() -> None:
    tree = documented_tree()
    answered = {k for k, c in VIEW.items() if c.source in (Source.VALUE, Source.JSON_SEQUENCE)}
    roots = {k for k in answered if level_of(k) is Level.ROOT} | set(CODE_SEQUENCES) | {REGISTRATION_SEQUENCE}
    assert set(tree[""]) == roots | {"SpecificCharacterSet", SPS}
    steps = {k for k in answered if level_of(k) is Level.STEP} - {START_DATETIME}
    assert set(tree[SPS]) == steps | {START_DATE, START_TIME}


def test_source_columns_are_columns_of_the_reference_table() -> None:
    for row in RETURN:
        for name in re.findall(r"`([A-Z][a-z][A-Za-z]+)`", row["Source"]):
            assert name in VIEW or name == CATCH_ALL, f"{row['Keyword']}: {name} is not a column the plugin reads"
            assert name in VIEW or vr_of(name)


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
