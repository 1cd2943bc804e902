"""What follows performed work: the state store, studies arriving in Orthanc, and the MPPS SCP.

Nothing here knows the ``orthanc`` module: :mod:`vetmwl.orthanc_wiring` passes in how Orthanc
describes a study (``describe``) and calls :func:`start` once, then runs the returned stop steps
when Orthanc stops.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import sqlitefile
from .config import Settings
from .db import Database
from .dialects import DIALECTS
from .errors import INTERNAL, OK, DatabaseError, InternalError
from .mpps.protocol import Outcome
from .progress import ProgressStore, Reference, arrived_study
from .web.metrics import Metrics

log = logging.getLogger("vetmwl")

#: The instances whose sender is checked, at most, for one study (a sender known sooner ends it):
#: one REST call each, on the study thread.
SENDER_CHECKS = 1000


def _no_senders() -> Iterator[str]:
    return iter(())


@dataclass(frozen=True)
class Description:
    """Orthanc's description of a study: ``/studies/{id}`` and ``/studies/{id}/statistics``, and,
    asked only when ``StudyArrival.KnownSendersOnly`` is on, who stored it."""

    study: dict[str, Any]
    statistics: dict[str, Any]
    #: The calling AE title of each instance as Orthanc recorded it (its ``RemoteAET`` metadata; ''
    #: for one not received by C-STORE), asked one instance at a time.
    senders: Callable[[], Iterator[str]] = _no_senders
    #: The AE titles of Orthanc's ``DicomModalities`` now (orthanc.json's, and those added by REST).
    modalities: Callable[[], list[str]] = list


#: How Orthanc describes a study, by its Orthanc id.
Describe = Callable[[str], Description]


def known_sender(
    senders: Iterable[str], modalities: Iterable[str], strict: bool = False, limit: int = SENDER_CHECKS
) -> tuple[str | None, list[str]]:
    """The first sender that is one of ``modalities`` (compared as Orthanc does: without case
    unless ``strict``), else None; and the other senders seen, for the log. At most ``limit``
    instances are looked at: a study stored by nobody known costs one look per instance."""
    fold = (lambda aet: aet.strip()) if strict else (lambda aet: aet.strip().upper())
    known = {fold(m) for m in modalities if m.strip()}
    seen: list[str] = []
    for sender in itertools.islice(senders, limit):
        if sender.strip() and fold(sender) in known:
            return sender.strip(), seen
        if sender.strip() not in seen:
            seen.append(sender.strip())
    return None, seen


def make_store(settings: Settings, orthanc_name: str = "") -> ProgressStore | None:
    """The state store of performed steps, when MPPS or study arrival is on: the shared ODBC
    database of ``StateStore``, else a SQLite file in Orthanc's storage folder."""
    if not settings.tracks_steps:
        return None
    p = settings.progress
    timeouts = (settings.query_timeout, settings.connect_timeout)
    if p.connection_string:
        dialect = DIALECTS[p.dialect]
        database = Database(
            p.connection_string,
            *timeouts,
            session_sql=dialect.session(dialect.store_session, settings.query_timeout),
            text_encoding=dialect.text_encoding,
            name="the state store",
        )
    else:
        database = Database(str(p.sqlite_path), *timeouts, connect=sqlitefile.connect, name="the state store")
    return ProgressStore(database, p.dialect, p.template_dir, p.match_on, recorded_by=orthanc_name)


class StudyArrivals:
    """Orthanc's study events, handled on a thread of our own: Orthanc's REST API (behind
    ``describe``) must not be called from the change callback itself (it may deadlock, as the
    Orthanc Book warns). A store that cannot be written is tried again every ``retry`` seconds for
    ``attempts`` times."""

    def __init__(
        self,
        describe: Describe,
        store: ProgressStore,
        event: str,
        metrics: Metrics,
        retry: float = 10.0,
        attempts: int = 30,
        known_senders_only: bool = False,
        strict_aet: bool = False,
    ) -> None:
        self._describe = describe
        self._store = store
        self.event = event
        self._known_only, self._strict = known_senders_only, strict_aet
        self._metrics = metrics
        self._retry, self._attempts = retry, attempts
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vetmwl-studies", daemon=True)
        self._thread.start()

    def put(self, orthanc_id: str) -> None:
        self._queue.put(orthanc_id)

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while (orthanc_id := self._queue.get()) is not None:
            for attempt in range(1, self._attempts + 1):
                try:
                    if self._stopping.is_set() or self._handle(orthanc_id, last=attempt == self._attempts):
                        break
                except Exception:  # the plugin's own mistake: report it, and go on with the next study
                    self._metrics.study_arrival("failed")
                    log.exception("internal error while recording study %s; it is not recorded", orthanc_id)
                    break
                self._stopping.wait(self._retry)

    def _handle(self, orthanc_id: str, last: bool) -> bool:
        """Record one study; whether it is done with (recorded, or nothing to record)."""
        try:
            description = self._describe(orthanc_id)
        except Exception as error:  # the study was deleted meanwhile, or Orthanc is stopping
            log.warning("study %s arrived, but Orthanc could not describe it (%s): nothing recorded", orthanc_id, error)
            return True
        study, statistics = description.study, description.statistics
        step = arrived_study(study.get("MainDicomTags", {}), statistics, orthanc_id, self.event)
        if step is None:
            log.warning("study %s arrived without a Study Instance UID: nothing recorded", orthanc_id)
            return True
        (reference,) = step.references
        if self._known_only and not self._from_known_sender(description, reference):
            return True
        detail = (
            f"study arrived in Orthanc ({self.event}): {statistics.get('CountSeries')} series, "
            f"{statistics.get('CountInstances')} instances"
        )
        try:
            new = self._store.study_arrived(step, detail)
        except DatabaseError as error:
            if last:
                self._metrics.study_arrival("failed")
                log.error("study %s could not be recorded in the state store, giving up: %s", reference, error)
            else:
                log.warning("study %s: the state store cannot be written, trying again: %s", reference, error)
            return last
        self._metrics.study_arrival("new" if new else "again")
        log.info(
            "study %s (accession %s) %s: its scheduled steps count as completed",
            reference.study_instance_uid,
            reference.accession_number or "none",
            "arrived" if new else "arrived again",
        )
        return True

    def _from_known_sender(self, description: Description, reference: Reference) -> bool:
        """Whether one of the study's instances came from a modality of Orthanc's DicomModalities;
        a study that did not is not recorded, with a warning (StudyArrival.KnownSendersOnly)."""
        try:
            sender, others = known_sender(description.senders(), description.modalities(), self._strict)
        except Exception as error:  # deleted meanwhile, or Orthanc stopping: as a study it cannot describe
            log.warning(
                "study %s arrived, but Orthanc could not say who sent it (%s): nothing recorded",
                reference.study_instance_uid,
                error,
            )
            return False
        if sender is None:
            self._metrics.study_arrival("refused")
            senders = ", ".join(repr(s) if s else "no AE title (not stored by C-STORE)" for s in others) or "nobody"
            log.warning(
                "study %s (accession %s) was stored by %s, not by one of Orthanc's DicomModalities: its scheduled "
                "steps stay on the worklist (StudyArrival.KnownSendersOnly)",
                reference.study_instance_uid,
                reference.accession_number or "none",
                senders,
            )
            return False
        return True


#: The housekeeping pass: first a minute after the start (not while Orthanc starts), then hourly;
#: each deletes at most PURGE_BATCHES batches of PURGE_BATCH performed steps, one short transaction
#: each, so a C-FIND waiting for the store's connection waits for one batch at most.
HOUSEKEEPING_FIRST, HOUSEKEEPING_INTERVAL = 60.0, 3600.0
PURGE_BATCH, PURGE_BATCHES = 200, 25
DAY_US = 86_400 * 1_000_000


class Housekeeping:
    """Deletes performed steps unchanged for longer than ``StateStore.RetentionDays``, on a thread
    of its own (the study thread runs only with StudyArrival on): at most one bounded pass per
    ``interval``; a backlog (a store kept for years, then a retention set) drains over passes."""

    def __init__(
        self,
        store: ProgressStore,
        retention_days: int,
        first: float = HOUSEKEEPING_FIRST,
        interval: float = HOUSEKEEPING_INTERVAL,
        batch: int = PURGE_BATCH,
        batches: int = PURGE_BATCHES,
    ) -> None:
        self._store = store
        self.retention_us = retention_days * DAY_US
        self._first, self._interval = first, interval
        self._batch, self._batches = batch, batches
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vetmwl-housekeeping", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        wait = self._first
        while not self._stopping.wait(wait):
            wait = self._interval
            try:
                self.run_once()
            except DatabaseError as error:
                log.warning("housekeeping: the state store cannot be cleaned now (next try in %g s): %s", wait, error)
            except Exception:  # the plugin's own mistake: report it, and try again next time
                log.exception("housekeeping: internal error while cleaning the state store")

    def run_once(self) -> int:
        """One pass: how many performed steps were deleted."""
        cutoff = self._store.clock() - self.retention_us
        deleted = 0
        for _ in range(self._batches):
            if self._stopping.is_set():
                break
            count = self._store.purge(cutoff, self._batch)
            deleted += count
            if count < self._batch:
                break
        if deleted:
            log.info(
                "housekeeping: %d performed step(s) unchanged for %d days deleted from the state store",
                deleted,
                self.retention_us // DAY_US,
            )
        return deleted


def start_mpps(settings: Settings, store: ProgressStore, metrics: Metrics) -> Any:
    """The MPPS SCP on its own port (an :class:`~.mpps.server.MppsServer`); None when it cannot
    listen (the worklist keeps working). pynetdicom is imported only when MPPS is on."""
    from .mpps.protocol import MppsProtocol
    from .mpps.server import MppsServer

    for warning in settings.mpps.from_anywhere():
        log.warning("%s", warning)

    def report(operation: str, outcome: Outcome, calling_aet: str, address: str) -> None:
        metrics.mpps_message(operation, outcome.outcome)
        level = logging.INFO if outcome.outcome == OK else logging.WARNING
        if outcome.outcome == INTERNAL:
            level = logging.ERROR
        status = f"status {outcome.status:04X}"
        log.log(
            level,
            "MPPS %s from %s (%s): %s, %s: %s",
            operation,
            calling_aet,
            address,
            outcome.outcome,
            status,
            outcome.message,
        )

    protocol = MppsProtocol(store, n_set_from_other_aets=settings.mpps.n_set_from_other_aets)
    server = MppsServer(settings.mpps, protocol, report)
    return server if server.start() else None


@dataclass
class Running:
    """What :func:`start` started: the study-arrival thread (if on), the housekeeping thread, and
    the steps that stop it all, in order (threads that write first, the store's connection last)."""

    arrivals: StudyArrivals | None = None
    housekeeping: Housekeeping | None = None
    stopping: list[Callable[[], None]] = field(default_factory=list)


def start(settings: Settings, store: ProgressStore, metrics: Metrics, describe: Describe, can_stop: bool) -> Running:
    """Prepare the store, start the study-arrival thread and the MPPS SCP as configured.

    ``can_stop``: whether Orthanc will tell the plugin that it stops; without that the SCP's threads
    would outlive Orthanc's interpreter, so MPPS stays off.
    """
    running = Running(stopping=[store.database.close])
    try:
        store.ensure_schema()
    except (DatabaseError, InternalError) as error:
        log.error("the state store is not usable yet (will retry on each use): %s", error)
    running.housekeeping = Housekeeping(store, settings.progress.retention_days)
    running.stopping.insert(0, running.housekeeping.stop)
    if settings.progress.study_event != "Off":
        p = settings.progress
        running.arrivals = StudyArrivals(
            describe, store, p.study_event, metrics, known_senders_only=p.known_senders_only, strict_aet=p.strict_aet
        )
        running.stopping.insert(0, running.arrivals.stop)
    if settings.mpps.enable and not can_stop:
        log.error("this orthanc-python cannot tell the plugin that Orthanc stops: MPPS is off")
    elif settings.mpps.enable:
        try:
            server = start_mpps(settings, store, metrics)
        except Exception:  # pynetdicom missing or broken: the worklist works on
            log.exception("the MPPS SCP could not be started; the worklist works on without it")
            server = None
        if server is not None:
            running.stopping.insert(0, server.stop)
    return running
