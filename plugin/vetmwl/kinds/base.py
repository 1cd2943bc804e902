"""What every matching kind shares: the value a row gives a filter, and the methods each kind fills.

Each kind of PS3.4 C.2.2.2 matching is one module of this package, holding its filter type, how a
key is read into it, its bind values and SQL macro, whether SQL can decide it for a column, its
Python check and Orthanc's reading of it. The service and the renderer call these methods and never
ask which kind a filter is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from pydicom.dataset import Dataset

from ..dialects import Dialect
from ..model import START_DATETIME, TEXT_VRS, Level, multi_valued, vr_of
from ..values import Row, Values, ViewColumn, element_text

#: A row's value of one attribute: DICOM text, the start date-time, or a sequence's items.
Value = str | datetime | list[Dataset] | None


def person_name_upper(text: str) -> str:
    """``text`` upper-cased one character at a time: the one case folding of PN matching.

    Databases upper-case each character to one character (PostgreSQL's UPPER() keeps ``ß``, whose
    capital is ``SS``), so the value bound for them and Python's own matching must too: bound as
    ``STRASSE``, ``Straße`` would never find the stored ``Straße``.
    """
    upper = text.upper()
    if len(upper) == len(text):  # no capital longer than its letter: the usual case, at C speed
        return upper
    return "".join(u if len(u := c.upper()) == 1 else c for c in text)


def unknown(value: Value) -> bool:
    """Whether a row's value is unknown: NULL, empty, only spaces, or a sequence without items."""
    return value is None or (isinstance(value, str) and value.strip(" ") == "") or value == []


def stored_values(keyword: str, text: str) -> list[str]:
    """The values of a stored attribute: several for a multi-valued one (K.2.2.3: any may match)."""
    text = text.strip(" ")
    return text.split("\\") if multi_valued(keyword) else [text]


class Kind:
    """The methods of every filter; each kind's dataclass overrides what it does differently.

    Each filter has ``keyword`` and ``level`` fields; ``macro`` names its macro in macros.sql.j2.
    """

    keyword: str
    level: Level
    macro: ClassVar[str] = ""
    #: Fields that shape the SQL text itself (the rest are values, bound as parameters).
    shaping: ClassVar[tuple[str, ...]] = ("keyword", "level")

    def bind(self, dialect: Dialect) -> list[object]:
        """The values bound to the macro's ``?`` markers, in order, as ``dialect`` compares them."""
        return []

    def decidable(self, column: ViewColumn, kind: str) -> bool:
        """Whether SQL decides this filter on a plain column of one value of Python type ``kind``
        (the service has checked the column, its level and that it holds one value)."""
        return False

    def on_start(self) -> bool:
        """Whether SQL decides this filter on the start date-time column."""
        return False

    def confirm_in_python(self, dialect: Dialect) -> bool:
        """Whether Python must confirm what the dialect's SQL selects (SQL only narrows)."""
        return False

    @property
    def or_unknown_matches(self) -> bool:
        """Whether a row with no value matches (SPS Status, a derived Study Instance UID)."""
        return bool(getattr(self, "or_unknown", False))

    def test(self, value: str | datetime | list[Dataset]) -> bool:
        """PS3.4's matching of a known value (never None or empty)."""
        raise NotImplementedError

    def matches(self, value: Value) -> bool:
        """Whether a row whose value is ``value`` matches. An unknown value matches nothing, except
        where the filter says so (``or_unknown``)."""
        if unknown(value):
            return self.or_unknown_matches
        return self.test(value)  # type: ignore[arg-type]

    def orthanc_check(self) -> Callable[[Value], bool] | None:
        """Orthanc's own reading of a step key, where it differs from DICOM's (Orthanc re-checks the
        step item of every answer and empties it when it disagrees); None where it does not."""
        return None

    def reader(self, values: Values) -> Callable[[Row], Value] | None:
        """How a row's value of this filter's attribute is read (None: the view has it nowhere)."""
        if self.keyword == START_DATETIME:
            return values.start()
        return values.text(self.keyword, self.level)

    def value_in(self, item: Dataset) -> Value:
        """This filter's attribute's value in a sequence item (see :mod:`.sequence`)."""
        return element_text(item, self.keyword)

    def compared_as_text(self) -> str:
        """The query's text that Orthanc compares this step key's answer with, where Orthanc
        compares as text what DICOM compares by value (TM, DT); '' for the other kinds."""
        return ""

    def shown(self) -> tuple[str, str]:
        """The key and its value as the C-FIND's log line shows them."""
        raise NotImplementedError

    def selects(self, text: str) -> bool:
        """Whether the filter lets a known single value through, before any row is read (the
        statuses an SPS Status key selects); kinds that cannot say select nothing."""
        return False


class TextKind(Kind):
    """What single value and wild card matching of text share: SQL decides them on a text column
    (not a UID, which takes neither), and PN without case, which some dialects only narrow."""

    fold_case: bool

    @property
    def text(self) -> str:
        """The key's value (a value, or a pattern)."""
        raise NotImplementedError

    def decidable(self, column: ViewColumn, kind: str) -> bool:
        vr = vr_of(self.keyword)
        return vr in TEXT_VRS and vr != "UI" and kind == "str"

    def confirm_in_python(self, dialect: Dialect) -> bool:
        """A non-ASCII name where the dialect folds ASCII letters only (SQLite)."""
        return self.fold_case and not dialect.folds_every_script and not self.text.isascii()

    def shown(self) -> tuple[str, str]:
        return self.keyword, self.text
