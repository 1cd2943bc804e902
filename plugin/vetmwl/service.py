"""The worklist service: from a C-FIND identifier to encoded answers, without Orthanc.

This is where a C-FIND becomes SQL. :meth:`WorklistService.plan` reads the identifier into filters
(:mod:`vetmwl.query`), applies the calling AE's options (:mod:`vetmwl.policy`), decides for each
filter whether SQL or Python decides it, compiles the answer writer (:mod:`vetmwl.encoder`) and
renders the SQL (:mod:`vetmwl.sqlrender`, templates in ``sql/queries``). :meth:`find` runs it.
The Orthanc wiring, the REST page and the tests all call :meth:`find`: one code path for all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .config import Settings
from .db import Database
from .dialects import DIALECTS
from .encoder import AnswerEncoder
from .errors import CheckTimeout, DatabaseError, InternalError
from .kinds import Filter, Value
from .kinds.ranges import orthanc_time_text
from .model import (
    CATCH_ALL,
    MODALITY,
    REQUIRED_COLUMNS,
    RESPONSIBLE_PERSON_ROLE,
    SPS_SEQUENCE,
    START_DATETIME,
    STATUS,
    STUDY_UID,
    Level,
    Source,
    level_of,
    multi_valued,
)
from .policy import apply_options
from .progress import STATUSES as TRACKED_STATUSES
from .progress import ProgressStore, StepKeys, status_of
from .query import WorklistQuery, parse_query, read_identifier
from .sqlrender import SqlRenderer
from .values import STATUS_ATTRIBUTE, Layout, Row, Values, ViewColumn
from .viewcolumns import discover

log = logging.getLogger("vetmwl.service")

_MISSING_COLUMN_STATES = {"42S22", "42703"}
#: Rows read at most for a query some of whose filters Python decides: SQL then selects candidates,
#: so its LIMIT must leave room for the rows Python turns down; beyond, the answer is incomplete.
SCAN_ROWS = 10_000
#: Seconds the worklist answers from the view alone after the state store failed, before it asks
#: the store again: a store that hangs costs one slow C-FIND in this time, not every one.
STORE_PAUSE = 10.0
#: Rows read first when only the performed steps' states may turn rows down (few are, usually): the
#: query is read again with this many times more rows while too few remain, up to SCAN_ROWS.
GROWTH = 4
#: Seconds a read further needs left of QueryTimeout to be tried (else the rows found are answered).
FURTHER_AT_LEAST = 0.5
#: Distinct identifiers (with calling AE) whose plans are kept; modalities poll with a few, over and over.
PLAN_CACHE_SIZE = 1024
#: Multi-valued keys that are nevertheless matched in SQL as one value (a station has one AE title).
_SQL_AS_SINGLE = frozenset({"ScheduledStationAETitle", "ScheduledStationName"})


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


@dataclass(frozen=True)
class Check:
    """A test Python makes on each row SQL returns: a filter SQL cannot decide (or only narrows),
    or what Orthanc's own re-check would reject (see :mod:`vetmwl.kinds`)."""

    keyword: str
    read: Callable[[Row], Value]
    test: Callable[[Value], bool]

    def __call__(self, row: Row) -> bool:
        return self.test(self.read(row))


def _filter_check(f: Filter, read: Callable[[Row], Value]) -> Check:
    """The filter's own check, and Orthanc's reading of it where that differs (see :mod:`vetmwl.kinds`)."""
    orthanc = f.orthanc_check()
    if orthanc is None:
        return Check(f.keyword, read, f.matches)
    return Check(f.keyword, read, lambda value: f.matches(value) and orthanc(value))


@dataclass(frozen=True)
class Plan:
    """A query made ready to run: its SQL, the checks Python adds, and the answer writer."""

    query: WorklistQuery
    encoder: AnswerEncoder
    sql: str
    params: tuple[object, ...]
    #: Rows SQL reads at first: one more than the limit (the extra row tells there are more), or
    #: SCAN_ROWS + 1 when Python's checks may turn rows down; it grows only with ``sql_for``.
    fetch: int
    checks: tuple[Check, ...]
    answered_modality: str | None
    ignored: tuple[str, ...]
    #: The row position of the Modality column, when answers carry ``answered_modality`` there.
    modality_index: int | None = None
    #: Why no row can match, when none can (the query is then not sent to the database).
    nothing: str = ""
    #: The SQL for another number of rows (the same parameters), when ``fetch`` may have to grow.
    sql_for: Callable[[int], str] | None = None
    #: How a row names its scheduled step, when the performed steps' states apply.
    step_keys: Callable[[Row], StepKeys] | None = None


class WorklistService:
    """Turns worklist queries into answers from the configured SQL view."""

    def __init__(
        self, settings: Settings, database: Database | None = None, progress: ProgressStore | None = None
    ) -> None:
        """``progress``: the store of performed steps, whose states the answers then follow."""
        self.settings = settings
        self.progress = progress
        #: Why the state store could not be read at the last query ('' when it could).
        self.progress_error = ""
        #: When the store may be asked again (``clock`` time), after a failure.
        self._store_pause_until = 0.0
        self.clock: Callable[[], float] = time.monotonic
        self.renderer = SqlRenderer(settings.template_dir, settings.template, settings.dialect, settings.view)
        dialect = DIALECTS[settings.dialect]
        self.database = database or Database(
            settings.connection_string,
            settings.query_timeout,
            settings.connect_timeout,
            session_sql=dialect.session(dialect.worklist_session, settings.query_timeout),
            text_encoding=dialect.text_encoding,
        )
        self._view: dict[str, ViewColumn] | None = None
        self._plans: dict[tuple, Plan] = {}

    def close(self) -> None:
        """Close the database connection and forget the plans (Orthanc is stopping)."""
        self.database.close()
        self._plans.clear()

    def view(self) -> dict[str, ViewColumn]:
        """The view's columns the plugin reads, discovered once per process and checked."""
        if self._view is None:
            result = self.database.fetch(self.renderer.render_named("columns.sql.j2"), max_rows=0)
            view, notes = discover(result.columns, result.types)
            missing = [name for name in REQUIRED_COLUMNS if name not in view]
            if missing:
                raise ViewError(
                    f"the view {self.settings.view} lacks the required column(s) {', '.join(missing)}: "
                    f"compare it with sql/README.md"
                )
            for note in notes:
                (log.warning if "cannot read" in note else log.info)("the view's %s", note)
            without = "" if CATCH_ALL in view else f"; no {CATCH_ALL} column, so other attributes are empty"
            log.info("the view has %d column(s) the plugin reads%s", len(view), without)
            self._view = view
        return self._view

    # -- the C-FIND to SQL step ------------------------------------------------------------------
    def plan(self, raw_identifier: bytes, calling_aet: str | None = None, calling_address: str | None = None) -> Plan:
        """Everything about a query that does not depend on the data, remembered per identifier.

        Modalities poll with the same identifier over and over; reading it, applying the calling
        AE's options, compiling the answer writer and rendering the SQL is then done once.
        """
        view = self.view()
        address = calling_address if self.settings.by_address else None  # one entry for all addresses otherwise
        key = (identifier_bytes(raw_identifier), calling_aet, address)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= PLAN_CACHE_SIZE:
                self._plans.clear()
            plan = self._plans[key] = self._make_plan(raw_identifier, calling_aet, address, view)
        return plan

    def _make_plan(
        self, raw_identifier: bytes, calling_aet: str | None, address: str | None, view: Mapping[str, ViewColumn]
    ) -> Plan:
        query = parse_query(read_identifier(raw_identifier))
        options = self.settings.options_for(calling_aet, address)
        policy = apply_options(query.filters, options, calling_aet)
        layout = Layout(view)
        encoder = AnswerEncoder(query, view, options.character_set, layout)
        sql_filters: list[Filter] = []
        checks: list[Check] = []
        ignored: list[str] = []
        nothing = ""
        tracked = self.progress is not None
        for f in policy.filters:
            in_sql = _sql_decides(f, view)
            follows_state = tracked and f.keyword == STATUS and f.level is Level.STEP
            if follows_state and _selects_any(f):
                in_sql = False  # the view may say SCHEDULED where our store says IN PROGRESS
            if in_sql:
                sql_filters.append(f)
            if not in_sql or follows_state or f.confirm_in_python(self.renderer.facts):
                read = f.reader(encoder.values)
                if read is None and f.level is Level.STEP:
                    nothing = nothing or _nowhere(f)
                elif read is None:
                    ignored.append(f.keyword)
                else:
                    checks.append(_filter_check(f, read))
        if query.padded_step_keys:
            nothing = nothing or (
                f"the query's {SPS_SEQUENCE} > {', '.join(query.padded_step_keys)} starts with a space, which DICOM "
                "reads as padding but Orthanc's re-check keeps: it would empty the step item of every answer, so "
                "the query gets no answer"
            )
        time_check = _start_time_check(query, encoder.values)
        if time_check is not None:
            checks.append(time_check)
        if nothing:
            log.warning("%s", nothing)
        limit = self.settings.limit_answers
        only_states = tracked and all(c.keyword == STATUS for c in checks)
        fetch = (max(limit, SCAN_ROWS) if checks and not only_states else limit) + 1
        step_keys = _step_keys(encoder.values) if tracked else None
        if not layout.keywords:
            layout.index("ScheduledProcedureStepID")
        names = {k: c.name for k, c in view.items()}
        rendered = self.renderer.render(layout.names, sql_filters, fetch, names=names)
        columns = layout.names

        def sql_for(rows: int) -> str:
            return self.renderer.render(columns, sql_filters, rows, names=names).sql

        answered = policy.answered_modality
        modality_index = layout.keywords.index(MODALITY) if answered and MODALITY in layout.keywords else None

        return Plan(
            query=query,
            encoder=encoder,
            sql=rendered.sql,
            params=tuple(rendered.params),
            fetch=fetch,
            checks=tuple(checks),
            answered_modality=answered,
            ignored=tuple(ignored),
            modality_index=modality_index,
            nothing=nothing,
            sql_for=sql_for if only_states and checks else None,
            step_keys=step_keys,
        )

    def find(
        self, raw_identifier: bytes, calling_aet: str | None = None, calling_address: str | None = None
    ) -> FindResult:
        """Answer one C-FIND identifier from ``calling_aet`` (its options apply; None: the defaults).

        Raises QueryError, DatabaseError or InternalError (see :mod:`vetmwl.errors`) with a
        readable text; an InternalError carries the SQL and the query's matching keys.
        """
        started = time.perf_counter()
        p = self.plan(raw_identifier, calling_aet, calling_address)
        planned = time.perf_counter()
        limit = self.settings.limit_answers
        rows: list = []
        sql_seconds = 0.0
        fetch, sql = p.fetch, p.sql
        deadline = started + self.settings.query_timeout
        left: float | None = None
        while True:
            try:
                found, seconds = self._fetch(p, sql, left) if not p.nothing else ([], 0.0)
            except DatabaseError as error:
                if left is None or not error.timeout:
                    raise
                # A read further ran out of time: the rows found so far are answered, incomplete.
                log.warning("reading further took the rest of QueryTimeout: %d answer(s), marked incomplete", len(rows))
                break
            sql_seconds += seconds
            more = len(found) >= fetch
            rows = self._with_states(p, found, deadline)
            if p.checks:
                rows = _checked(rows, p.checks, deadline, self.settings.query_timeout)
            if not (more and len(rows) <= limit and p.sql_for is not None and fetch < SCAN_ROWS + 1):
                break
            # The states turned rows down: read further, so that the limit and the order stay exact;
            # only within QueryTimeout (past it, the rows found so far are answered as incomplete).
            left = deadline - time.perf_counter()
            if left < FURTHER_AT_LEAST:
                break
            fetch = min(fetch * GROWTH, SCAN_ROWS + 1)
            sql = p.sql_for(fetch)
        fetched = time.perf_counter()
        incomplete = more or len(rows) > limit
        rows = rows[:limit]
        if p.modality_index is not None and p.answered_modality:
            rows = _answering_modality(rows, p.modality_index, p.answered_modality)
        encode_row = p.encoder.answer
        answers = [encode_row(row) for row in rows]
        finished = time.perf_counter()
        return FindResult(
            query=p.query,
            answers=answers,
            incomplete=incomplete,
            sql_seconds=sql_seconds,
            total_seconds=finished - started,
            ignored_keys=list(p.ignored),
            parse_seconds=planned - started,
            build_seconds=finished - fetched,
        )

    def _fetch(self, p: Plan, sql: str, seconds: float | None = None) -> tuple[list, float]:
        """Run the plan's SQL; ``seconds``: at most that long (a read further, within QueryTimeout)."""
        try:
            if seconds is None:
                result = self.database.fetch(sql, p.params)
            else:
                result = self.database.fetch(sql, p.params, seconds=seconds)
        except DatabaseError as error:
            if error.sqlstate in _MISSING_COLUMN_STATES:
                self._view = None  # the view changed under us: discover its columns again.
                self._plans.clear()
            raise
        except InternalError as error:
            error.sql, error.keys = sql, p.query.matching_keys()
            raise
        return result.rows, result.seconds

    def _with_states(self, p: Plan, rows: list, deadline: float) -> list:
        """The rows, those whose step has a state in our store carrying that status (see
        :mod:`vetmwl.progress`). A store that cannot be read (by ``deadline``, the C-FIND's
        QueryTimeout) does not stop the worklist: the rows then keep the view's statuses, and the log
        says so once per outage."""
        if self.progress is None or p.step_keys is None or not rows:
            return rows
        if self.progress_error and self.clock() < self._store_pause_until:
            return rows
        keys = [p.step_keys(row) for row in rows]
        try:
            # The store stops a little before the deadline, so that a store that takes all the time
            # leaves the view's answers to be checked and sent, rather than fail the C-FIND.
            reserve = min(1.0, 0.2 * self.settings.query_timeout)
            states = self.progress.states(keys, until=deadline - reserve)
        except Exception as error:  # a failure, an internal error or a bad row alike: answer from the view
            if not self.progress_error:
                log.warning(
                    "the state store cannot be read, so performed steps stay on the worklist (asked again "
                    "every %g s): %s",
                    STORE_PAUSE,
                    error,
                )
            self.progress_error = str(error)
            self._store_pause_until = self.clock() + STORE_PAUSE
            return rows
        if self.progress_error:
            log.warning("the state store can be read again")
            self.progress_error = ""
        if not states:
            return rows
        match_on = self.progress.match_on
        out = []
        for row, step in zip(rows, keys, strict=True):
            status = status_of(step, states, match_on)
            out.append(row if status is None else _with_status(row, status))
        return out


# -- which filters SQL decides, and how Python reads the others --------------------------------------
def _sql_decides(f: Filter, view: Mapping[str, ViewColumn]) -> bool:
    """Whether the view has a column SQL can match ``f`` on: the start date-time, or a plain column
    of one value whose type SQL compares like DICOM does (the filter's kind says which)."""
    column = view.get(f.keyword)
    if column is None or f.keyword == RESPONSIBLE_PERSON_ROLE:
        return False  # the role may be derived (OWNER): matched in Python, on what the answer carries
    if column.source is Source.START:
        return f.on_start()
    if column.source is not Source.VALUE or level_of(f.keyword) not in (None, f.level):
        return False
    if multi_valued(f.keyword) and f.keyword not in _SQL_AS_SINGLE:
        return False
    return f.decidable(column, column.python_type.__name__ if column.python_type else "str")


def _nowhere(f: Filter) -> str:
    return (
        f"the query's {SPS_SEQUENCE} > {f.keyword} has a value, but the view has no column for it (nor "
        f"{CATCH_ALL}): the plugin cannot match it, and Orthanc would empty the step item of every answer, "
        "so the query gets no answer"
    )


def _start_time_check(query: WorklistQuery, values: Values) -> Check | None:
    """Rows whose start time Orthanc would read as outside the query's time (it compares TM as text):
    only possible when the query's time has fewer digits than HHMMSS, or a fraction."""
    text = query.start_time_text
    if not text or all(len(bound) in (0, 6) for bound in text.split("-")):
        return None

    def orthanc_accepts(value: Value) -> bool:
        return isinstance(value, datetime) and orthanc_time_text(value, text) is not None

    return Check(START_DATETIME, values.start(), orthanc_accepts)


def identifier_bytes(raw: bytes) -> bytes:
    """The dataset part of the DICOM file Orthanc hands over, without preamble and file meta.

    The file meta may differ between two identical queries, so it is no part of the cache key.
    """
    if len(raw) >= 144 and raw[128:132] == b"DICM" and raw[132:136] == b"\x02\x00\x00\x00" and raw[136:138] == b"UL":
        return raw[144 + int.from_bytes(raw[140:144], "little") :]
    return raw


def _checked(rows: list, checks: tuple[Check, ...], deadline: float, timeout: float) -> list:
    """The rows every check lets through. Past ``deadline`` (QueryTimeout after the C-FIND began,
    on the ``time.perf_counter`` clock) the C-FIND fails naming the keys checked: no query holds
    the worklist, and every modality waiting on it, longer than QueryTimeout."""
    clock = time.perf_counter
    out = []
    for n, row in enumerate(rows):
        if all(check(row) for check in checks):
            out.append(row)
        if clock() > deadline:
            keys = tuple(dict.fromkeys(c.keyword for c in checks))
            raise CheckTimeout(
                f"the C-FIND reached SqlWorklist.QueryTimeout ({timeout:g} s) while checking the key(s) "
                f"{', '.join(keys)} on {len(rows)} row(s) (stopped after {n + 1}): make the query narrower, "
                "or give those attributes their own column in the view so that SQL matches them",
                keys,
            )
    return out


def _answering_modality(rows: list, index: int, modality: str) -> list:
    """Rows found through a modality alias, with the asked modality in place of the stored one."""
    out = []
    for row in rows:
        if row[index] != modality:
            values = list(row)
            values[index] = modality
            status = getattr(row, STATUS_ATTRIBUTE, None)
            row = _with_status(values, status) if status else tuple(values)
        out.append(row)
    return out


class _StepRow(tuple):
    """A view row whose step has a state in our store (read by :meth:`vetmwl.values.Values.text`)."""


def _with_status(row: Row, status: str) -> Row:
    wrapped = _StepRow(row)
    setattr(wrapped, STATUS_ATTRIBUTE, status)
    return wrapped


def _step_keys(values: Values) -> Callable[[Row], StepKeys]:
    """How a row names its scheduled step: SPS ID, accession number, Study Instance UID as answered."""
    sps_id = values.text("ScheduledProcedureStepID", Level.STEP)
    accession = values.text("AccessionNumber", Level.ROOT)
    study_uid = values.text(STUDY_UID, Level.ROOT)

    def keys(row: Row) -> StepKeys:
        return StepKeys(
            sps_id(row) if sps_id else "",
            accession(row) if accession else "",
            study_uid(row) if study_uid else "",
        )

    return keys


def _selects_any(f: Filter) -> bool:
    """Whether the status filter ``f`` lets one of the statuses our store tracks through."""
    return any(f.selects(status) for status in TRACKED_STATUSES)
