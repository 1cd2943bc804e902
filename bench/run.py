"""Run the benchmark matrix and print the table (issue #4).

    .venv/bin/python -m bench.run                      # the full matrix (about 15 minutes)
    .venv/bin/python -m bench.run --sizes 1000 --seconds 1 --stock-sizes 1000   # a quick look
    .venv/bin/python -m bench.run --orthanc trixie     # on Debian 13's Orthanc (a root, see --help)

For each size N it builds the data, starts Orthanc on free ports with our plugin (SQLite through
ODBC, or PostgreSQL with --backend postgresql), and for N in --stock-sizes Orthanc with its stock
file-based worklist plugin on the same items as .wl files. Each query Q1-Q5 runs with a new
association per query and with a reused one, at concurrency 1 and 8, for --seconds each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from pydicom.dataset import Dataset

from bench import dataset as data
from bench.cfind import Association, encode_identifier
from bench.load import Job, Summary, run
from tests.support.keys import STEP_KEYS
from tests.support.runtimes import SUITES, Runtime
from tests.support.runtimes import runtime as orthanc_runtime
from tests.support.servers import OrthancServer, PostgresServer
from vetmwl.model import PATIENT_KEYS

REPO = Path(__file__).resolve().parents[1]
LIMIT = 2000
RETURN_KEYS = [*PATIENT_KEYS, "AccessionNumber", "RequestedProcedureDescription"]


def identifier(today: date, name: str) -> Dataset:
    """Q1-Q5 as a modality asks them: the usual return keys, and the matching keys of the query."""
    ds = Dataset()
    for keyword in RETURN_KEYS:
        setattr(ds, keyword, "")
    step = Dataset()
    for keyword in STEP_KEYS:
        setattr(step, keyword, "")
    day = f"{today:%Y%m%d}"
    if name == "Q1":
        step.Modality, step.ScheduledProcedureStepStartDate = "DX", day
    elif name == "Q2":
        ds.PatientName = data.Q2_PREFIX + "*"
    elif name == "Q3":
        step.ScheduledProcedureStepStartDate = f"{day}-{today + timedelta(days=6):%Y%m%d}"
    elif name == "Q4":
        step.ScheduledStationAETitle = "US_ROOM1"
    elif name == "Q5":
        step.ScheduledStationAETitle, step.ScheduledProcedureStepStartDate = "US_ROOM1", day
    ds.ScheduledProcedureStepSequence = [step]
    return ds


class Orthanc(OrthancServer):
    """Orthanc on free ports, quiet (no --verbose: logging every query would be measured too)."""

    def __init__(self, workdir: Path, runtime: Runtime, plugin_settings: dict | None, **overrides: object) -> None:
        super().__init__(
            workdir, plugin_settings, runtime=runtime, verbose=False, Name="bench", DicomAet="BENCHSCP", **overrides
        )
        started = time.monotonic()
        self.start(timeout=60)
        self.ready_seconds = self._wait(started)

    def _wait(self, started: float) -> float:
        """Seconds from start until C-FIND is accepted (the DICOM port answers an association)."""
        while time.monotonic() - started < 60:
            try:
                Association("127.0.0.1", self.dicom_port, "BENCHSCP", timeout=1).release()
                return time.monotonic() - started
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("Orthanc did not start")


def ours(
    workdir: Path,
    n: int,
    today: date,
    backend: str,
    pg: PostgresServer | None,
    runtime: Runtime,
    track: bool = False,
) -> Orthanc:
    if backend == "sqlite":
        db = workdir / f"bench-{n}.sqlite"
        data.write_sqlite(db, n, today)
        connection, dialect = f"Driver=SQLite3;Database={db}", "sqlite"
    else:
        name = f"bench_{n}"
        assert pg is not None
        pg.psql(f"DROP DATABASE IF EXISTS {name}")
        pg.psql(f"CREATE DATABASE {name}")
        psql = pg.psql_command(name)
        data.write_postgres(psql, n, today)
        connection, dialect = pg.connection_string(name), "postgresql"
    settings: dict = {"ConnectionString": connection, "Dialect": dialect, "LimitAnswers": LIMIT}
    if track:
        # Each query then also asks the state store of performed steps (docs/progress.md) about its rows.
        settings["StudyArrival"] = {"Event": "StableStudy"}
    return Orthanc(workdir, runtime, settings)


def stock(workdir: Path, n: int, today: date, runtime: Runtime) -> Orthanc:
    folder = workdir / "wl"
    data.write_wl_files(folder, n, today)
    return Orthanc(
        workdir,
        runtime,
        None,
        Plugins=["/usr/share/orthanc/plugins/libModalityWorklists.so"],
        Worklists={"Enable": True, "Database": str(folder), "FilterIssuerAet": False, "LimitAnswers": 0},
    )


QUERIES = ("Q1", "Q2", "Q3", "Q4", "Q5")


def measure(
    server: Orthanc, n: int, today: date, limit: int | None, seconds: float, queries: tuple[str, ...] = QUERIES
) -> dict[str, dict[str, Summary]]:
    truth = data.truth(n, today)
    results: dict[str, dict[str, Summary]] = {}
    for query in queries:
        expected = truth[query] if limit is None else min(truth[query], limit)
        status = 0xFE00 if limit is not None and truth[query] > limit else 0x0000
        raw = encode_identifier(identifier(today, query))
        results[query] = {}
        for new in (True, False):
            for concurrency in (1, 8):
                job = Job(server.dicom_port, "BENCHSCP", raw, expected, status, new, seconds, 100_000)
                results[query][f"{'new' if new else 'reused'}/c{concurrency}"] = run(job, concurrency)
    return results


def table(rows: list[tuple[str, int, str, dict[str, Summary]]], stock_qps: dict[tuple[int, str], float]) -> str:
    lines = [
        "| server | N | query | answers | new assoc p50 / p95 / p99 / max ms | reused p50 / max ms | new c8 q/s"
        " | reused c8 q/s"
        " | vs stock (reused c8) | wrong/errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for server, n, query, r in rows:
        a, b, c, d = r["new/c1"], r["reused/c1"], r["new/c8"], r["reused/c8"]
        ratio = ""
        if server != "stock" and (n, query) in stock_qps:
            ratio = f"{d.qps / stock_qps[(n, query)]:.0f}x"
        bad = sum(x.wrong + x.errors for k, x in r.items() if k != "answers")
        lines.append(
            f"| {server} | {n:,} | {query} | {r['answers']} | {a.p50:.1f} / {a.p95:.1f} / {a.p99:.1f} / {a.max:.0f} | "
            f"{b.p50:.1f} / {b.max:.0f} | "
            f"{c.qps:.0f} | {d.qps:.0f} | {ratio} | {bad} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--stock-sizes", type=int, nargs="*", default=[1_000, 10_000])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each cell (2)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--queries", nargs="+", choices=QUERIES, default=list(QUERIES), help="which queries (all)")
    parser.add_argument(
        "--track", action="store_true", help="with the state store of performed steps on (StudyArrival), empty"
    )
    parser.add_argument(
        "--orthanc",
        choices=["host", *SUITES],
        default="host",
        help="which Orthanc: the host's, or a Debian root's (built on first use, see tests/support/runtimes.py)",
    )
    args = parser.parse_args()
    runtime = orthanc_runtime(args.orthanc)

    today = date.today()
    rows: list[tuple[str, int, str, dict]] = []
    stock_qps: dict[tuple[int, str], float] = {}
    notes: list[str] = []
    pg = None
    if args.backend == "postgresql":
        pg = PostgresServer().init()
        pg.start()
    try:
        for label, sizes in (("stock", args.stock_sizes), (f"ours ({args.backend})", args.sizes)):
            for n in sizes:
                with tempfile.TemporaryDirectory(prefix="vetmwl-bench-") as tmp:
                    workdir = Path(tmp)
                    built = time.monotonic()
                    server = (
                        stock(workdir, n, today, runtime)
                        if label == "stock"
                        else ours(workdir, n, today, args.backend, pg, runtime, args.track)
                    )
                    notes.append(
                        f"{label} N={n:,}: data built and Orthanc accepting C-FIND after "
                        f"{time.monotonic() - built:.1f} s; Orthanc start to first association "
                        f"{server.ready_seconds:.2f} s; RSS {server.rss_kib() // 1024} MiB"
                    )
                    try:
                        truth = data.truth(n, today)
                        measured = measure(
                            server, n, today, None if label == "stock" else LIMIT, args.seconds, tuple(args.queries)
                        )
                        for query, cells in measured.items():
                            answers = truth[query] if label == "stock" else min(truth[query], LIMIT)
                            rows.append(
                                (label if label == "stock" else "ours", n, query, {**cells, "answers": answers})
                            )
                            if label == "stock":
                                stock_qps[(n, query)] = cells["reused/c8"].qps
                        notes[-1] += f", after the run {server.rss_kib() // 1024} MiB"
                    finally:
                        server.stop()
                print(table(rows, stock_qps), file=sys.stderr, flush=True)
    finally:
        if pg is not None:
            pg.destroy()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"Benchmark of {date.today()} on {os.cpu_count()} cores ({cpu}), Orthanc {runtime.orthanc_version()} "
        f"({runtime.name}), "
        f"backend {args.backend}, {args.seconds:g} s per cell, LimitAnswers {LIMIT} for ours\n"
    )
    print(table(rows, stock_qps))
    print()
    for note in notes:
        print(f"- {note}")
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    (s, n, q, {k: (v if isinstance(v, int) else v.__dict__) for k, v in r.items()})
                    for s, n, q, r in rows
                ],
                indent=1,
            )
        )
    return 1 if any(x.wrong + x.errors for *_, r in rows for k, x in r.items() if k != "answers") else 0


if __name__ == "__main__":
    sys.exit(main())
