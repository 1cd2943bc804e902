"""Run the benchmark matrix and print the table (issue #4).

    .venv/bin/python bench/run.py                      # the full matrix (about 15 minutes)
    .venv/bin/python bench/run.py --sizes 1000 --seconds 1 --stock-sizes 1000   # a quick look

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
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

from pydicom.dataset import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dataset as data
from cfind import encode_identifier
from load import Job, Summary, run

REPO = Path(__file__).resolve().parents[1]
LIMIT = 2000
RETURN_KEYS = [
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientWeight",
    "PatientSpeciesDescription",
    "PatientBreedDescription",
    "ResponsiblePerson",
    "AccessionNumber",
    "RequestedProcedureDescription",
]
STEP_KEYS = [
    "Modality",
    "ScheduledStationAETitle",
    "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime",
    "ScheduledProcedureStepID",
    "ScheduledProcedureStepDescription",
]


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


class Orthanc:
    """Orthanc on free ports, quiet (no --verbose: logging every query would be measured too)."""

    def __init__(self, workdir: Path, config: dict) -> None:
        self.dicom_port, self.http_port = free_port(), free_port()
        config = {
            "Name": "bench",
            "DicomAet": "BENCHSCP",
            "DicomPort": self.dicom_port,
            "HttpPort": self.http_port,
            "StorageDirectory": str(workdir / "storage"),
            "IndexDirectory": str(workdir / "storage"),
            "RemoteAccessAllowed": False,
            "DefaultEncoding": "Utf8",
            "DicomAlwaysAllowFindWorklist": True,
            **config,
        }
        (workdir / "orthanc.json").write_text(json.dumps(config))
        env = dict(os.environ, TCP_NODELAY="1", PYTHONPATH=str(REPO / ".venv" / "lib" / "python3.11" / "site-packages"))
        self.log = (workdir / "orthanc.log").open("wb")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            ["Orthanc", str(workdir / "orthanc.json")], stdout=self.log, stderr=self.log, env=env, cwd=workdir
        )
        self.ready_seconds = self._wait()

    def _wait(self) -> float:
        """Seconds from start until C-FIND is accepted (the DICOM port answers an association)."""
        from cfind import Association

        while time.monotonic() - self.started < 60:
            try:
                Association("127.0.0.1", self.dicom_port, "BENCHSCP", timeout=1).release()
                return time.monotonic() - self.started
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("Orthanc did not start")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def ours(workdir: Path, n: int, today: date, backend: str, pg: object | None) -> Orthanc:
    if backend == "sqlite":
        db = workdir / f"bench-{n}.sqlite"
        data.write_sqlite(db, n, today)
        connection, dialect = f"Driver=SQLite3;Database={db}", "sqlite"
    else:
        name = f"bench_{n}"
        pg.psql(f"DROP DATABASE IF EXISTS {name}")  # type: ignore[union-attr]
        pg.psql(f"CREATE DATABASE {name}")  # type: ignore[union-attr]
        psql = [
            shutil.which("psql") or "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(pg.port),
            "-U",
            "postgres",  # type: ignore[union-attr]
            "-d",
            name,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
        ]
        data.write_postgres(psql, n, today)
        connection, dialect = pg.connection_string(name), "postgresql"  # type: ignore[union-attr]
    return Orthanc(
        workdir,
        {
            "Plugins": ["/usr/share/orthanc/plugins/libOrthancPython.so"],
            "PythonScript": str(REPO / "plugin" / "sql_worklist_plugin.py"),
            "SqlWorklist": {"ConnectionString": connection, "Dialect": dialect, "LimitAnswers": LIMIT},
        },
    )


def stock(workdir: Path, n: int, today: date) -> Orthanc:
    folder = workdir / "wl"
    data.write_wl_files(folder, n, today)
    return Orthanc(
        workdir,
        {
            "Plugins": ["/usr/share/orthanc/plugins/libModalityWorklists.so"],
            "Worklists": {"Enable": True, "Database": str(folder), "FilterIssuerAet": False, "LimitAnswers": 0},
        },
    )


def measure(server: Orthanc, n: int, today: date, limit: int | None, seconds: float) -> dict[str, dict[str, Summary]]:
    truth = data.truth(n, today)
    results: dict[str, dict[str, Summary]] = {}
    for query in ("Q1", "Q2", "Q3", "Q4", "Q5"):
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
        "| server | N | query | answers | new assoc p50 / p95 / p99 ms | reused p50 ms | new c8 q/s | reused c8 q/s"
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
            f"| {server} | {n:,} | {query} | {r['answers']} | {a.p50:.1f} / {a.p95:.1f} / {a.p99:.1f} | {b.p50:.1f} | "
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
    args = parser.parse_args()

    today = date.today()
    rows: list[tuple[str, int, str, dict]] = []
    stock_qps: dict[tuple[int, str], float] = {}
    notes: list[str] = []
    pg = None
    if args.backend == "postgresql":
        sys.path.insert(0, str(REPO / "tests"))
        from support.servers import PostgresServer

        pg = PostgresServer().init()
        pg.start()
    try:
        for label, sizes in (("stock", args.stock_sizes), (f"ours ({args.backend})", args.sizes)):
            for n in sizes:
                with tempfile.TemporaryDirectory(prefix="vetmwl-bench-") as tmp:
                    workdir = Path(tmp)
                    built = time.monotonic()
                    server = stock(workdir, n, today) if label == "stock" else ours(workdir, n, today, args.backend, pg)
                    notes.append(
                        f"{label} N={n:,}: data built and Orthanc accepting C-FIND after "
                        f"{time.monotonic() - built:.1f} s; Orthanc start to first association "
                        f"{server.ready_seconds:.2f} s; RSS {server.rss_kib() // 1024} MiB"
                    )
                    try:
                        truth = data.truth(n, today)
                        measured = measure(server, n, today, None if label == "stock" else LIMIT, args.seconds)
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
        f"Benchmark of {date.today()} on {os.cpu_count()} cores ({cpu}), Orthanc 1.10.1, "
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
