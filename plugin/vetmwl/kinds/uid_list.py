"""PS3.4 C.2.2.2.2 List of UID Matching: any UID of the list.

"A list of UIDs is encoded by using the value multiplicity operator, backslash ("\\"), as a
delimiter between UIDs. Each item in the list shall contain a single UID value. Each UID in the
list contained in the Identifier of the request may generate a match." A single UID is a list of
one. The plugin also uses it for lists of its own: the calling AE's offered statuses and a
modality's aliases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from pydicom.dataset import Dataset

from ..dialects import Dialect
from ..errors import QueryError
from ..model import STUDY_UID, TEXT_VRS, Level, vr_of
from ..studyuid import UID_ROOT
from .base import Kind, stored_values

#: UIDs one key may list: far above what a modality asks (one study, or a handful), far below what
#: a dialect binds (SQL Server: 2100 parameters in all), and a bound on the work one query makes.
MAX_UIDS = 100


@dataclass(frozen=True)
class InList(Kind):
    """List of UID Matching; the AE's offered statuses and modality aliases too."""

    keyword: str
    values: tuple[str, ...]
    or_unknown: bool = False
    level: Level = Level.ROOT
    macro: ClassVar[str] = "in_list"

    def bind(self, dialect: Dialect) -> list[object]:
        return list(self.values)

    def decidable(self, column: object, kind: str) -> bool:
        return vr_of(self.keyword) in TEXT_VRS and kind == "str"

    def confirm_in_python(self, dialect: Dialect) -> bool:
        """SQL selects the rows without a stored Study Instance UID as candidates for a derived one."""
        return self.keyword == STUDY_UID and self.or_unknown

    def test(self, value: str | datetime | list[Dataset]) -> bool:
        return isinstance(value, str) and any(v in self.values for v in stored_values(self.keyword, value))

    def shown(self) -> tuple[str, str]:
        return self.keyword, "\\".join(self.values)

    def selects(self, text: str) -> bool:
        return text in self.values


def parse(keyword: str, value: str, level: Level) -> InList | None:
    """UIDs take no wildcards; ``*`` alone is universal. A Study Instance UID the plugin may have
    derived (``2.25.``) also selects the rows without a stored UID, which Python then checks."""
    uids = tuple(dict.fromkeys(u.strip("\0 ") for u in value.split("\\") if u.strip("\0 ")))
    if not uids or uids == ("*",):
        return None
    if len(uids) > MAX_UIDS:
        raise QueryError(f"{keyword} lists {len(uids)} UIDs; at most {MAX_UIDS} are matched in one query")
    derived = keyword == STUDY_UID and any(u.startswith(UID_ROOT) for u in uids)
    return InList(keyword, uids, or_unknown=derived, level=level)
