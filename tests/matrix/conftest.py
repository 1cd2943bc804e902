"""The compatibility matrix: each test here runs on every Orthanc users run.

``host`` is this machine's Orthanc; ``trixie`` and ``sid`` are Debian 13's and unstable's, from
roots made with debootstrap on first use (see support/runtimes.py). ``VETMWL_MATRIX=host`` (a
comma-separated list) narrows the matrix for a quick run; CI runs all three.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from support.runtimes import SUITES, Runtime, runtime
from support.servers import OrthancServer, plugin_settings

MATRIX = [name.strip() for name in os.environ.get("VETMWL_MATRIX", ",".join(["host", *SUITES])).split(",")]


@pytest.fixture(scope="session", params=MATRIX)
def orthanc_runtime(request: pytest.FixtureRequest) -> Runtime:
    """One Orthanc of the matrix (its root is built the first time it is asked for)."""
    return runtime(request.param)


@pytest.fixture(scope="session")
def demo_orthanc(
    orthanc_runtime: Runtime, sqlite_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OrthancServer]:
    """The runtime's Orthanc serving the demo schedule from SQLite."""
    workdir = tmp_path_factory.mktemp(f"orthanc-{orthanc_runtime.name}-sqlite")
    with OrthancServer(workdir, plugin_settings(sqlite_db, "sqlite"), runtime=orthanc_runtime) as server:
        yield server
