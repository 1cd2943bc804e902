"""What happened to the scheduled steps, as modalities (MPPS) and Orthanc (arrived studies) report
it: kept in a store of our own, since the practice database is read-only for the plugin.

A *performed step* is one MPPS SOP instance, or one study that arrived in Orthanc. It names the
scheduled steps it performed by *references* (SPS ID, accession number, Study Instance UID), and
keeps its history as *events*. The worklist asks :meth:`ProgressStore.states` for the steps a
query found and :func:`status_of` decides each one's status (see docs/progress.md).

The SQL is in ``sql/progress`` (Jinja2, one macro per statement); it runs on a
:class:`vetmwl.db.Database`, so the store has the worklist's deadline, reconnects and plain-word
errors, whether it is the default SQLite file or a shared ODBC database.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .config import MATCH_KEYS
from .db import Database
from .errors import DatabaseError
from .sqlrender import dialect_context, environment

log = logging.getLogger("vetmwl.progress")

IN_PROGRESS, COMPLETED, DISCONTINUED = "IN PROGRESS", "COMPLETED", "DISCONTINUED"
#: The statuses a performed step can have (PS3.3 C.4.14, Performed Procedure Step Status).
STATUSES = (IN_PROGRESS, COMPLETED, DISCONTINUED)
#: A performed step in one of these may no longer change (PS3.4 F.7.2.2).
FINAL = (COMPLETED, DISCONTINUED)
#: A performed step staff put back: kept with its history, it no longer names any scheduled step.
VOIDED = "VOIDED"
MPPS, STUDY = "MPPS", "STUDY"
#: The key of an arrived study's performed step: this and its Study Instance UID.
STUDY_PREFIX = "study:"
#: The reference column of each key the MatchOn setting may name.
MATCH_COLUMNS = dict(zip(MATCH_KEYS, ("study_instance_uid", "accession_number"), strict=True))
#: Keys per IN list, well below every driver's parameter limit (SQL Server's is 2100).
BATCH = 500


@dataclass(frozen=True)
class Reference:
    """A scheduled step as a performed step names it; '' where a key is not given."""

    sps_id: str = ""
    accession_number: str = ""
    study_instance_uid: str = ""
    requested_procedure_id: str = ""


@dataclass(frozen=True)
class Event:
    time_us: int
    event: str
    status: str
    calling_aet: str
    detail: str


@dataclass(frozen=True)
class PerformedStep:
    uid: str
    kind: str
    status: str
    calling_aet: str = ""
    calling_address: str = ""
    station_aet: str = ""
    modality: str = ""
    started: str = ""
    ended: str = ""
    recorded_by: str = ""
    created_us: int = 0
    updated_us: int = 0
    #: The performed step's attributes as DICOM JSON (an MPPS's, or an arrived study's main tags).
    attributes: str = "{}"
    references: tuple[Reference, ...] = ()
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class State:
    """One reference of a performed step, with the step's status and when it last changed."""

    reference: Reference
    status: str
    updated_us: int
    step_uid: str


@dataclass(frozen=True)
class StepKeys:
    """A scheduled step of the worklist as its answer names it (Study Instance UID as answered)."""

    sps_id: str
    accession_number: str
    study_instance_uid: str


class DuplicateStep(Exception):
    """An N-CREATE for a SOP instance the store already has."""


class UnknownStep(Exception):
    """An N-SET for a SOP instance the store does not have."""


class FinalStep(Exception):
    """An N-SET for a performed step already COMPLETED or DISCONTINUED."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def _key(keys: Reference | StepKeys, keyword: str) -> str:
    """The value of a MatchOn keyword (both types name their fields like the store's columns)."""
    return getattr(keys, MATCH_COLUMNS[keyword])


def names(reference: Reference, step: StepKeys, match_on: Sequence[str]) -> bool:
    """Whether ``reference`` names the scheduled step ``step``: one of the ``match_on`` keys is
    given on both sides and equal, and, when the reference gives an SPS ID, it is the step's."""
    if reference.sps_id and reference.sps_id != step.sps_id:
        return False
    return any(_key(reference, k) and _key(reference, k) == _key(step, k) for k in match_on)


def status_of(step: StepKeys, states: Iterable[State], match_on: Sequence[str]) -> str | None:
    """The status our store gives ``step``: that of the performed step naming it that changed last
    (a later MPPS, or a study arriving after it, has the last word); None when none names it."""
    best: State | None = None
    for state in states:
        if names(state.reference, step, match_on) and (best is None or state.updated_us > best.updated_us):
            best = state
    return best.status if best is not None else None


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class ProgressStore:
    """The store: performed steps, their references and events, in SQL of ``sql/progress``."""

    database: Database
    dialect: str
    template_dir: Path
    match_on: tuple[str, ...] = MATCH_KEYS
    #: Orthanc's name, saved with each performed step: who recorded it, when several share a store.
    recorded_by: str = ""
    clock: Callable[[], int] = _now_us
    _ready: bool = field(default=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        env = environment(self.template_dir)
        self._schema = env.get_template("schema.sql.j2")
        self._sql = env.get_template("statements.sql.j2").make_module(dialect_context(self.dialect))

    def _statement(self, name: str, *args: object) -> str:
        return str(getattr(self._sql, name)(*args)).strip()

    def schema_statements(self) -> list[str]:
        """The CREATE statements, each safe to run again."""
        text = self._schema.render(**dialect_context(self.dialect))
        return [s.strip() for s in text.split("-----") if s.strip()]

    def ensure_schema(self) -> None:
        """Make the tables if they are missing; once per process (again after a failure)."""
        with self._lock:
            if self._ready:
                return
            for statement in self.schema_statements():
                self.database.transaction([(statement, ())])
            self._ready = True
            log.info("the state store is ready (%s)", self.dialect)

    # -- writing -----------------------------------------------------------------------------------
    def _inserts(self, step: PerformedStep) -> list[tuple[str, Sequence[object]]]:
        row = (
            step.uid,
            step.kind,
            step.status,
            step.calling_aet,
            step.calling_address,
            step.station_aet,
            step.modality,
            step.started,
            step.ended,
            step.recorded_by,
            step.created_us,
            step.updated_us,
            step.attributes,
        )
        statements: list[tuple[str, Sequence[object]]] = [(self._statement("insert_step"), row)]
        for r in step.references:
            values = (step.uid, r.sps_id, r.accession_number, r.study_instance_uid, r.requested_procedure_id)
            statements.append((self._statement("insert_reference"), values))
        statements += [self._event(step.uid, e) for e in step.events]
        return statements

    def _event(self, uid: str, e: Event) -> tuple[str, Sequence[object]]:
        return self._statement("insert_event"), (uid, e.time_us, e.event, e.status, e.calling_aet, e.detail[:1000])

    def _insert_new(self, step: PerformedStep, event_name: str, detail: str) -> tuple[PerformedStep, bool]:
        """``step`` stamped now with its first event, and whether it was inserted (False: its UID is
        recorded already, and nothing changed)."""
        self.ensure_schema()
        now = self.clock()
        event = Event(now, event_name, step.status, step.calling_aet, detail)
        # The column holds 64 characters; Orthanc's "Name" may be longer.
        step = replace(step, recorded_by=self.recorded_by[:64], created_us=now, updated_us=now, events=(event,))
        try:
            self.database.transaction(self._inserts(step))
        except DatabaseError as error:
            if not error.sqlstate.startswith("23"):
                raise
            # The connection may have been lost after our commit, and the insert sent again: then the
            # step found is ours (our time stamp), not one recorded before.
            found = self.get(step.uid)
            return step, found is not None and (found.created_us, found.recorded_by) == (now, step.recorded_by)
        return step, True

    def create(self, step: PerformedStep, detail: str) -> PerformedStep:
        """Record a new performed step (an N-CREATE), stamped now; DuplicateStep if it exists."""
        created, new = self._insert_new(step, "N-CREATE", detail)
        if not new:
            raise DuplicateStep(step.uid)
        return created

    def update(self, uid: str, status: str, ended: str, attributes: str, calling_aet: str, detail: str) -> None:
        """Record an N-SET of a step still IN PROGRESS, and its event, in one transaction;
        UnknownStep or FinalStep (and nothing changed) when it cannot be."""
        self.ensure_schema()
        now = self.clock()
        changed, *_ = self.database.transaction(
            [
                (self._statement("update_step"), (status, ended, now, attributes, uid, IN_PROGRESS)),
                self._event(uid, Event(now, "N-SET", status, calling_aet, detail)),
            ],
            only_if_first_changes=True,
        )
        if changed == 0:
            current = self.get(uid)
            if current is None:
                raise UnknownStep(uid)
            raise FinalStep(current.status)

    def study_arrived(self, step: PerformedStep, detail: str) -> bool:
        """Record a study that arrived (COMPLETED, named by its keys); whether it is new. A study
        that arrives again (a new series, the stable event after the new one) is refreshed."""
        fresh, new = self._insert_new(step, "STUDY", detail)
        if not new:
            self.database.transaction(
                [
                    (self._statement("refresh_study"), (fresh.updated_us, step.attributes, step.uid)),
                    self._event(step.uid, fresh.events[0]),
                ]
            )
        return new

    def void(self, uid: str, by: str, detail: str) -> bool:
        """Put a performed step back (VOIDED, with a VOID event naming ``by``): its scheduled steps
        return to the worklist. False when it was voided already; UnknownStep when there is none."""
        self.ensure_schema()
        now = self.clock()
        changed, *_ = self.database.transaction(
            [
                (self._statement("void_step"), (VOIDED, now, uid, VOIDED)),
                self._event(uid, Event(now, "VOID", VOIDED, by[:16], detail)),
            ],
            only_if_first_changes=True,
        )
        if changed:
            return True
        if self.get(uid) is None:
            raise UnknownStep(uid)
        return False

    def purge(self, before_us: int, batch: int = BATCH) -> int:
        """Delete at most ``batch`` performed steps (with their references and events) that last
        changed before ``before_us``, oldest first, in one short transaction; how many went."""
        self.ensure_schema()
        found = self.database.fetch(self._statement("expired_steps", int(batch)), (before_us,)).rows
        uids = [str(row[0]) for row in found]
        if not uids:
            return 0
        deleted, *_ = self.database.transaction(
            [
                (self._statement("delete_steps", len(uids)), (before_us, *uids)),
                (self._statement("delete_orphans", "vetmwl_step_reference", len(uids)), tuple(uids)),
                (self._statement("delete_orphans", "vetmwl_step_event", len(uids)), tuple(uids)),
            ]
        )
        return deleted

    # -- reading -----------------------------------------------------------------------------------
    def get(self, uid: str) -> PerformedStep | None:
        self.ensure_schema()
        rows = self.database.fetch(self._statement("select_step"), (uid,)).rows
        return self._complete([_step(r) for r in rows])[0] if rows else None

    def recent(self, limit: int = 100) -> list[PerformedStep]:
        """The performed steps that changed last, newest first, with references and events."""
        self.ensure_schema()
        rows = self.database.fetch(self._statement("recent_steps", int(limit))).rows
        return self._complete([_step(r) for r in rows])

    def _complete(self, steps: list[PerformedStep]) -> list[PerformedStep]:
        uids = [s.uid for s in steps]
        references: dict[str, list[Reference]] = {u: [] for u in uids}
        events: dict[str, list[Event]] = {u: [] for u in uids}
        for batch in _batches(uids):
            for r in self.database.fetch(self._statement("references_of", len(batch)), tuple(batch)).rows:
                references[r[0]].append(Reference(*(str(v or "") for v in r[1:5])))
            for e in self.database.fetch(self._statement("events_of", len(batch)), tuple(batch)).rows:
                events[e[0]].append(Event(int(e[1]), e[2], e[3], e[4], e[5]))
        return [replace(s, references=tuple(references[s.uid]), events=tuple(events[s.uid])) for s in steps]

    def states(self, steps: Sequence[StepKeys], until: float | None = None) -> list[State]:
        """Every reference that shares a MatchOn key with one of ``steps``, with its step's status.
        ``until``: a ``time.perf_counter`` time (a C-FIND's QueryTimeout) no read may go past."""
        self.ensure_schema()
        wanted = {k: sorted({_key(s, k) for s in steps} - {""}) for k in self.match_on}
        found: list[State] = []
        for keyword, values in wanted.items():
            for batch in _batches(values):
                sql = self._statement("states_of", [(MATCH_COLUMNS[keyword], len(batch))])
                left = None if until is None else until - time.perf_counter()
                if left is not None and left <= 0:
                    raise DatabaseError(
                        "reading the state store took longer than SqlWorklist.QueryTimeout", timeout=True
                    )
                within = {} if left is None else {"seconds": left}
                for r in self.database.fetch(sql, (VOIDED, *batch), **within).rows:
                    found.append(State(Reference(str(r[0]), str(r[1]), str(r[2])), r[3], int(r[4]), r[5]))
        return found


def arrived_study(
    tags: Mapping[str, str], statistics: Mapping[str, object], orthanc_id: str, event: str
) -> PerformedStep | None:
    """The performed step of a study that arrived in Orthanc: COMPLETED, naming the scheduled steps
    that share its Study Instance UID or accession number (as MatchOn says); None without a UID.

    ``tags``: the study's main DICOM tags as Orthanc's ``/studies/{id}`` gives them;
    ``statistics``: ``/studies/{id}/statistics``; ``event``: NewStudy or StableStudy.
    """
    uid = str(tags.get("StudyInstanceUID", "")).strip()
    if not uid:
        return None
    accession = str(tags.get("AccessionNumber", "")).strip()
    attributes = {
        "OrthancStudy": orthanc_id,
        "Event": event,
        "StudyInstanceUID": uid,
        "AccessionNumber": accession,
        "StudyDescription": str(tags.get("StudyDescription", "")),
        "Series": statistics.get("CountSeries"),
        "Instances": statistics.get("CountInstances"),
    }
    started = str(tags.get("StudyDate", "")).strip() + str(tags.get("StudyTime", "")).strip()
    return PerformedStep(
        uid=STUDY_PREFIX + uid,
        kind=STUDY,
        status=COMPLETED,
        started=started[:32],
        references=(Reference(accession_number=accession[:64], study_instance_uid=uid[:64]),),
        attributes=json.dumps(attributes, ensure_ascii=False),
    )


def _batches(values: Sequence[str]) -> list[list[str]]:
    return [list(values[i : i + BATCH]) for i in range(0, len(values), BATCH)]


def _step(row: Sequence[object]) -> PerformedStep:
    text = [str(v) if v is not None else "" for v in row]
    return PerformedStep(
        uid=text[0],
        kind=text[1],
        status=text[2],
        calling_aet=text[3],
        calling_address=text[4],
        station_aet=text[5],
        modality=text[6],
        started=text[7],
        ended=text[8],
        recorded_by=text[9],
        created_us=int(row[10]),  # type: ignore[call-overload]
        updated_us=int(row[11]),  # type: ignore[call-overload]
        attributes=text[12] or "{}",
    )
