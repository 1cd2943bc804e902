"""Counters and a latency histogram of the worklist C-FINDs, and counters of the MPPS messages and
arriving studies that record performed steps, rendered as Prometheus text.

Kept by hand rather than with a metrics library: the C-FIND path only bumps a few integers under
a lock, and the text format (version 0.0.4) is small enough to write directly.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import OUTCOMES
from .querylog import STATUSES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Upper bounds (seconds) of the C-FIND latency buckets: from a fast local query to the timeout.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Where the plugin talks to the database; each may count errors.
ORIGINS = ("cfind", "rest", "health")
#: The DIMSE operations the MPPS SCP answers, and how each ended: done, refused (the sender's fault:
#: an unknown or final step, a duplicate, a calling AE not allowed), failed (the state store's),
#: internal (the plugin's own bug).
MPPS_OPERATIONS = ("N-CREATE", "N-SET", "C-ECHO")
MPPS_OUTCOMES = OUTCOMES
#: A study that arrived in Orthanc: a new performed step, one seen again (refreshed), or not recorded.
ARRIVAL_OUTCOMES = ("new", "again", "refused", "failed")


Sample = tuple[str, Mapping[str, str], float]


@dataclass(frozen=True)
class Snapshot:
    """The metrics at one moment."""

    queries: dict[str, int]
    buckets: tuple[int, ...]
    seconds_sum: float
    count: int
    answers: int
    incomplete: int
    database_errors: dict[str, int]
    #: MPPS messages by (operation, outcome).
    mpps_messages: dict[tuple[str, str], int]
    study_arrivals: dict[str, int]


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_label_value(str(value))}"' for key, value in labels.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


class Metrics:
    """What the plugin counts: C-FINDs by outcome, their latency and answers, database errors, MPPS
    messages and arrived studies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queries = dict.fromkeys(STATUSES, 0)
        self._buckets = [0] * len(BUCKETS)
        self._seconds_sum = 0.0
        self._count = 0
        self._answers = 0
        self._incomplete = 0
        self._database_errors = dict.fromkeys(ORIGINS, 0)
        self._mpps = {(op, outcome): 0 for op in MPPS_OPERATIONS for outcome in MPPS_OUTCOMES}
        self._arrivals = dict.fromkeys(ARRIVAL_OUTCOMES, 0)

    def observe_cfind(self, status: str, seconds: float, answers: int = 0, incomplete: bool = False) -> None:
        """Count one C-FIND; cheap enough for the callback Orthanc runs under its global lock."""
        index = bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            self._queries[status] += 1
            if index < len(BUCKETS):
                self._buckets[index] += 1
            self._seconds_sum += seconds
            self._count += 1
            self._answers += answers
            self._incomplete += int(incomplete)

    def database_error(self, origin: str) -> None:
        """Count one database error seen by the C-FIND path, the REST worklist or the health probe."""
        with self._lock:
            self._database_errors[origin] += 1

    def mpps_message(self, operation: str, outcome: str) -> None:
        """Count one MPPS message (N-CREATE, N-SET, or a C-ECHO to the MPPS SCP) by its outcome."""
        with self._lock:
            self._mpps[(operation, outcome)] += 1

    def study_arrival(self, outcome: str) -> None:
        """Count one study that arrived in Orthanc: new, again (already recorded), refused (not from a
        known sender, StudyArrival.KnownSendersOnly) or failed."""
        with self._lock:
            self._arrivals[outcome] += 1

    def snapshot(self) -> Snapshot:
        """The current values, copied under the lock (for rendering and tests)."""
        with self._lock:
            return Snapshot(
                queries=dict(self._queries),
                buckets=tuple(self._buckets),
                seconds_sum=self._seconds_sum,
                count=self._count,
                answers=self._answers,
                incomplete=self._incomplete,
                database_errors=dict(self._database_errors),
                mpps_messages=dict(self._mpps),
                study_arrivals=dict(self._arrivals),
            )

    def render(self, info: Mapping[str, str] | None = None, connections_opened: int = 0) -> str:
        """The metrics in Prometheus text exposition format 0.0.4."""
        data = self.snapshot()
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str, samples: list[Sample]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(f"{sample}{_labels(labels)} {_number(value)}" for sample, labels, value in samples)

        family(
            "vetmwl_cfind_queries_total",
            "counter",
            "Worklist C-FIND queries by outcome: ok, refused (the query's fault), failed (the database's), "
            "internal (the plugin's).",
            [("vetmwl_cfind_queries_total", {"status": s}, data.queries[s]) for s in STATUSES],
        )
        histogram: list[Sample] = []
        cumulative = 0
        for bound, count in zip(BUCKETS, data.buckets, strict=True):
            cumulative += count
            histogram.append(("vetmwl_cfind_duration_seconds_bucket", {"le": _number(bound)}, cumulative))
        histogram += [
            ("vetmwl_cfind_duration_seconds_bucket", {"le": "+Inf"}, data.count),
            ("vetmwl_cfind_duration_seconds_sum", {}, data.seconds_sum),
            ("vetmwl_cfind_duration_seconds_count", {}, data.count),
        ]
        family(
            "vetmwl_cfind_duration_seconds",
            "histogram",
            "Time the plugin took to answer a worklist C-FIND, in seconds.",
            histogram,
        )
        family(
            "vetmwl_cfind_answers_total",
            "counter",
            "Worklist answers sent to modalities.",
            [("vetmwl_cfind_answers_total", {}, data.answers)],
        )
        family(
            "vetmwl_cfind_incomplete_total",
            "counter",
            "C-FINDs cut at SqlWorklist.LimitAnswers and marked incomplete.",
            [("vetmwl_cfind_incomplete_total", {}, data.incomplete)],
        )
        family(
            "vetmwl_database_errors_total",
            "counter",
            "Database errors, by where the plugin met them (cfind, rest worklist, health probe).",
            [("vetmwl_database_errors_total", {"origin": o}, data.database_errors[o]) for o in ORIGINS],
        )
        family(
            "vetmwl_database_connections_opened_total",
            "counter",
            "Connections opened to the worklist database: one at start, one more after each outage.",
            [("vetmwl_database_connections_opened_total", {}, connections_opened)],
        )
        family(
            "vetmwl_mpps_messages_total",
            "counter",
            "MPPS messages by operation (N-CREATE, N-SET, C-ECHO) and outcome: ok, refused (the sender's fault), "
            "failed (the state store's), internal (the plugin's bug).",
            [
                ("vetmwl_mpps_messages_total", {"operation": op, "outcome": outcome}, n)
                for (op, outcome), n in data.mpps_messages.items()
            ],
        )
        family(
            "vetmwl_study_arrivals_total",
            "counter",
            "Studies that arrived in Orthanc, by outcome: new (a new performed step), again (one already "
            "recorded, refreshed), failed (not recorded).",
            [("vetmwl_study_arrivals_total", {"outcome": o}, data.study_arrivals[o]) for o in ARRIVAL_OUTCOMES],
        )
        if info is not None:
            family("vetmwl_info", "gauge", "The plugin's version and configuration.", [("vetmwl_info", info, 1)])
        return "\n".join(lines) + "\n"
