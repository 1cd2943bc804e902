"""Render parameterized SQL from the Jinja2 templates in ``sql/``: the one Jinja2 environment.

Templates only ever see the view's column names (each an attribute keyword of the model), the
validated view name and the dialect (its name as ``dialect``, its facts of :mod:`vetmwl.dialects`
as ``d``); every value travels as a bind parameter, turned by its filter into what the dialect
compares (:meth:`vetmwl.kinds.base.Kind.bind`). The SQL of a filter is its kind's macro in
``macros.sql.j2``. The rendered text depends only on the query's shape (which filters, which
columns), so it is cached and the hot path renders each shape once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path

import jinja2

from .dialects import DIALECTS
from .errors import InternalError
from .kinds import Filter
from .model import START_DATETIME


@dataclass(frozen=True)
class RenderedQuery:
    sql: str
    params: list[object]


#: The answers' order: start date-time, then SPS ID (columns every view has, see REQUIRED_COLUMNS).
ORDER = (START_DATETIME, "ScheduledProcedureStepID")


@lru_cache(maxsize=16)
def environment(template_dir: Path) -> jinja2.Environment:
    """The Jinja2 environment of one template folder (the worklist's, the state store's, the
    importer's): strict, so that a name a template misspells fails at once, and never escaping."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )


def dialect_context(dialect: str) -> dict[str, object]:
    """What every template knows of its dialect: its name (``dialect``) and its facts (``d``)."""
    return {"dialect": dialect, "d": DIALECTS[dialect]}


def render_template(template_dir: Path, name: str, dialect: str, **context: object) -> str:
    """A template of ``template_dir`` rendered for ``dialect``."""
    return environment(template_dir).get_template(name).render(**dialect_context(dialect), **context).strip()


class SqlRenderer:
    """Renders the configured query template for one dialect and view."""

    def __init__(self, template_dir: Path, template_name: str, dialect: str, view: str) -> None:
        """``dialect``: a name of :data:`vetmwl.dialects.DIALECTS`; ``view``: a validated view or table name."""
        self.template_dir = template_dir
        self._template = environment(template_dir).get_template(template_name)
        self.dialect = dialect
        self.facts = DIALECTS[dialect]
        self.view = view
        self._render_shape = lru_cache(maxsize=512)(self._render_uncached)
        # Compiled now, not at the first C-FIND: Jinja2 compiles an imported template (macros.sql.j2)
        # only when the importing one renders, and a site's broken copy must fail at start-up.
        self._render_shape(ORDER, (), 1, ORDER)

    def _render_uncached(
        self, columns: tuple[str, ...], shape: tuple[Filter, ...], limit: int, order: tuple[str, ...]
    ) -> str:
        return self._template.render(
            **dialect_context(self.dialect), view=self.view, columns=columns, filters=shape, limit=limit, order=order
        ).strip()

    def render(
        self, columns: Sequence[str], filters: Sequence[Filter], limit: int, names: Mapping[str, str] | None = None
    ) -> RenderedQuery:
        """The SQL and its parameters: ``columns`` selected, ``filters`` ANDed, at most ``limit`` rows,
        in start order. ``names`` maps a keyword to the view's name of its column (filters and order)."""
        names = names or {}
        params: list[object] = []
        for f in filters:
            params.extend(f.bind(self.facts))
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
        return render_template(self.template_dir, template, self.dialect, view=self.view, **context)


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
