"""The view's columns as the plugin reads them: which are DICOM attributes of the model, of a type it
can read, and what each column is for (a value, the start, a code, the catch-all).

A view names its columns after DICOM keywords, in any case (sql/README.md); what its driver says
each column holds decides whether SQL or Python can match it (see :meth:`vetmwl.kinds.base.Kind.decidable`).
"""

from __future__ import annotations

from functools import cache

from pydicom.datadict import DicomDictionary

from .model import CATCH_ALL, CODE_COLUMNS, NUMBER_VRS, START_DATETIME, Source, source_of, vr_of
from .values import ViewColumn


@cache
def _keywords_by_lower_name() -> dict[str, str]:
    """Every DICOM keyword and every special column, by its lower-case spelling."""
    found = {entry[4].lower(): entry[4] for entry in DicomDictionary.values() if entry[4]}
    for name in (START_DATETIME, CATCH_ALL, *CODE_COLUMNS):
        found[name.lower()] = name
    return found


#: Python types each kind of column may have (what the drivers return for the reference schemas).
_USABLE = {
    "DA": ("date", "datetime", "str"),
    "TM": ("time", "timedelta", "datetime", "str"),
    "DT": ("datetime", "str"),
    "number": ("int", "float", "Decimal", "str"),
    "text": ("str", "int", "Decimal"),
}


def _usable(column: ViewColumn) -> bool:
    kind = column.python_type.__name__ if column.python_type is not None else "str"
    if column.source is Source.START:
        return kind in ("datetime", "str")
    if column.source is not Source.VALUE:
        return kind == "str"
    vr = vr_of(column.keyword)
    allowed = _USABLE.get(vr) or _USABLE["number" if vr in NUMBER_VRS else "text"]
    return kind in allowed


def discover(names: tuple[str, ...], types: tuple[type | None, ...]) -> tuple[dict[str, ViewColumn], list[str]]:
    """The view's columns the plugin reads, by keyword, and a line for each it does not."""
    lookup = _keywords_by_lower_name()
    view: dict[str, ViewColumn] = {}
    notes: list[str] = []
    for n, name in enumerate(names):
        python_type = types[n] if n < len(types) else None
        keyword = lookup.get(name.lower())
        source = source_of(keyword) if keyword else None
        if keyword is None:
            notes.append(f"column {name!r} is not a DICOM keyword: ignored")
            continue
        if source is None:
            notes.append(f"column {name!r} is not an attribute of the Modality Worklist model: ignored")
            continue
        column = ViewColumn(name, keyword, source, python_type)
        if not _usable(column):
            kind = python_type.__name__ if python_type else "?"
            what = vr_of(keyword) if source is Source.VALUE else source.value
            notes.append(f"column {name!r} holds {kind}, which the plugin cannot read as {what}: ignored")
            continue
        view[keyword] = column
    return view, notes
