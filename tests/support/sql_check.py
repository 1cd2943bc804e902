"""Strict parsing of rendered SQL with sqlglot, for every dialect (SQL Server's with its ``tsql`` parser)."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.dialects.mysql import MySQL


class MariaDBNoBackslashEscapes(MySQL):
    """MySQL as our MariaDB session sets it up: ``NO_BACKSLASH_ESCAPES``, so ``'\\'`` is one backslash."""

    class Tokenizer(MySQL.Tokenizer):
        STRING_ESCAPES = ["'"]  # noqa: RUF012 (overrides sqlglot's class attribute)


SQLGLOT_DIALECT = {"sqlite": "sqlite", "postgresql": "postgres", "mssql": "tsql", "mariadb": MariaDBNoBackslashEscapes}


def numbered(sql: str) -> str:
    """Each ``?`` as a named parameter (``@p1``...), the form T-SQL itself uses."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"@p{next(counter)}", sql)


def check_sql(sql: str, dialect: str) -> list[exp.Expression]:
    """Parse ``sql`` strictly; raise on a syntax error or on text sqlglot only keeps as opaque."""
    read = SQLGLOT_DIALECT[dialect]
    text = numbered(sql) if dialect == "mssql" else sql
    statements = [s for s in sqlglot.parse(text, read=read, error_level=sqlglot.ErrorLevel.RAISE) if s is not None]
    assert statements, f"no statement in {sql!r}"
    if dialect in ("mssql", "mariadb"):
        # sqlglot keeps statements it does not understand as an opaque Command; these must parse fully.
        assert not any(isinstance(s, exp.Command) for s in statements), sql
    return statements
