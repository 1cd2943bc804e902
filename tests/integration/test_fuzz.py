"""Hostile input through the real Orthanc: 10,000 generated C-FIND identifiers.

Wrong values for each tag's VR, overlong values, unknown character sets, nested sequences, several
items, private tags, binary junk, SQL injection strings and runs of wildcards. Orthanc must never
die, every query must get a valid DICOM status, and the database must not change by one byte.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import struct
import sys
from pathlib import Path

import pytest

from conftest import plugin_settings
from support.clients import echo
from support.servers import REPO, OrthancServer

sys.path.insert(0, str(REPO / "bench"))
from cfind import Association

QUERIES = 10_000
VALID_STATUSES = {0x0000, 0xFE00, 0xA700, 0xA900, 0x0122} | set(range(0xC000, 0xD000))

ROOT_TAGS = [
    0x00080050,
    0x00080090,
    0x00081030,
    0x00100010,
    0x00100020,
    0x00100030,
    0x00100040,
    0x00101030,
    0x00102201,
    0x00102292,
    0x00102297,
    0x0020000D,
    0x00321060,
    0x00401001,
    0x00080052,
    0x00102203,
    0x00104000,
]
STEP_TAGS = [0x00080060, 0x00400001, 0x00400002, 0x00400003, 0x00400006, 0x00400007, 0x00400009, 0x00400020, 0x00404005]
CHARSETS = [
    b"ISO_IR 100",
    b"ISO_IR 192",
    b"ISO_IR 144",
    b"ISO_IR 999",
    b"GB18030",
    b"ISO 2022 IR 87",
    b"\\ISO 2022 IR 149",
    b"\xff\xfe",
    b"ISO_IR 100\\ISO_IR 192",
    b"",
]
HOSTILE = [
    b"",
    b"*",
    b"?",
    b"*" * 64,
    b"?*" * 40,
    b"*^*",
    b"^",
    b"=",
    b"\\",
    b"a\\b\\c",
    b"'; DROP TABLE worklist; --",
    b"' OR '1'='1",
    b"%' UNION SELECT * FROM worklist --",
    b"_%_%",
    b"[a-z]*",
    b"\\%",
    b"\x00\x00\x00",
    b"\xff\xfe\xfd",
    "Müller*".encode("latin-1"),
    "山田*".encode(),
    b"\xe5\xb1",
    b"2026-13-45",
    b"20261301-",
    b"--",
    b"99999999",
    b"20261127-20261126",
    b"-",
    b"1.2.840.10008",
    b"20261127",
    b"0800-2500",
    b"240000",
    b"12.5",
    b"DX",
    b"x" * 300,
    b"y" * 5000,
]


def element(tag: int, value: bytes) -> bytes:
    if len(value) % 2:
        value += b" "
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def sequence(tag: int, items: list[bytes], undefined: bool) -> bytes:
    if undefined:
        body = b"".join(
            struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + i + struct.pack("<HHI", 0xFFFE, 0xE00D, 0) for i in items
        )
        return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, 0xFFFFFFFF) + body + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    body = b"".join(struct.pack("<HHI", 0xFFFE, 0xE000, len(i)) + i for i in items)
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(body)) + body


def value(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(HOSTILE)
    if roll < 0.8:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
    return "".join(rng.choice("AZaz09*?^=\\-. ßü山") for _ in range(rng.randrange(1, 40))).encode()


def item(rng: random.Random, depth: int) -> bytes:
    parts = {tag: element(tag, value(rng)) for tag in rng.sample(STEP_TAGS, rng.randrange(0, len(STEP_TAGS)))}
    if depth < 2 and rng.random() < 0.3:  # nested sequences: protocol codes, or junk nesting
        tag = rng.choice([0x00400008, 0x00400100, 0x00321064])
        parts[tag] = sequence(tag, [item(rng, depth + 1) for _ in range(rng.randrange(0, 3))], rng.random() < 0.5)
    return b"".join(parts[t] for t in sorted(parts))


def identifier(rng: random.Random) -> bytes:
    parts: dict[int, bytes] = {}
    if rng.random() < 0.5:
        parts[0x00080005] = element(0x00080005, rng.choice(CHARSETS))
    for tag in rng.sample(ROOT_TAGS, rng.randrange(0, len(ROOT_TAGS))):
        parts[tag] = element(tag, value(rng))
    for _ in range(rng.randrange(0, 3)):  # private tags, read as UN
        tag = (rng.choice([0x0009, 0x0011, 0x0029]) << 16) | rng.randrange(0x1000, 0x10FF)
        parts[tag] = element(tag, value(rng))
    if rng.random() < 0.75:
        items = [item(rng, 0) for _ in range(rng.choice([0, 1, 1, 1, 2, 3]))]
        parts[0x00400100] = sequence(0x00400100, items, rng.random() < 0.5)
    return b"".join(parts[t] for t in sorted(parts))


@pytest.fixture
def fuzz_target(sqlite_db: str, tmp_path: Path):
    database = tmp_path / "fuzz.sqlite"
    shutil.copy(sqlite_db.split("Database=", 1)[1], database)
    server = OrthancServer(
        tmp_path / "orthanc", plugin_settings(f"Driver=SQLite3;Database={database}", "sqlite", LimitAnswers=50)
    )
    server.start()
    yield server, database
    server.stop()


def test_ten_thousand_hostile_queries(fuzz_target) -> None:
    server, database = fuzz_target
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    rng = random.Random(20261127)
    statuses: dict[int, int] = {}
    aborted = 0
    unanswered: list[bytes] = []
    association = Association("127.0.0.1", server.dicom_port, server.aet, timeout=5)
    for n in range(QUERIES):
        query = identifier(rng)
        try:
            _, status = association.find(query)
        except (ConnectionError, OSError):
            aborted += 1  # Orthanc may abort an association over an unreadable identifier
            unanswered.append(query[:300])
            assert aborted <= 20, f"{aborted} queries got no answer at all, e.g. {unanswered[:3]!r}"
            association = Association("127.0.0.1", server.dicom_port, server.aet, timeout=5)
            continue
        statuses[status] = statuses.get(status, 0) + 1
        assert status in VALID_STATUSES, f"query {n}: invalid status {status:#06x}: {query[:200]!r}"
        if n % 1000 == 999:
            assert server.alive(), f"Orthanc died after {n + 1} queries"
    association.release()
    assert server.alive() and echo(server.dicom_port) == 0
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    # Both outcomes must really occur, or the generator is not testing anything.
    assert statuses.get(0x0000, 0) + statuses.get(0xFE00, 0) > QUERIES // 10
    assert sum(c for s, c in statuses.items() if 0xC000 <= s < 0xD000) > QUERIES // 10
    assert "Traceback" not in server.log().replace(
        "Error in the Python C-FIND SCP for worklist callback, traceback", ""
    )


@pytest.mark.parametrize(
    "broken",
    [
        element(0x00100010, b"x") + element(0x00400100, b"not a sequence at all"),
        struct.pack("<HHI", 0x0010, 0x0010, 5000) + b"short",
        sequence(0x00400100, [element(0x00080060, b"DX")], undefined=True)[:-8],
    ],
    ids=["junk sequence", "length past the end", "missing delimiter"],
)
def test_unreadable_identifiers_do_not_hurt_orthanc(fuzz_target, broken: bytes) -> None:
    """DCMTK cannot parse these, so no C-FIND status is possible; Orthanc must simply go on."""
    server, _ = fuzz_target
    association = Association("127.0.0.1", server.dicom_port, server.aet, timeout=3)
    with pytest.raises((ConnectionError, OSError)):
        association.find(broken)
    association.sock.close()
    assert server.alive() and echo(server.dicom_port) == 0
