"""PS3.4 C.2.2.2.6 Sequence Matching: one item must match every key of the query's item."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from vetmwl.errors import QueryError
from vetmwl.kinds import Equals, ItemMatch, Like
from vetmwl.kinds.sequence import parse
from vetmwl.model import Level


def code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodeMeaning = meaning
    return item


def test_sequence_matching_needs_one_item_matching_every_key() -> None:
    """Keys split across two items do not match."""
    stored = [code("P1", "Thorax"), code("P2", "Abdomen")]
    one = ItemMatch("ScheduledProtocolCodeSequence", (Equals("CodeValue", "P2"),))
    both = ItemMatch("ScheduledProtocolCodeSequence", (Equals("CodeValue", "P2"), Like("CodeMeaning", "Abd*")))
    split = ItemMatch("ScheduledProtocolCodeSequence", (Equals("CodeValue", "P1"), Like("CodeMeaning", "Abd*")))
    assert one.matches(stored) and both.matches(stored)
    assert not split.matches(stored)
    assert not one.matches([]) and not one.matches(None)
    assert one.shown() == ("ScheduledProtocolCodeSequence", "[CodeValue=P2]")


def test_a_key_sequence_holds_one_item_and_an_empty_one_is_universal() -> None:
    def keys(item: Dataset, level: Level) -> list:
        return [Equals("CodeValue", item.CodeValue, level=level)] if "CodeValue" in item else []

    assert parse("ScheduledProtocolCodeSequence", [], Level.STEP, keys) is None
    assert parse("ScheduledProtocolCodeSequence", [Dataset()], Level.STEP, keys) is None
    found = parse("ScheduledProtocolCodeSequence", [code("P1", "")], Level.STEP, keys)
    inner = (Equals("CodeValue", "P1", level=Level.STEP),)
    assert found == ItemMatch("ScheduledProtocolCodeSequence", inner, Level.STEP)
    with pytest.raises(QueryError, match="holds 2 items"):
        parse("ScheduledProtocolCodeSequence", [code("P1", ""), code("P2", "")], Level.STEP, keys)
