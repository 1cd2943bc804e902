"""Where the callback's time goes, per query: parse, SQL, answer building, hand-over to Orthanc.

    .venv/bin/python -m bench.breakdown [--size 10000] [--queries 200] [--orthanc host|trixie|sid]

Runs Orthanc with --verbose, sends each benchmark query many times on one association, and reads
the plugin's INFO line per C-FIND (parse=, sql=, build=, handover=, total= in milliseconds). The
medians are printed with the cost per answer of building and of Orthanc's WorklistAddAnswer.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench import dataset as data
from bench.cfind import Association, encode_identifier
from bench.run import LIMIT, identifier
from tests.support.runtimes import SUITES
from tests.support.runtimes import runtime as orthanc_runtime
from tests.support.servers import OrthancServer

LINE = re.compile(
    r"answers=(\d+).*parse=([\d.]+)ms sql=([\d.]+)ms build=([\d.]+)ms handover=([\d.]+)ms total=([\d.]+)ms"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--orthanc", choices=["host", *SUITES], default="host")
    args = parser.parse_args()
    today = date.today()
    with tempfile.TemporaryDirectory(prefix="vetmwl-breakdown-") as tmp:
        workdir = Path(tmp)
        database = workdir / "bench.sqlite"
        data.write_sqlite(database, args.size, today)
        settings = {
            "ConnectionString": f"Driver=SQLite3;Database={database}",
            "Dialect": "sqlite",
            "LimitAnswers": LIMIT,
        }
        orthanc = OrthancServer(
            workdir, settings, runtime=orthanc_runtime(args.orthanc), Name="breakdown", DicomAet="BENCHSCP"
        )
        log_path, port = orthanc.log_path, orthanc.dicom_port
        orthanc.start(timeout=60)
        try:
            results = {}
            for name in ("Q1", "Q2", "Q3", "Q4", "Q5"):
                before = log_path.read_text(errors="replace").count("handover=")
                association = Association("127.0.0.1", port, "BENCHSCP")
                raw = encode_identifier(identifier(today, name))
                for _ in range(args.queries if name != "Q3" else max(20, args.queries // 10)):
                    association.find(raw)
                association.release()
                time.sleep(0.3)
                lines = [m for m in LINE.finditer(log_path.read_text(errors="replace"))][before:]
                results[name] = lines
        finally:
            orthanc.stop()
    print(
        f"Callback time split of {date.today()}, N={args.size:,} (SQLite), medians over the queries sent; "
        f"from the plugin's own log line\n"
    )
    print(
        "| query | answers | parse ms | SQL ms | build ms | hand-over ms | callback total ms "
        "| build µs/answer | hand-over µs/answer | callback µs/answer |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, lines in results.items():
        if not lines:
            print(f"| {name} | no log lines | | | | | | | | |")
            continue
        answers = int(lines[0][1])
        med = [statistics.median(float(m[i]) for m in lines) for i in range(2, 7)]
        per = [f"{x * 1000 / answers:.1f}" if answers else "" for x in (med[2], med[3], med[4])]
        print(
            f"| {name} | {answers} | {med[0]:.2f} | {med[1]:.2f} | {med[2]:.2f} | {med[3]:.2f} | {med[4]:.2f} | "
            f"{per[0]} | {per[1]} | {per[2]} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
