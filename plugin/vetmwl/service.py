"""The worklist service: from the raw C-FIND identifier to encoded answers, without Orthanc.

The Orthanc wiring calls :meth:`WorklistService.find` and hands the bytes over; the REST page and
the tests call the very same method, so there is one code path for every consumer.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from .config import Settings
from .contract import COLUMNS, REQUIRED_COLUMNS
from .db import Database
from .encoder import AnswerEncoder, shape_of
from .errors import DatabaseError, InternalError
from .policy import MODALITY, apply_options
from .query import (
    STATUS,
    STUDY_UID,
    UNKNOWN_STATUS,
    Filter,
    WorklistQuery,
    needs_recheck,
    parse_query,
    read_identifier,
    recheck,
    recheck_columns,
    text_matches,
)
from .sqlrender import SqlRenderer

log = logging.getLogger("vetmwl.service")

_MISSING_COLUMN_STATES = {"42S22", "42703"}
#: Rows read at most for a query whose last word is Python's (see query.needs_recheck): SQL then
#: selects candidates, so its LIMIT must leave room for the ones Python turns down.
RECHECK_SCAN_ROWS = 10_000


class ViewError(DatabaseError):
    """The view exists but does not follow the column contract."""


@dataclass
class FindResult:
    """The answers for one C-FIND and what it took to make them."""

    query: WorklistQuery
    answers: list[bytes]
    incomplete: bool
    sql_seconds: float
    total_seconds: float = 0.0
    ignored_keys: list[str] = field(default_factory=list)
    parse_seconds: float = 0.0
    build_seconds: float = 0.0


class WorklistService:
    """Turns worklist queries into answers from the configured SQL view."""

    def __init__(self, settings: Settings, database: Database | None = None) -> None:
        self.settings = settings
        self.renderer = SqlRenderer(settings.template_dir, settings.template, settings.dialect, settings.view)
        session = self.renderer.render_named("session.sql.j2", query_timeout_ms=settings.query_timeout * 1000)
        self.database = database or Database(
            settings.connection_string,
            settings.query_timeout,
            settings.connect_timeout,
            session_sql=session.split(";"),
        )
        self._columns: tuple[str, ...] | None = None
        self._encoders: dict[tuple, AnswerEncoder] = {}
        self._prepared: dict[tuple, Prepared] = {}

    def close(self) -> None:
        """Close the database connection and forget what was prepared (Orthanc is stopping)."""
        self.database.close()
        self._prepared.clear()
        self._encoders.clear()

    def columns(self) -> tuple[str, ...]:
        """The contract's columns that the view really has, discovered once per process."""
        if self._columns is None:
            result = self.database.fetch(self.renderer.render_named("columns.sql.j2"), max_rows=0)
            present = {name.lower() for name in result.columns}
            missing = [name for name in REQUIRED_COLUMNS if name.lower() not in present]
            if missing:
                raise ViewError(
                    f"the view {self.settings.view} lacks the required column(s) {', '.join(missing)}: "
                    f"compare it with sql/README.md"
                )
            self._columns = tuple(c.name for c in COLUMNS if c.name.lower() in present)
            absent = [c.name for c in COLUMNS if c.name not in self._columns]
            if absent:
                log.info("the view has no column(s) %s: those keys are returned empty", ", ".join(absent))
        return self._columns

    def _encoder_for(self, query: WorklistQuery, columns: tuple[str, ...], character_set: str) -> AnswerEncoder:
        """The compiled answer writer for this query's shape, built once and then reused."""
        key = (shape_of(query), columns, character_set)
        encoder = self._encoders.get(key)
        if encoder is None:
            if len(self._encoders) >= 256:
                self._encoders.clear()
            encoder = self._encoders[key] = AnswerEncoder(query, columns, character_set)
        return encoder

    def _split(self, filters: tuple[Filter, ...], columns: tuple[str, ...]) -> tuple[list, list, list[str], bool]:
        """(SQL filters, Python-only filters, ignored keys, whether nothing can match).

        A key on a column the view lacks cannot be matched and is ignored, except two whose value
        the plugin knows without the column: every Study Instance UID is then derived (checked in
        Python), and every status is unknown, so SCHEDULED.
        """
        usable, local, ignored, nothing = [], [], [], False
        for f in filters:
            if f.column in columns:
                usable.append(f)
            elif f.column == STUDY_UID:
                local.append(f)
            elif f.column == STATUS:
                nothing = nothing or not text_matches(f, UNKNOWN_STATUS)
            else:
                ignored.append(f.column)
        return usable, local, ignored, nothing

    def _prepare(self, raw_identifier: bytes, calling_aet: str | None, calling_address: str | None = None) -> Prepared:
        """Everything about a query that does not depend on the data, remembered per identifier.

        Modalities poll with the same identifier over and over; parsing it, applying the calling
        AE's options, compiling the answer writer and rendering the SQL is then done once.
        """
        columns = self.columns()
        address = calling_address if self.settings.by_address else None  # one entry for all addresses otherwise
        key = (identifier_bytes(raw_identifier), calling_aet, address, columns)
        prepared = self._prepared.get(key)
        if prepared is not None:
            return prepared
        query = parse_query(read_identifier(raw_identifier))
        options = self.settings.options_for(calling_aet, address)
        policy = apply_options(query.filters, options, calling_aet)
        usable, local, ignored, nothing = self._split(policy.filters, columns)
        limit = self.settings.limit_answers
        encoder = self._encoder_for(query, columns, options.character_set)
        rechecks = [f for f in usable if needs_recheck(f, self.settings.dialect)] + local
        selected = list(encoder.columns) or ["ScheduledProcedureStepID"]
        for f in rechecks:
            selected += [c for c in recheck_columns(f) if c in columns and c not in selected]
        fetch = max(limit, RECHECK_SCAN_ROWS) + 1 if rechecks else limit + 1
        rendered = self.renderer.render(selected, usable, fetch)
        prepared = Prepared(
            query,
            policy.answered_modality,
            ignored,
            nothing,
            encoder,
            rechecks,
            selected,
            fetch,
            rendered.sql,
            tuple(rendered.params),
        )
        if len(self._prepared) >= 1024:
            self._prepared.clear()
        self._prepared[key] = prepared
        return prepared

    def find(
        self, raw_identifier: bytes, calling_aet: str | None = None, calling_address: str | None = None
    ) -> FindResult:
        """Answer one C-FIND identifier from ``calling_aet`` (its options apply; None: the defaults).

        Raises QueryError, DatabaseError or InternalError (see :mod:`vetmwl.errors`) with a
        readable text; an InternalError carries the SQL and the query's matching keys.
        """
        started = time.perf_counter()
        p = self._prepare(raw_identifier, calling_aet, calling_address)
        parsed = time.perf_counter()
        limit = self.settings.limit_answers
        rows: list = []
        sql_seconds = 0.0
        try:
            if not p.nothing:
                result = self.database.fetch(p.sql, p.params)
                rows, sql_seconds = result.rows, result.seconds
        except DatabaseError as error:
            if error.sqlstate in _MISSING_COLUMN_STATES:
                self._columns = None  # the view changed under us: discover its columns again.
            raise
        except InternalError as error:
            error.sql, error.keys = p.sql, p.query.matching_keys()
            raise
        fetched = time.perf_counter()
        incomplete = len(rows) >= p.fetch
        if p.rechecks:
            rows = [
                row for row in rows if all(recheck(f, dict(zip(p.selected, row, strict=False))) for f in p.rechecks)
            ]
            incomplete = incomplete or len(rows) > limit
        if p.answered_modality and MODALITY in p.encoder.columns:
            rows = _answering_modality(rows, p.encoder.columns.index(MODALITY), p.answered_modality)
        encode_row = p.encoder.answer
        answers = [encode_row(row) for row in rows[:limit]]
        finished = time.perf_counter()
        return FindResult(
            query=p.query,
            answers=answers,
            incomplete=incomplete,
            sql_seconds=sql_seconds,
            total_seconds=finished - started,
            ignored_keys=p.ignored,
            parse_seconds=parsed - started,
            build_seconds=finished - fetched,
        )


@dataclass(frozen=True)
class Prepared:
    """A query made ready to run: filters after the AE's options, SQL, answer writer."""

    query: WorklistQuery
    answered_modality: str | None
    ignored: list[str]
    nothing: bool
    encoder: AnswerEncoder
    rechecks: list
    selected: list[str]
    fetch: int
    sql: str
    params: tuple


def identifier_bytes(raw: bytes) -> bytes:
    """The dataset part of the DICOM file Orthanc hands over, without preamble and file meta.

    The file meta may differ between two identical queries, so it is no part of the cache key.
    """
    if len(raw) >= 144 and raw[128:132] == b"DICM" and raw[132:136] == b"\x02\x00\x00\x00" and raw[136:138] == b"UL":
        return raw[144 + int.from_bytes(raw[140:144], "little") :]
    return raw


def _answering_modality(rows: list, index: int, modality: str) -> list:
    """Rows found through a modality alias, with the asked modality in place of the stored one."""
    out = []
    for row in rows:
        if row[index] != modality:
            row = list(row)
            row[index] = modality
        out.append(tuple(row))
    return out
