"""PS3.4 C.2.2.2.4 Wild Card Matching: ``*`` any sequence of characters, ``?`` any one character.

"If the Attribute is not a date, time, signed long, ... and the value specified in the request
contains any occurrence of an "*" or a "?", then "*" shall match any sequence of characters
(including a zero length value) and "?" shall match any single character." PN is matched without
case (by :func:`~.base.person_name_upper`, as the databases fold it).

The matcher never backtracks: a pattern is split at its ``*`` (a run of them is one), the first
and last pieces are anchored, and each piece between is placed leftmost (``str.find``, or a
regular expression without any quantifier for a piece with ``?``). A value of length n is matched
in O(n * pattern length) whatever the pattern, so a hostile ``*a*a*a*a*b`` cannot hold the
worklist. The same matcher works on bytes: Orthanc's re-check reads ``?`` as one byte of UTF-8.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import AnyStr, ClassVar, Generic

from pydicom.dataset import Dataset

from ..dialects import Dialect
from ..model import Level
from .base import TextKind, Value, person_name_upper, stored_values


class _Piece(Generic[AnyStr]):
    """One piece of a pattern between two ``*``: literal characters and ``?``."""

    __slots__ = ("length", "regex", "text")

    def __init__(self, text: AnyStr, one: AnyStr) -> None:
        self.text = text
        self.length = len(text)
        self.regex: re.Pattern[AnyStr] | None = None
        if one in text:
            if isinstance(text, str):
                source = "".join("." if c == "?" else re.escape(c) for c in text)
            else:
                source = b"".join(b"." if c == 0x3F else re.escape(bytes((c,))) for c in text)
            self.regex = re.compile(source, re.DOTALL)  # type: ignore[arg-type]

    def at(self, value: AnyStr, position: int) -> bool:
        """Whether the piece is found at exactly ``position``."""
        if self.regex is None:
            return value.startswith(self.text, position)
        return self.regex.match(value, position) is not None

    def find(self, value: AnyStr, start: int, end: int) -> int:
        """The leftmost position of the piece within ``value[start:end]``, or -1."""
        if self.regex is None:
            return value.find(self.text, start, end)
        found = self.regex.search(value, start, end)
        return found.start() if found else -1


class Pattern(Generic[AnyStr]):
    """A DICOM wildcard pattern (text or bytes) compiled for linear-time matching."""

    __slots__ = ("exact", "first", "last", "middle")

    def __init__(self, pattern: AnyStr) -> None:
        star, one = ("*", "?") if isinstance(pattern, str) else (b"*", b"?")
        pieces = pattern.split(star)  # type: ignore[arg-type]
        self.exact = len(pieces) == 1
        self.first = _Piece(pieces[0], one)
        self.last = _Piece(pieces[-1], one)
        self.middle = [_Piece(p, one) for p in pieces[1:-1] if p]  # a run of * leaves empty pieces

    def matches(self, value: AnyStr) -> bool:
        """Whether the whole of ``value`` matches."""
        n = len(value)
        first, last = self.first, self.last
        if self.exact:
            return n == first.length and first.at(value, 0)
        end = n - last.length
        if first.length > end or not first.at(value, 0) or not last.at(value, end):
            return False
        position = first.length
        for piece in self.middle:
            found = piece.find(value, position, end)
            if found < 0:
                return False
            position = found + piece.length
        return True


@lru_cache(maxsize=1024)
def compiled(pattern: str | bytes) -> Pattern:
    """A pattern compiled once: Python matches it against row after row."""
    return Pattern(pattern)


def wildcard_matches(pattern: str, text: str, fold_case: bool = False) -> bool:
    """Wild Card Matching of one value; ``fold_case`` (PN): both sides upper-cased."""
    if fold_case:
        return compiled(person_name_upper(pattern)).matches(person_name_upper(text))
    return compiled(pattern).matches(text)


def orthanc_wildcard_matches(pattern: str, text: str, fold_case: bool = False) -> bool:
    """Orthanc's wildcard matching, where ``?`` is one byte of UTF-8, not one character."""
    if fold_case:
        pattern, text = person_name_upper(pattern), person_name_upper(text)
    return compiled(pattern.encode("utf-8")).matches(text.encode("utf-8"))


# -- the dialects' patterns ------------------------------------------------------------------------
def like_pattern(dicom_pattern: str, dialect: Dialect) -> str:
    """DICOM ``*``/``?`` as SQL LIKE with ``\\`` as escape, the dialect's special characters escaped."""
    specials = dialect.like_specials
    out = []
    for char in dicom_pattern:
        if char in specials:
            out.append("\\" + char)
        elif char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        else:
            out.append(char)
    return "".join(out)


def like_pattern_literal(text: str) -> str:
    """``text`` as a LIKE pattern that matches only itself."""
    return "".join("\\" + c if c in "\\%_" else c for c in text)


def glob_pattern(dicom_pattern: str) -> str:
    """DICOM ``*``/``?`` as SQLite GLOB, whose own ``*`` and ``?`` mean the same; ``[`` is its only
    other special character and becomes the one-character class ``[[]``."""
    return dicom_pattern.replace("[", "[[]")


def ascii_folding_pattern(escaped: str) -> str:
    """A LIKE pattern for a dialect whose LIKE folds ASCII letters only (SQLite): each non-ASCII
    character becomes ``_`` (any one character), so no case-insensitive match is rejected; Python
    then confirms the rows (``confirm_in_python``). The value is not upper-cased: LIKE folds ASCII
    letters itself."""
    return "".join(c if c.isascii() else "_" for c in escaped)


# -- the filter --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Like(TextKind):
    """Wild Card Matching (PS3.4 C.2.2.2.4): ``*`` any characters, ``?`` one character."""

    keyword: str
    pattern: str
    fold_case: bool = False
    or_unknown: bool = False
    level: Level = Level.ROOT
    macro: ClassVar[str] = "like"

    def bind(self, dialect: Dialect) -> list[object]:
        if dialect.glob and not self.fold_case:
            return [glob_pattern(self.pattern)]
        if self.fold_case and not dialect.folds_every_script:
            return [ascii_folding_pattern(like_pattern(self.pattern, dialect))]
        value = like_pattern(person_name_upper(self.pattern) if self.fold_case else self.pattern, dialect)
        # Where collations ignore case, a case-sensitive key is compared a second time (macros.sql.j2).
        return [value, value] if dialect.case_insensitive and not self.fold_case else [value]

    @property
    def text(self) -> str:
        return self.pattern

    def test(self, value: str | datetime | list[Dataset]) -> bool:
        if not isinstance(value, str):
            return False
        return any(wildcard_matches(self.pattern, v, self.fold_case) for v in stored_values(self.keyword, value))

    def orthanc_check(self) -> Callable[[Value], bool] | None:
        """Orthanc reads ``?`` in a step key as one byte: a non-ASCII character needs more."""
        if self.level is not Level.STEP or "?" not in self.pattern:
            return None
        pattern, fold = self.pattern, self.fold_case
        return lambda value: (
            isinstance(value, str) and any(orthanc_wildcard_matches(pattern, v, fold) for v in value.split("\\"))
        )

    def selects(self, text: str) -> bool:
        return wildcard_matches(self.pattern, text, self.fold_case)


def parse(keyword: str, value: str, vr: str, level: Level, or_unknown: bool = False) -> Like | None:
    """A text key with ``*`` or ``?`` (universal keys are no filter, see :mod:`.universal`)."""
    if "*" in value or "?" in value:
        return Like(keyword, value, fold_case=vr == "PN", or_unknown=or_unknown, level=level)
    return None
