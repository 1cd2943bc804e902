"""Hostile identifiers through the real Orthanc, on every Orthanc of the matrix.

The generator knows each worklist key's VR and sends, besides values that are fine for it: control
characters and non-ASCII bytes, several values, values over the VR's maximum length, ranges and
wildcards where the VR forbids them, SQL injection strings, private and unknown attributes, nested
sequences, several SPS items, and character sets declared but unused, used but undeclared, unknown
or unable to decode the bytes.

For every identifier: a final DICOM status. For every one the plugin saw (its query log, read in
batches): the outcome is "ok" or "refused", never "failed" or "internal", since the database is up.
Over the run: no connection reopened, the table unchanged byte for byte, Orthanc alive.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import struct
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.cfind import Association
from support.clients import echo
from support.runtimes import Runtime
from support.servers import OrthancServer, plugin_settings

QUERIES = 3000
BATCH = 100  # fewer than the query log's 200 entries, so no record drops out before it is read
VALID_STATUSES = {0x0000, 0xFE00, 0xA700, 0xA900, 0x0122} | set(range(0xC000, 0xD000))
TODAY = f"{date.today():%Y%m%d}"


@dataclass(frozen=True)
class Key:
    tag: int
    vr: str
    good: tuple[bytes, ...]  # values that are fine for the VR (they may still match nothing)


#: Maximum value length in bytes (PS3.5 Table 6.2-1; DA and TM as ranges in a query).
MAX_LENGTH = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "PN": 64, "UI": 64, "DS": 16, "DA": 18, "TM": 28, "LT": 10240}
ROOT_KEYS = [
    Key(0x00080050, "SH", (b"2611270001", b"26*", b"")),
    Key(0x00080090, "PN", (b"Lindqvist*", b"*", b"")),
    Key(0x00100010, "PN", (b"M\xc3\xbcller*", b"*^*", b"Garc?a^Luna", b"")),
    Key(0x00100020, "LO", (b"000004", b"0000*", b"")),
    Key(0x00100030, "DA", (b"20200101-", b"-20241231", b"20210314", b"")),
    Key(0x00100040, "CS", (b"F", b"M", b"")),
    Key(0x00101030, "DS", (b"12.5", b"")),
    Key(0x00102201, "LO", (b"Canis lupus familiaris", b"Felis*", b"")),
    Key(0x00102292, "LO", (b"Beagle", b"*", b"")),
    Key(0x00102297, "PN", (b"Garc\xc3\xada", b"")),
    Key(0x00102203, "CS", (b"ALTERED", b"")),
    Key(0x0020000D, "UI", (b"1.2.840.10008.1", b"2.25.1\\1.2.3", b"")),
    Key(0x00321060, "LO", (b"Thorax*", b"")),
    Key(0x00401001, "SH", (b"RP*", b"")),
    Key(0x00104000, "LT", (b"  comment", b"")),
    Key(0x001021C0, "US", (b"\x04\x00", b"")),
    Key(0x00080052, "CS", (b"WORKLIST", b"")),
]
STEP_KEYS = [
    Key(0x00080060, "CS", (b"DX", b"US", b"C?", b"")),
    Key(0x00400001, "AE", (b"US_ROOM1", b"DX_*", b"")),
    Key(0x00400002, "DA", (TODAY.encode(), f"{TODAY}-".encode(), b"20200101-20991231", b"")),
    Key(0x00400003, "TM", (b"0800-1200", b"-1530", b"083000", b"")),
    Key(0x00400006, "PN", (b"Vet*", b"")),
    Key(0x00400007, "LO", (b"*Thorax*", b"")),
    Key(0x00400009, "SH", (b"SPS*", b"")),
    Key(0x00400020, "CS", (b"SCHEDULED", b"READY", b"")),
]
INJECTION = [b"'; DROP TABLE worklist; --", b"' OR '1'='1", b"%' UNION SELECT * FROM worklist --", b"_%_%", b"[a-z]*"]
CHARSETS = [
    None,  # no Specific Character Set: the values are then used without being declared
    b"ISO_IR 100",
    b"ISO_IR 192",
    b"ISO_IR 144",  # declared, and mostly unused (the values are Latin or ASCII)
    b"ISO_IR 999",
    b"ISO 2022 IR 6\\ISO 2022 IR 87",
    b"\xff\xfe",
]


def hostile(key: Key, rng: random.Random) -> bytes:
    """One value for ``key``: fine for its VR, or broken in one of the ways a device breaks it."""
    good = rng.choice(key.good) or (key.good[0] if key.good[0] else b"X")
    kind = rng.randrange(11)
    if kind < 3 or kind == 10:
        return rng.choice(key.good)
    if kind == 3:  # control characters
        at = rng.randrange(len(good) + 1)
        return good[:at] + bytes([rng.choice([0, 1, 9, 10, 12, 13, 27, 0x1C, 0x1F, 0x7F])]) + good[at:]
    if kind == 4:  # non-ASCII bytes, whatever the character set says
        return good + bytes(rng.randrange(0x80, 0x100) for _ in range(rng.randrange(1, 6)))
    if kind == 5:  # several values
        return b"\\".join(rng.choice(key.good) or b"A" for _ in range(rng.randrange(2, 4)))
    if kind == 6:  # over the VR's maximum length
        limit = MAX_LENGTH.get(key.vr, 64)
        return (good * (limit // max(len(good), 1) + 2))[: limit + rng.randrange(1, 200)]
    if kind == 7:  # a range where the VR takes none, a wildcard where it takes none
        return rng.choice([good + b"-" + good, b"-" + good, good[:2] + b"*", b"?" + good[1:], b"*"])
    if kind == 8:
        return rng.choice(INJECTION)
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))


def element(tag: int, value: bytes) -> bytes:
    """Implicit VR Little Endian, as the lean client proposes."""
    if len(value) % 2:
        value += b"\0" if tag == 0x0020000D else b" "
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def sequence(tag: int, items: list[bytes], undefined: bool) -> bytes:
    if undefined:
        body = b"".join(
            struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + i + struct.pack("<HHI", 0xFFFE, 0xE00D, 0) for i in items
        )
        return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, 0xFFFFFFFF) + body + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    body = b"".join(struct.pack("<HHI", 0xFFFE, 0xE000, len(i)) + i for i in items)
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(body)) + body


def private_or_unknown(rng: random.Random) -> tuple[int, bytes]:
    if rng.random() < 0.7:  # private: a creator and one of its elements, or an element alone
        group = rng.choice([0x0009, 0x0011, 0x0029])
        if rng.random() < 0.5:
            return (group << 16) | 0x0010, b"ACME 1.0"
        return (group << 16) | rng.randrange(0x1000, 0x10FF), rng.choice([b"", b"x", b"\x01\x02"])
    return rng.choice([0x00400FFE, 0x00101FFE, 0x00320FFE]), b""  # public, but in no dictionary


def item(rng: random.Random, depth: int) -> bytes:
    parts = {k.tag: element(k.tag, hostile(k, rng)) for k in rng.sample(STEP_KEYS, rng.randrange(0, len(STEP_KEYS)))}
    if rng.random() < 0.15:
        tag, value = private_or_unknown(rng)
        parts[tag] = element(tag, value)
    if depth < 2 and rng.random() < 0.25:  # nested sequences: protocol codes, or junk nesting
        tag = rng.choice([0x00400008, 0x00400100, 0x00081110])
        parts[tag] = sequence(tag, [item(rng, depth + 1) for _ in range(rng.randrange(0, 3))], rng.random() < 0.5)
    return b"".join(parts[t] for t in sorted(parts))


def identifier(rng: random.Random) -> bytes:
    parts: dict[int, bytes] = {}
    charset = rng.choice(CHARSETS)
    if charset is not None:
        parts[0x00080005] = element(0x00080005, charset)
    for key in rng.sample(ROOT_KEYS, rng.randrange(0, 6)):
        parts[key.tag] = element(key.tag, hostile(key, rng))
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        tag, value = private_or_unknown(rng)
        parts[tag] = element(tag, value)
    if rng.random() < 0.85:
        items = [item(rng, 0) for _ in range(rng.choice([0, 1, 1, 1, 1, 2]))]
        parts[0x00400100] = sequence(0x00400100, items, rng.random() < 0.5)
    return b"".join(parts[t] for t in sorted(parts))


def get(server: OrthancServer, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}{path}", timeout=10) as response:
        return response.read()


def metric(server: OrthancServer, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(get(server, "/sql-worklist/metrics").decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    raise KeyError(name)


@pytest.fixture
def fuzz_target(orthanc_runtime: Runtime, sqlite_db: str, tmp_path: Path) -> Iterator[tuple[OrthancServer, Path]]:
    database = tmp_path / "fuzz.sqlite"
    shutil.copy(sqlite_db.split("Database=", 1)[1], database)
    settings = plugin_settings(f"Driver=SQLite3;Database={database}", "sqlite", LimitAnswers=50)
    server = OrthancServer(tmp_path / "orthanc", settings, runtime=orthanc_runtime).start(timeout=60)
    yield server, database
    server.stop()


def test_hostile_identifiers_get_deliberate_answers(fuzz_target: tuple[OrthancServer, Path]) -> None:
    server, database = fuzz_target
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    opened = metric(server, "vetmwl_database_connections_opened_total")
    assert opened <= 1
    rng = random.Random(20261130)
    statuses: dict[int, int] = {}
    outcomes: dict[str, int] = {}
    unanswered: list[bytes] = []
    seen = 0
    association = Association("127.0.0.1", server.dicom_port, server.aet, timeout=10)
    for n in range(QUERIES):
        query = identifier(rng)
        try:
            _, status = association.find(query)
        except (ConnectionError, OSError):
            unanswered.append(query[:300])  # Orthanc may abort an association over an unreadable identifier
            assert len(unanswered) <= QUERIES // 100, f"queries without any answer, e.g. {unanswered[:3]!r}"
            association = Association("127.0.0.1", server.dicom_port, server.aet, timeout=10)
            continue
        statuses[status] = statuses.get(status, 0) + 1
        assert status in VALID_STATUSES, f"query {n}: invalid status {status:#06x}: {query[:300]!r}"
        if n % BATCH == BATCH - 1 or n == QUERIES - 1:
            log = json.loads(get(server, f"/sql-worklist/queries?since={seen}"))
            for record in log["queries"]:
                outcomes[record["status"]] = outcomes.get(record["status"], 0) + 1
                assert record["status"] in ("ok", "refused"), (
                    f"the plugin's outcome was {record['status']!r} with the database up: {record['error']}; "
                    f"keys {record['keys']}, requested {record['requested']}"
                )
            seen = log["total"]
    association.release()
    assert server.alive() and echo(server.dicom_port) == 0
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    assert metric(server, "vetmwl_database_connections_opened_total") == max(opened, 1), "a connection was reopened"
    assert "reconnecting" not in server.log()
    assert metric(server, "vetmwl_cfind_queries_total", status="failed") == 0
    assert metric(server, "vetmwl_cfind_queries_total", status="internal") == 0
    # Both outcomes must really occur, or the generator is not testing anything.
    print(f"statuses { ({f'{s:#06x}': c for s, c in sorted(statuses.items())}) }, plugin outcomes {outcomes}")
    assert outcomes.get("ok", 0) > QUERIES // 10 and outcomes.get("refused", 0) > QUERIES // 10
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
def test_unreadable_identifiers_do_not_hurt_orthanc(fuzz_target: tuple[OrthancServer, Path], broken: bytes) -> None:
    """DCMTK cannot parse these, so no C-FIND status is possible; Orthanc must simply go on."""
    server, _ = fuzz_target
    association = Association("127.0.0.1", server.dicom_port, server.aet, timeout=3)
    with pytest.raises((ConnectionError, OSError)):
        association.find(broken)
    association.sock.close()
    assert server.alive() and echo(server.dicom_port) == 0
