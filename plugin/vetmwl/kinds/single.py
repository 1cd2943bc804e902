"""PS3.4 C.2.2.2.1 Single Value Matching: the value itself.

"If the value specified for a Key Attribute in a request is non-zero length and if it is: a) not a
date or time or datetime, and contains no wild card characters, then single value matching is
performed. Except for Attributes with a PN Value Representation, only entities with values that
match exactly the value specified in the request shall match. ... For Attributes with a PN Value
Representation (e.g., Patient Name (0010,0010)), an application may perform literal matching that
is either case-sensitive, or that is insensitive to some or all aspects of case..." Numbers are
compared by value (``1.0`` is ``1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import ClassVar

from pydicom.dataset import Dataset

from ..dialects import Dialect
from ..model import NUMBER_VRS, Level, vr_of
from .base import TextKind, person_name_upper, stored_values
from .wildcard import ascii_folding_pattern, like_pattern_literal


@dataclass(frozen=True)
class Equals(TextKind):
    """Single Value Matching. ``fold_case``: PN, compared without case. ``or_unknown``: a row whose
    value is NULL or empty matches too (SPS Status, see :mod:`vetmwl.policy`)."""

    keyword: str
    value: str
    fold_case: bool = False
    or_unknown: bool = False
    level: Level = Level.ROOT
    macro: ClassVar[str] = "equals"

    def bind(self, dialect: Dialect) -> list[object]:
        if self.fold_case and not dialect.folds_every_script:
            return [ascii_folding_pattern(like_pattern_literal(self.value))]  # LIKE there (macros.sql.j2)
        value = person_name_upper(self.value) if self.fold_case else self.value
        return [value, value] if dialect.case_insensitive and not self.fold_case else [value]

    @property
    def text(self) -> str:
        return self.value

    def test(self, value: str | datetime | list[Dataset]) -> bool:
        if not isinstance(value, str):
            return False
        return any(self._equal(v) for v in stored_values(self.keyword, value))

    def _equal(self, text: str) -> bool:
        if self.fold_case:
            return person_name_upper(text) == person_name_upper(self.value)
        if vr_of(self.keyword) in NUMBER_VRS:
            try:
                return Decimal(text) == Decimal(self.value)
            except InvalidOperation:
                return False
        return text == self.value

    def selects(self, text: str) -> bool:
        return self._equal(text)


def parse(keyword: str, value: str, vr: str, level: Level, or_unknown: bool = False) -> Equals:
    """A text or number key without wildcards (universal keys are no filter, see :mod:`.universal`)."""
    return Equals(keyword, value, fold_case=vr == "PN", or_unknown=or_unknown, level=level)
