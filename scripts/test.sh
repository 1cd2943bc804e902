#!/usr/bin/env bash
# Runs the whole test suite: lint, unit tests, and integration tests that start the real Orthanc,
# a SQLite database through ODBC and a PostgreSQL server of their own, queried with findscu and
# pynetdicom. Extra arguments go to pytest (e.g. scripts/test.sh -k sqlite).
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests start PostgreSQL as its own user, build Debian roots (debootstrap, chroot, mount
# namespaces) and containers: they need root.
if [ "$(id -u)" -ne 0 ]; then
  echo "test: the tests need root (they run PostgreSQL as its user, debootstrap, chroot and podman): sudo bash scripts/test.sh" >&2
  exit 1
fi
bash scripts/setup.sh --dev
source scripts/env.sh
.venv/bin/ruff check plugin tests bench
.venv/bin/ruff format --check plugin tests bench
exec .venv/bin/python -m pytest -ra "$@"
