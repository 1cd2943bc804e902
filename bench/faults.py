"""Fault injection: a modality keeps asking while the PostgreSQL server misbehaves.

    .venv/bin/python -m bench.faults

One client sends Q5 (one station, today) every 50 ms with a new association each time and
checks every answer count. Meanwhile the script stops, freezes, restarts and slows the database
and kills its connections. For each fault it prints what the modality saw: queries sent, failure
statuses, whether and how fast the service recovered, and answers lost (a success with a wrong
count). Orthanc must stay up throughout.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench import dataset as data
from bench.cfind import Association, encode_identifier
from bench.run import Orthanc, identifier
from tests.support.runtimes import HOST
from tests.support.servers import PostgresServer

SIZE = 10_000


def modality(port: int, raw: bytes, expected: int, until: float, out: multiprocessing.Queue) -> None:
    events = []
    while time.time() < until:
        began = time.time()
        try:
            association = Association("127.0.0.1", port, "BENCHSCP", timeout=15)
            answers, status = association.find(raw)
            association.release()
        except (OSError, ValueError):
            answers, status = -1, -1
        events.append((began, time.time(), answers, status))
        time.sleep(0.05)
    out.put(events)


def cluster_pids(pg: PostgresServer) -> list[int]:
    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True)
    return [postmaster, *(int(p) for p in children.stdout.split())]


def main() -> int:
    today = date.today()
    pg = PostgresServer().init()
    pg.start()
    pg.psql("CREATE DATABASE bench")
    psql = pg.psql_command("bench")
    data.write_postgres(psql, SIZE, today)
    expected = data.truth(SIZE, today)["Q5"]
    raw = encode_identifier(identifier(today, "Q5"))

    def freeze() -> None:
        for pid in cluster_pids(pg):
            os.kill(pid, signal.SIGSTOP)

    def thaw() -> None:
        for pid in cluster_pids(pg):
            os.kill(pid, signal.SIGCONT)

    locker: list[subprocess.Popen] = []
    faults = [
        ("database stopped for 5 s", pg.stop, pg.start, 5),
        ("database frozen (SIGSTOP) for 5 s", freeze, thaw, 5),
        (
            "all database connections killed",
            lambda: pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'bench'"),
            lambda: None,
            0,
        ),
        ("database restarted", lambda: (pg.stop(), pg.start()), lambda: None, 0),
        (
            "table locked for 8 s (slow database)",
            lambda: locker.append(
                subprocess.Popen(
                    [*psql, "-c", "BEGIN; LOCK TABLE worklist IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;"],
                    stdout=subprocess.DEVNULL,
                )
            ),
            lambda: locker.pop().wait(),
            8,
        ),
    ]
    with tempfile.TemporaryDirectory(prefix="vetmwl-faults-") as tmp:
        settings = {
            "ConnectionString": pg.connection_string("bench"),
            "Dialect": "postgresql",
            "QueryTimeout": 2,
            "ConnectTimeout": 2,
        }
        server = Orthanc(Path(tmp), HOST, settings)
        context = multiprocessing.get_context("fork")
        out: multiprocessing.Queue = context.Queue()
        total = 8 + sum(5 + duration + 8 for *_, duration in faults)
        client = context.Process(target=modality, args=(server.dicom_port, raw, expected, time.time() + total, out))
        client.start()
        windows = []
        try:
            time.sleep(3)
            for name, start, end, duration in faults:
                began = time.time()
                start()
                time.sleep(duration)
                end()
                windows.append((name, began, time.time()))
                time.sleep(8)
            events = out.get(timeout=total + 60)
            client.join()
            alive = server.process.poll() is None
        finally:
            server.stop()
            pg.destroy()
    print(
        f"Faults of {date.today()}: PostgreSQL 15, N={SIZE:,}, QueryTimeout 2 s, one modality asking Q5 "
        f"({expected} answers) every 50 ms with a new association\n"
    )
    print("| fault | queries sent | failure statuses | slowest answer (s) | recovered after fault (s) | answers lost |")
    print("|---|---|---|---|---|---|")
    bad_total = 0
    for index, (name, began, ended) in enumerate(windows):
        until = windows[index + 1][1] if index + 1 < len(windows) else float("inf")
        mine = [e for e in events if began <= e[0] < until]
        failures = sum(1 for e in mine if e[3] != 0)
        lost = sum(1 for e in mine if e[3] == 0 and e[2] != expected)
        slowest = max((e[1] - e[0] for e in mine), default=0.0)
        first_ok = next((e[1] for e in mine if e[1] >= ended and e[3] == 0 and e[2] == expected), None)
        recovered = f"{max(0.0, first_ok - ended):.1f}" if first_ok else "no"
        bad_total += lost + (first_ok is None)
        print(f"| {name} | {len(mine)} | {failures} | {slowest:.1f} | {recovered} | {lost} |")
    before = [e for e in events if e[0] < windows[0][1]]
    print(
        f"\nBefore the first fault: {len(before)} queries, {sum(1 for e in before if e[3] != 0)} failures. "
        f"Orthanc alive at the end: {alive}."
    )
    return 0 if bad_total == 0 and alive else 1


if __name__ == "__main__":
    sys.exit(main())
