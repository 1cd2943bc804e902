"""Views for tests that need no database: the reference table's columns, as the plugin discovers them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from support.runtimes import REPO
from vetmwl.model import NUMBER_VRS, START_DATETIME, vr_of
from vetmwl.values import ViewColumn
from vetmwl.viewcolumns import discover

_COLUMN = re.compile(r"^\s{4}(\w+)\s")


def reference_columns() -> tuple[str, ...]:
    """The reference table's columns, in order (read from sql/schema/sqlite.sql)."""
    text = (REPO / "sql" / "schema" / "sqlite.sql").read_text(encoding="utf-8")
    start = text.index("CREATE TABLE")
    table = text[start : text.index(");", start)]
    return tuple(m[1] for line in table.splitlines() if (m := _COLUMN.match(line)))


def python_type(name: str) -> type:
    """The type an ODBC driver gives the column in the reference schema."""
    if name == START_DATETIME:
        return datetime
    try:
        vr = vr_of(name)
    except (KeyError, ValueError):
        return str
    if vr == "DA":
        return date
    if vr in NUMBER_VRS:
        return Decimal
    return str


def view_of(names: Iterable[str]) -> dict[str, ViewColumn]:
    """The view the plugin would discover for a table with these columns."""
    names = tuple(names)
    view, _ = discover(names, tuple(python_type(n) for n in names))
    return view
