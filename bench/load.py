"""Load generator: worker processes send one kind of C-FIND for a while and time each one.

Processes, not threads, so the client's own Python never competes with itself for a GIL; each
answer count and final status is checked against the generator's truth, so a fast wrong answer
counts as an error, not as speed.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from dataclasses import dataclass

from bench.cfind import Association


@dataclass
class Job:
    port: int
    called: str
    identifier: bytes
    expected_answers: int
    expected_status: int
    new_association: bool
    seconds: float
    max_queries: int


@dataclass
class Outcome:
    latencies: list[float]
    wrong: int
    errors: int
    first_error: str


def _worker(job: Job, start: float, results: multiprocessing.Queue) -> None:
    latencies: list[float] = []
    wrong = errors = 0
    first_error = ""
    while time.time() < start:
        time.sleep(0.001)
    deadline = start + job.seconds
    association = None
    while time.time() < deadline and len(latencies) + errors < job.max_queries:
        began = time.perf_counter()
        try:
            if association is None:
                association = Association("127.0.0.1", job.port, job.called)
            answers, status = association.find(job.identifier)
            if job.new_association:
                association.release()
                association = None
        except (OSError, ValueError) as exc:
            errors += 1
            first_error = first_error or repr(exc)
            association = None
            continue
        latencies.append(time.perf_counter() - began)
        if answers != job.expected_answers or status != job.expected_status:
            wrong += 1
            first_error = first_error or f"got {answers} answers status {status:#06x}"
    if association is not None:
        association.release()
    results.put(Outcome(latencies, wrong, errors, first_error))


@dataclass
class Summary:
    queries: int
    qps: float
    p50: float
    p95: float
    p99: float
    max: float
    wrong: int
    errors: int
    first_error: str


def run(job: Job, concurrency: int) -> Summary:
    """Run ``concurrency`` workers on ``job``; latencies in milliseconds."""
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = context.Queue()
    start = time.time() + 0.3
    workers = [context.Process(target=_worker, args=(job, start, results)) for _ in range(concurrency)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=job.seconds + 120) for _ in workers]
    wall = time.time() - start
    for worker in workers:
        worker.join()
    latencies = sorted(x for o in outcomes for x in o.latencies)
    if not latencies:
        latencies = [float("nan")]

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return Summary(
        queries=sum(len(o.latencies) for o in outcomes),
        qps=sum(len(o.latencies) for o in outcomes) / wall,
        p50=statistics.median(latencies) * 1000,
        p95=pct(0.95),
        p99=pct(0.99),
        max=latencies[-1] * 1000,
        wrong=sum(o.wrong for o in outcomes),
        errors=sum(o.errors for o in outcomes),
        first_error=next((o.first_error for o in outcomes if o.first_error), ""),
    )
