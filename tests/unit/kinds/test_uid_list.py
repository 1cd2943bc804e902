"""PS3.4 C.2.2.2.2 List of UID Matching: any UID of the list; a derived UID is confirmed in Python."""

from __future__ import annotations

import pytest

from vetmwl.dialects import DIALECTS
from vetmwl.errors import QueryError
from vetmwl.kinds import InList
from vetmwl.kinds.uid_list import MAX_UIDS, parse
from vetmwl.model import Level


def test_any_uid_of_the_list_matches() -> None:
    f = InList("StudyInstanceUID", ("1.2", "1.3"))
    assert f.matches("1.3") and not f.matches("1.4") and not f.matches(None)
    assert f.bind(DIALECTS["mssql"]) == ["1.2", "1.3"]  # UIDs are case-free: bound once everywhere


def test_parsing_drops_padding_duplicates_and_the_universal_star() -> None:
    assert parse("StudyInstanceUID", "1.2\\1.2 \\1.3\0", Level.ROOT) == InList("StudyInstanceUID", ("1.2", "1.3"))
    assert parse("StudyInstanceUID", "*", Level.ROOT) is None


def test_a_uid_the_plugin_may_have_derived_selects_rows_without_one() -> None:
    f = parse("StudyInstanceUID", "2.25.123", Level.ROOT)
    assert f is not None and f.or_unknown and f.matches("")
    assert f.confirm_in_python(DIALECTS["postgresql"])  # SQL selects candidates; Python decides
    plain = parse("StudyInstanceUID", "1.2.3", Level.ROOT)
    assert plain is not None and not plain.or_unknown and not plain.confirm_in_python(DIALECTS["postgresql"])


def test_a_list_of_uids_is_bounded() -> None:
    many = "\\".join(f"1.2.{n}" for n in range(MAX_UIDS))
    assert len(parse("StudyInstanceUID", many, Level.ROOT).values) == MAX_UIDS  # type: ignore[union-attr]
    with pytest.raises(QueryError, match="lists 101 UIDs"):
        parse("StudyInstanceUID", many + "\\1.3", Level.ROOT)
