"""PS3.4 C.2.2.2.4 Wild Card Matching: the linear-time matcher, the dialects' patterns, Orthanc's bytes."""

from __future__ import annotations

import random
import re

import pytest

from vetmwl.dialects import DIALECTS
from vetmwl.kinds import Like
from vetmwl.kinds.wildcard import (
    Pattern,
    glob_pattern,
    like_pattern,
    orthanc_wildcard_matches,
    wildcard_matches,
)
from vetmwl.model import Level


def backtracking(pattern: str, text: str) -> bool:
    """The textbook reading of the standard's sentence, as a regex: right, and exponential."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("a*b", "ab", True),
        ("a*b", "axxb", True),
        ("a*b", "axxbc", False),
        ("a?b", "acb", True),
        ("a?b", "ab", False),
        ("*", "", True),
        ("?", "", False),
        ("ab*ab", "ab", False),  # the first and last pieces may not overlap
        ("ab*ab", "abab", True),
        ("*ab*ab*", "xxabyab", True),
        ("a?*?b", "a12b", True),
        ("a?*?b", "a1b", False),
        ("**a**", "bab", True),  # a run of * is one
        ("Pach?n*", "Pachón Navarro", True),  # one character, not one byte
        ("a\\b*", "a\\bc", True),  # no character but * and ? is special
        ("[ab]*", "[ab]x", True),
    ],
)
def test_wildcards_match_as_the_standard_says(pattern: str, text: str, expected: bool) -> None:
    assert wildcard_matches(pattern, text) is expected
    assert backtracking(pattern, text) is expected


def test_the_matcher_agrees_with_the_regex_on_random_patterns() -> None:
    """Short patterns and values over a small alphabet, where the backtracking regex is still quick."""
    rng = random.Random(20261207)
    for _ in range(20_000):
        pattern = "".join(rng.choice("ab*?") for _ in range(rng.randint(0, 7)))
        text = "".join(rng.choice("ab") for _ in range(rng.randint(0, 9)))
        assert wildcard_matches(pattern, text) is backtracking(pattern, text), (pattern, text)
        raw_pattern, raw_text = pattern.encode(), text.encode()
        assert Pattern(raw_pattern).matches(raw_text) is backtracking(pattern, text), (pattern, text)


def test_hostile_patterns_cannot_hold_the_worklist() -> None:
    """Thirty ``*`` against a long value that almost matches: a backtracking regex would run for
    longer than the universe; this returns after one pass per piece (the test would not end)."""
    value = "a" * 10_000
    assert not wildcard_matches("*a" * 30 + "*Z", value)
    assert not wildcard_matches("*a?" * 30 + "*Z", value)
    assert wildcard_matches("*a" * 30 + "*", value)
    assert not orthanc_wildcard_matches("*a" * 30 + "*Z", value)


def test_orthanc_wildcards_stand_for_bytes() -> None:
    """Orthanc's re-check reads ``?`` as one byte of UTF-8; a step it would refuse is not answered."""
    pattern = Like("ScheduledProcedureStepDescription", "Pach?n*", level=Level.STEP)
    check = pattern.orthanc_check()
    assert check is not None
    assert pattern.matches("Pachón Navarro")  # DICOM: one character
    assert not check("Pachón Navarro")  # Orthanc: one byte, and ó is two
    assert check("Pachon Navarro")
    assert Like("PatientName", "Pach?n*").orthanc_check() is None  # Orthanc re-checks the step item only
    assert orthanc_wildcard_matches("vet*", "Vet^Anna", fold_case=True)


def test_orthanc_wildcards_fold_case_as_the_databases_do() -> None:
    assert orthanc_wildcard_matches("straß*", "STRAßE^Anna", fold_case=True)
    assert not orthanc_wildcard_matches("STRASS*", "Straße^Anna", fold_case=True)


@pytest.mark.parametrize(
    ("f", "value", "expected"),
    [
        (Like("Allergies", "Lat*"), "Penicillin\\Latex", True),  # any of several values (K.2.2.3)
        (Like("PatientName", "straße*", fold_case=True), "STRAßE^Rex", True),
        (Like("PatientName", "STRASSE*", fold_case=True), "Straße^Rex", False),  # as the databases' UPPER()
        (Like("PatientName", "Straße*", fold_case=True), "Strasse^Rex", False),
        (Like("PatientID", "ab*"), "AB1", False),  # only PN ignores case
        (Like("PatientID", "ab*"), None, False),
        (Like("ScheduledProcedureStepStatus", "SCHED*", or_unknown=True), "", True),
    ],
)
def test_like_matches_the_answers_value(f: Like, value: str | None, expected: bool) -> None:
    assert f.matches(value) is expected


@pytest.mark.parametrize(
    ("pattern", "dialect", "expected"),
    [
        ("SM?TH", "postgresql", "SM_TH"),
        ("a_b?", "postgresql", "a\\_b_"),
        ("[AB]*", "mssql", "\\[AB]%"),
        ("[AB]*", "postgresql", "[AB]%"),
        ("50%_[x]\\?*", "mssql", "50\\%\\_\\[x]\\\\_%"),
    ],
)
def test_like_patterns_escape_each_dialects_specials(pattern: str, dialect: str, expected: str) -> None:
    assert like_pattern(pattern, DIALECTS[dialect]) == expected


def test_binding_follows_the_dialects_facts() -> None:
    f = Like("PatientID", "1_0%*[x]?")
    assert f.bind(DIALECTS["sqlite"]) == [glob_pattern("1_0%*[x]?")] == ["1_0%*[[]x]?"]
    assert f.bind(DIALECTS["postgresql"]) == ["1\\_0\\%%[x]_"]
    assert f.bind(DIALECTS["mariadb"]) == ["1\\_0\\%%[x]_"] * 2  # case-insensitive collation: twice
    name = Like("PatientName", "straße*", fold_case=True)
    assert name.bind(DIALECTS["postgresql"]) == ["STRAßE%"]
    assert name.bind(DIALECTS["sqlite"]) == ["stra_e%"]  # SQLite folds ASCII only: Python confirms
    assert name.confirm_in_python(DIALECTS["sqlite"]) and not name.confirm_in_python(DIALECTS["postgresql"])
