#!/usr/bin/env bash
# Runs the whole test suite: lint, unit tests, and integration tests that start the real Orthanc,
# a SQLite database through ODBC and a PostgreSQL server of their own, queried with findscu and
# pynetdicom. Extra arguments go to pytest (e.g. scripts/test.sh -k sqlite).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
source scripts/env.sh
.venv/bin/ruff check plugin tests bench
.venv/bin/ruff format --check plugin tests bench
exec .venv/bin/python -m pytest -ra "$@"
