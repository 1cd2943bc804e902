"""PS3.4 C.2.2.2.6 Sequence Matching: some item of the stored sequence matches all the item's keys.

"If a Key Attribute in the Identifier of a C-FIND request needs to be matched against an Attribute
structured as a Sequence of Items, the Key Attribute shall be structured as a Sequence of Items
with a single Item. ... if at least one Item of the Attribute structured as a Sequence of Items
matches all the non-empty keys of the single Item of the request, the Sequence of Items shall be
considered as matching." A zero-length sequence, or one empty item, is universal. Decided in
Python only (the items live in DICOM JSON or come from the veterinary code columns).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from pydicom.dataset import Dataset

from ..errors import QueryError
from ..model import Level
from ..values import Row, Values, element_items
from .base import Kind, Value


@dataclass(frozen=True)
class ItemMatch(Kind):
    """Sequence Matching: some item of the stored sequence matches all ``filters``."""

    keyword: str
    filters: tuple[Kind, ...]
    level: Level = Level.ROOT
    macro: ClassVar[str] = ""

    def test(self, value: str | datetime | list[Dataset]) -> bool:
        if not isinstance(value, list):
            return False
        return any(all(inner.matches(inner.value_in(item)) for inner in self.filters) for item in value)

    def reader(self, values: Values) -> Callable[[Row], Value] | None:
        return values.items(self.keyword, self.level)

    def value_in(self, item: Dataset) -> Value:
        return element_items(item, self.keyword)

    def shown(self) -> tuple[str, str]:
        inner = ", ".join(f"{k}={v}" for k, v in (f.shown() for f in self.filters))
        return self.keyword, f"[{inner}]"


def parse(
    keyword: str, items: Sequence[Dataset], level: Level, filters_of: Callable[[Dataset, Level], list]
) -> ItemMatch | None:
    """A sequence key: one item, whose non-empty keys (read by ``filters_of``) must all match."""
    if len(items) > 1:
        raise QueryError(f"{keyword} holds {len(items)} items; a key sequence holds one (PS3.4 C.2.2.2.6)")
    inner = filters_of(items[0], level) if items else []
    return ItemMatch(keyword, tuple(inner), level) if inner else None
