"""What follows performed work: the state store, studies arriving in Orthanc, and the MPPS SCP.

Nothing here knows the ``orthanc`` module: :mod:`vetmwl.orthanc_wiring` passes in how Orthanc
describes a study (``describe``) and calls :func:`start` once, then runs the returned stop steps
when Orthanc stops.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import sqlitefile
from .config import Settings
from .db import TEXT_ENCODINGS, Database
from .errors import INTERNAL, OK, DatabaseError, InternalError
from .mpps.protocol import Outcome
from .progress import ProgressStore, arrived_study, session_statements
from .web.metrics import Metrics

log = logging.getLogger("vetmwl")

#: Orthanc's description of a study by its Orthanc id: (``/studies/{id}``, ``/studies/{id}/statistics``).
Describe = Callable[[str], tuple[dict[str, Any], dict[str, Any]]]


def make_store(settings: Settings, orthanc_name: str = "") -> ProgressStore | None:
    """The state store of performed steps, when MPPS or study arrival is on: the shared ODBC
    database of ``StateStore``, else a SQLite file in Orthanc's storage folder."""
    if not settings.tracks_steps:
        return None
    p = settings.progress
    timeouts = (settings.query_timeout, settings.connect_timeout)
    if p.connection_string:
        database = Database(
            p.connection_string,
            *timeouts,
            session_sql=session_statements(p.template_dir, p.dialect, settings.query_timeout),
            text_encoding=TEXT_ENCODINGS.get(p.dialect),
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
    ) -> None:
        self._describe = describe
        self._store = store
        self.event = event
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
            study, statistics = self._describe(orthanc_id)
        except Exception as error:  # the study was deleted meanwhile, or Orthanc is stopping
            log.warning("study %s arrived, but Orthanc could not describe it (%s): nothing recorded", orthanc_id, error)
            return True
        step = arrived_study(study.get("MainDicomTags", {}), statistics, orthanc_id, self.event)
        if step is None:
            log.warning("study %s arrived without a Study Instance UID: nothing recorded", orthanc_id)
            return True
        (reference,) = step.references
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


def start_mpps(settings: Settings, store: ProgressStore, metrics: Metrics) -> Any:
    """The MPPS SCP on its own port (an :class:`~.mpps.server.MppsServer`); None when it cannot
    listen (the worklist keeps working). pynetdicom is imported only when MPPS is on."""
    from .mpps.protocol import MppsProtocol
    from .mpps.server import MppsServer

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
    """What :func:`start` started: the study-arrival thread (if on) and the steps that stop it all,
    in order (threads that write first, the store's connection last)."""

    arrivals: StudyArrivals | None = None
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
    if settings.progress.study_event != "Off":
        running.arrivals = StudyArrivals(describe, store, settings.progress.study_event, metrics)
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
