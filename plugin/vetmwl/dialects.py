"""What differs between the SQL dialects, in one table: the one place a fifth dialect is added.

The renderer (:mod:`vetmwl.sqlrender`), the matching kinds (:mod:`vetmwl.kinds`), the database
layer (:mod:`vetmwl.db`), the importer and the state store (:mod:`vetmwl.progress`) read their
dialect's entry here; the templates receive it as ``d`` beside its name (``dialect``). What a
dialect writes differently in SQL (TOP or LIMIT, CREATE ... IF NOT EXISTS, a time of day) stays in
the templates, chosen by the facts below or by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class Dialect:
    """One SQL dialect's facts (see docs/development.md, "A fifth dialect")."""

    name: str
    #: Characters its LIKE treats as special, escaped with ``\\`` in every bound pattern.
    like_specials: str = "\\%_"
    #: Wild card matching of case-sensitive keys with GLOB (SQLite: LIKE ignores ASCII case there).
    glob: bool = False
    #: Its usual collations compare text without case: case-sensitive keys get a second, binary
    #: comparison, bound a second time (macros.sql.j2 ``case_sensitive``).
    case_insensitive: bool = False
    #: Whether its case folding of names can be trusted for every script; if not (SQLite's LIKE folds
    #: ASCII letters only), non-ASCII names are only narrowed by SQL and confirmed in Python.
    folds_every_script: bool = True
    #: Whether PN matching needs UPPER() on the column (PostgreSQL compares with case).
    upper_names: bool = False
    #: The encoding text parameters are sent in, where the driver's UTF-16 loses characters (None:
    #: the driver's own): MariaDB's driver loses some of a long value, not of a UTF-8 one.
    text_encoding: str | None = None
    #: Dates and date-times are stored and compared as ISO text (SQLite).
    dates_as_text: bool = False
    #: A bound date-time loses its fraction (MariaDB's ODBC driver): a bound bound is rounded up.
    drops_bound_fraction: bool = False
    #: How a row limit is written: ``TOP (n)`` after SELECT, or ``LIMIT n`` at the end.
    top: bool = False
    #: The state store's column types: short text, and text of any length.
    varchar: str = "VARCHAR"
    long_text: str = "TEXT"
    #: Run on each new connection of the worklist (``{timeout_ms}`` and ``{timeout_s}`` filled in):
    #: a server-side timeout (that frees the database when the plugin abandons a statement) and a
    #: read-only session.
    worklist_session: tuple[str, ...] = ()
    #: The same for the state store, which writes.
    store_session: tuple[str, ...] = ()

    def session(self, statements: tuple[str, ...], query_timeout: int) -> list[str]:
        """``statements`` with the query timeout filled in (seconds, and the milliseconds most take)."""
        return [s.format(timeout_ms=query_timeout * 1000, timeout_s=query_timeout + 2) for s in statements]

    def bind_value(self, value: object, bound: bool = True) -> object:
        """A date or date-time as the dialect stores and compares it.

        SQLite stores date-times as ISO text: ``YYYY-MM-DD HH:MM:SS``, with ``.ffffff`` only when
        there is a fraction, so that text order is time order (``10:00:00`` < ``10:00:00.500000``).
        MariaDB's ODBC driver drops the fraction of a bound date-time, and its reference schema
        keeps whole seconds, so a query ``bound`` with a fraction is rounded up there (``>=
        10:00:00.5`` selects what ``>= 10:00:01`` selects); a stored value (``bound=False``) is left
        to the driver.
        """
        if self.drops_bound_fraction and bound and isinstance(value, datetime) and value.microsecond:
            return value.replace(microsecond=0) + timedelta(seconds=1)
        if self.dates_as_text:
            if isinstance(value, datetime):
                return value.strftime("%Y-%m-%d %H:%M:%S.%f" if value.microsecond else "%Y-%m-%d %H:%M:%S")
            if isinstance(value, date):
                return value.isoformat()
        return value


#: Every dialect the plugin speaks, by the name the settings use.
DIALECTS: dict[str, Dialect] = {
    "mssql": Dialect(
        "mssql",
        # SQL Server's LIKE also reads [ ] as a character class.
        like_specials="\\%_[",
        case_insensitive=True,
        top=True,
        # NVARCHAR: pyodbc binds Python text as NVARCHAR, and a VARCHAR column compared with it is
        # converted row by row, which turns an index seek into a scan.
        varchar="NVARCHAR",
        long_text="NVARCHAR(MAX)",
        worklist_session=("SET LOCK_TIMEOUT {timeout_ms}", "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"),
        store_session=("SET LOCK_TIMEOUT {timeout_ms}",),
    ),
    "postgresql": Dialect(
        "postgresql",
        upper_names=True,
        worklist_session=(
            "SET statement_timeout = {timeout_ms}",
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
        ),
        store_session=("SET statement_timeout = {timeout_ms}",),
    ),
    "sqlite": Dialect("sqlite", glob=True, folds_every_script=False, dates_as_text=True),
    "mariadb": Dialect(
        "mariadb",
        case_insensitive=True,
        text_encoding="utf-8",
        drops_bound_fraction=True,
        long_text="LONGTEXT",
        # Backslash is the LIKE escape of every template; without NO_BACKSLASH_ESCAPES MariaDB would
        # read it as a string escape, and a server-wide setting must not change what the SQL means.
        # The server kills a statement 2 s after QueryTimeout: the plugin's own deadline (QueryTimeout
        # + 1 s) speaks first with a clear message, and the abandoned query still stops soon after.
        worklist_session=(
            "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_BACKSLASH_ESCAPES')",
            "SET SESSION max_statement_time = {timeout_s}",
            "SET SESSION TRANSACTION READ ONLY",
        ),
        store_session=("SET SESSION max_statement_time = {timeout_s}",),
    ),
}
