"""Render parameterized SQL from the Jinja2 templates in ``sql/queries``, and all dialect knowledge.

Templates only ever see the view's column names (each an attribute keyword of the model) and the
validated view name; every value travels as a bind parameter, turned here into what each dialect
compares (LIKE or GLOB patterns, dates as text on SQLite). The SQL of a filter is chosen by its
type (``macro``, one macro per kind of matching in ``macros.sql.j2``). The rendered text depends
only on the query's shape (which filters, which columns), so it is cached and the hot path renders
each shape once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import jinja2

from .errors import InternalError
from .model import START_DATETIME
from .query import Equals, Filter, Like


@dataclass(frozen=True)
class RenderedQuery:
    sql: str
    params: list[object]


#: The answers' order: start date-time, then SPS ID (columns every view has, see REQUIRED_COLUMNS).
ORDER = (START_DATETIME, "ScheduledProcedureStepID")
#: Dialects whose usual collations compare text without case (SQL Server, MariaDB): a case-sensitive
#: key (anything but a PN) gets a second, binary comparison there.
CASE_INSENSITIVE_DIALECTS = frozenset({"mssql", "mariadb"})


def like_pattern(dicom_pattern: str, dialect: str) -> str:
    """DICOM ``*``/``?`` to SQL LIKE with ``\\`` as escape; SQL Server also treats ``[`` as special."""
    specials = "\\%_[" if dialect == "mssql" else "\\%_"
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


def glob_pattern(dicom_pattern: str) -> str:
    """DICOM ``*``/``?`` as SQLite GLOB, whose own ``*`` and ``?`` mean the same; ``[`` is its only
    other special character and becomes the one-character class ``[[]``."""
    return dicom_pattern.replace("[", "[[]")


def sqlite_case_insensitive_pattern(f: Like | Equals) -> str:
    """A LIKE pattern for SQLite that never rejects a case-insensitive match.

    SQLite's LIKE ignores case for ASCII letters only, so each non-ASCII character becomes ``_``
    (any one character); :func:`approximate` then tells the service to confirm those rows in
    Python. The value is not upper-cased: SQLite's LIKE folds ASCII letters itself.
    """
    text = f.pattern if isinstance(f, Like) else f.value
    escaped = like_pattern(text, "sqlite") if isinstance(f, Like) else like_pattern_literal(text)
    return "".join(c if c.isascii() else "_" for c in escaped)


def approximate(f: Filter, dialect: str) -> bool:
    """Whether the dialect's SQL for ``f`` may select rows DICOM matching would not: a non-ASCII
    name on SQLite (see :func:`sqlite_case_insensitive_pattern`). Python confirms those rows."""
    if dialect != "sqlite" or not isinstance(f, Like | Equals) or not f.fold_case:
        return False
    return not (f.pattern if isinstance(f, Like) else f.value).isascii()


def like_pattern_literal(text: str) -> str:
    """``text`` as a LIKE pattern that matches only itself."""
    return "".join("\\" + c if c in "\\%_" else c for c in text)


def bind_value(value: object, dialect: str, bound: bool = True) -> object:
    """A date or date-time as the dialect stores and compares it.

    SQLite stores date-times as ISO text: ``YYYY-MM-DD HH:MM:SS``, with ``.ffffff`` only when there
    is a fraction, so that text order is time order (``10:00:00`` < ``10:00:00.500000``).
    MariaDB's ODBC driver drops the fraction of a bound date-time, and its reference schema keeps
    whole seconds, so a query ``bound`` with a fraction is rounded up there (``>= 10:00:00.5``
    selects what ``>= 10:00:01`` selects); a stored value (``bound=False``) is left to the driver.
    """
    if dialect == "mariadb" and bound and isinstance(value, datetime) and value.microsecond:
        return value.replace(microsecond=0) + timedelta(seconds=1)
    if dialect == "sqlite":
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S.%f" if value.microsecond else "%Y-%m-%d %H:%M:%S")
        if isinstance(value, date):
            return value.isoformat()
    return value


class SqlRenderer:
    """Renders the configured query template for one dialect and view."""

    def __init__(self, template_dir: Path, template: str, dialect: str, view: str) -> None:
        """``dialect``: mssql, postgresql, sqlite or mariadb; ``view``: a validated view or table name."""
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(template_dir)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )
        self._template = self._env.get_template(template)
        self.dialect = dialect
        self.view = view
        self._render_shape = lru_cache(maxsize=512)(self._render_uncached)

    def _render_uncached(
        self, columns: tuple[str, ...], shape: tuple[Filter, ...], limit: int, order: tuple[str, ...]
    ) -> str:
        return self._template.render(
            dialect=self.dialect, view=self.view, columns=columns, filters=shape, limit=limit, order=order
        ).strip()

    def render(
        self, columns: Sequence[str], filters: Sequence[Filter], limit: int, names: Mapping[str, str] | None = None
    ) -> RenderedQuery:
        """The SQL and its parameters: ``columns`` selected, ``filters`` ANDed, at most ``limit`` rows,
        in start order. ``names`` maps a keyword to the view's name of its column (filters and order)."""
        names = names or {}
        params: list[object] = []
        for f in filters:
            values = f.params()
            if self.dialect == "sqlite" and isinstance(f, Like | Equals) and f.fold_case:
                values = [sqlite_case_insensitive_pattern(f)]
            elif self.dialect == "sqlite" and isinstance(f, Like):
                values = [glob_pattern(f.pattern)]
            elif isinstance(f, Like):
                values = [like_pattern(str(v), self.dialect) for v in values]
            if self.dialect in CASE_INSENSITIVE_DIALECTS and isinstance(f, Like | Equals) and not f.fold_case:
                values = values * 2  # the index's comparison, then the case-sensitive one (macros.sql.j2)
            params.extend(bind_value(v, self.dialect) for v in values)
        shape = tuple(replace(_shape_of(f), keyword=names.get(f.keyword, f.keyword)) for f in filters)
        order = tuple(names.get(k, k) for k in ORDER)
        sql = self._render_shape(tuple(columns), shape, limit, order)
        markers = sql.count("?")
        if markers != len(params):
            # Templates hold no other "?" and names never do: a mismatch is a bug of the plugin,
            # caught here rather than sent to the database.
            raise InternalError(f"the query template wrote {markers} parameter markers for {len(params)} values")
        return RenderedQuery(sql=sql, params=params)

    def render_named(self, template: str, **context: object) -> str:
        """A helper template (column discovery, health probe, insert) for this dialect and view."""
        return self._env.get_template(template).render(dialect=self.dialect, view=self.view, **context).strip()


def _shape_of(f: Filter) -> Filter:
    """The filter with its values replaced by placeholders of the same presence, for caching."""
    changes = {}
    for fld in fields(f):
        if fld.name in ("keyword", "fold_case", "or_unknown", "level"):
            continue  # these shape the SQL text itself
        value = getattr(f, fld.name)
        if fld.name == "values":
            changes[fld.name] = ("",) * len(value)
        elif fld.name == "filters":
            changes[fld.name] = ()
        elif value is not None:
            changes[fld.name] = "" if isinstance(value, str) else True
    return replace(f, **changes)
