"""Soak: 8 clients at full rate for 10 minutes; every answer count checked, memory watched.

    .venv/bin/python -m bench.soak [--minutes 10] [--clients 8] [--size 10000]

Each client process cycles through Q1-Q5 with a new association every 20 queries and checks each
answer count and final status against the generator's truth, so a lost or duplicated answer is
counted. Orthanc's resident memory is sampled every 10 s; growth is measured from the end of the
first minute (caches warm) to the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench import dataset as data
from bench.cfind import Association, encode_identifier
from bench.run import LIMIT, identifier, ours
from tests.support.runtimes import HOST


def client(port: int, queries: dict[str, tuple[bytes, int, int]], until: float, out: multiprocessing.Queue) -> None:
    sent = answers = wrong = errors = 0
    names = sorted(queries)
    association = None
    while time.time() < until:
        name = names[sent % len(names)]
        raw, expected, status_expected = queries[name]
        try:
            if association is None:
                association = Association("127.0.0.1", port, "BENCHSCP")
            got, status = association.find(raw)
            if sent % 20 == 19:
                association.release()
                association = None
        except (OSError, ValueError):
            errors += 1
            association = None
            continue
        sent += 1
        answers += got
        wrong += got != expected or status != status_expected
    if association is not None:
        association.release()
    out.put((sent, answers, wrong, errors))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--size", type=int, default=10_000)
    args = parser.parse_args()
    today = date.today()
    truth = data.truth(args.size, today)
    queries = {
        name: (
            encode_identifier(identifier(today, name)),
            min(truth[name], LIMIT),
            0xFE00 if truth[name] > LIMIT else 0,
        )
        for name in ("Q1", "Q2", "Q3", "Q4", "Q5")
        if name != "Q3"  # Q3's 1,190 answers would dominate; its cost is measured by bench/run.py
    }
    with tempfile.TemporaryDirectory(prefix="vetmwl-soak-") as tmp:
        server = ours(Path(tmp), args.size, today, "sqlite", None, HOST)
        try:
            context = multiprocessing.get_context("fork")
            out: multiprocessing.Queue = context.Queue()
            until = time.time() + args.minutes * 60
            workers = [
                context.Process(target=client, args=(server.dicom_port, queries, until, out))
                for _ in range(args.clients)
            ]
            for worker in workers:
                worker.start()
            samples = []
            while time.time() < until:
                samples.append((time.time(), server.rss_kib()))
                time.sleep(10)
            results = [out.get(timeout=120) for _ in workers]
            for worker in workers:
                worker.join()
            alive = server.process.poll() is None
            final_rss = server.rss_kib()
        finally:
            server.stop()
    sent = sum(r[0] for r in results)
    answers = sum(r[1] for r in results)
    wrong = sum(r[2] for r in results)
    errors = sum(r[3] for r in results)
    warm = next((rss for t, rss in samples if t >= samples[0][0] + 60), samples[-1][1])
    growth = (final_rss - warm) / warm * 100
    print(
        f"Soak of {date.today()}: {args.clients} clients, {args.minutes:g} min, N={args.size:,} (SQLite), "
        f"queries Q1, Q2, Q4, Q5 in turn, new association every 20 queries\n"
    )
    print(
        "| queries sent | queries/s | answers received | answers lost or extra (queries with a wrong count) "
        "| error statuses / failed associations | Orthanc alive | RSS after 1 min | RSS at end | growth |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {sent:,} | {sent / (args.minutes * 60):.0f} | {answers:,} | {wrong} | {errors} | {alive} | "
        f"{warm // 1024} MiB | {final_rss // 1024} MiB | {growth:+.1f} % |"
    )
    return 0 if wrong == 0 and errors == 0 and alive and growth < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
