"""The conformance suite's servers: started once per session, fed the fixture's items."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance import fixture
from support.reference import Servers


@pytest.fixture(scope="session")
def conformance_items() -> list[dict[str, Any]]:
    return fixture.items()


@pytest.fixture(scope="session")
def conformance_servers(
    conformance_items: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    """Ours, the reference Orthanc and wlmscpfs, all serving the 64 fixture items."""
    servers = Servers(tmp_path_factory.mktemp("conformance"), conformance_items).start()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="session")
def property_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Ours and the reference Orthanc on their own database, for items that change per example."""
    servers = Servers(tmp_path_factory.mktemp("properties"), fixture.items()[:1], with_dcmtk=False).start()
    try:
        yield servers
    finally:
        servers.stop()
