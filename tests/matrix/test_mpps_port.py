"""The MPPS port against devices that should not use it, on every Orthanc of the matrix (issue #18):
unlisted AE titles, a listed one on the wrong host, another AE's N-SET, too many associations, a
message too large, DICOM TLS, and a random hostile fuzz. Real Orthanc with the plugin, pynetdicom's
SCU, and a raw SCU (support.mpps_wire) for what pynetdicom cannot send.

Other loopback addresses (127.0.0.2, 127.0.0.3) are other hosts to the SCP: Linux routes all of
127/8 to the loopback interface, and the roots of the matrix share the host's network.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydicom.dataset import Dataset

from support import mpps
from support.mpps import CALLING_AET_NOT_RECOGNISED, LOCAL_LIMIT_EXCEEDED, NoAnswer
from support.mpps_wire import N_CREATE_RQ, N_SET_RQ, RawMpps, Trickle
from support.runtimes import Runtime
from support.servers import OrthancServer, free_port, plugin_settings
from support.tls import Pki, client_context, make_pki

#: Listed in DicomModalities with its Host; DX_ROOM9 and CT_ROOM are allowed but not listed there.
ALLOWED = ["DX_ROOM1", "DX_ROOM9", "CT_ROOM", "FARAWAY"]
MODALITIES = {
    "xray": ["DX_ROOM1", "127.0.0.1", 104],
    "far": {"AET": "FARAWAY", "Host": "192.0.2.1", "Port": 104},
}
MAX_MESSAGE = 1 << 20
EVERY_STATUS = ["SCHEDULED", "ARRIVED", "READY", "IN PROGRESS", "COMPLETED", "DISCONTINUED"]


def get(orthanc: OrthancServer, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{orthanc.http_port}{path}", timeout=10) as response:
        body = response.read()
    return json.loads(body) if path != "/sql-worklist/metrics" else body.decode()


def step(orthanc: OrthancServer, uid: str) -> dict[str, Any] | None:
    try:
        return get(orthanc, f"/sql-worklist/steps/{uid}")  # type: ignore[no-any-return]
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def metric(orthanc: OrthancServer, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(get(orthanc, "/sql-worklist/metrics")):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def until(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.1)


def refusal(port: int, aet: str, **options: Any) -> tuple[int, int, int] | None:
    """The A-ASSOCIATE-RJ an association gets; None when accepted (it then answers a C-ECHO)."""
    try:
        with mpps.session(port, aet, **options) as modality:
            assert modality.echo() == 0
    except NoAnswer as refused:
        assert refused.rejection is not None, refused
        return refused.rejection
    return None


def started(sps_id: str, accession: str = "", study: str = "1.2.826.0.1.3680043.10.543.9") -> Dataset:
    return mpps.in_progress(sps_id, accession or f"ACC-{sps_id}", study)


@pytest.fixture(scope="module")
def guarded(
    orthanc_runtime: Runtime, sqlite_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OrthancServer, int]]:
    """The runtime's Orthanc with the MPPS port on 127.0.0.1, small limits, and modalities with Hosts."""
    port = free_port()
    settings = plugin_settings(
        sqlite_db,
        "sqlite",
        Mpps=mpps.scp(port, ALLOWED, MaxAssociations=4, MaxAssociationsPerHost=2, MaxMessageSize=MAX_MESSAGE),
        Modalities={"DESK": {"Statuses": EVERY_STATUS}},
    )
    workdir = tmp_path_factory.mktemp(f"mpps-port-{orthanc_runtime.name}")
    with OrthancServer(workdir, settings, runtime=orthanc_runtime, DicomModalities=MODALITIES) as orthanc:
        yield orthanc, port
    assert orthanc.exit_status == 0, orthanc.log()[-3000:]


def test_strangers_are_refused_and_only_the_creator_changes_a_step(guarded: tuple[OrthancServer, int]) -> None:
    orthanc, port = guarded
    status, uid, _ = mpps.n_create(port, started("GUARD1"))
    assert status == 0
    before = step(orthanc, uid)
    assert before is not None and before["status"] == "IN PROGRESS"

    # An unlisted AE title, a listed one from the wrong host, and one whose Host is elsewhere.
    assert refusal(port, "INTRUDER") == CALLING_AET_NOT_RECOGNISED
    assert refusal(port, "DX_ROOM1", source="127.0.0.2") == CALLING_AET_NOT_RECOGNISED
    assert refusal(port, "FARAWAY") == CALLING_AET_NOT_RECOGNISED
    # An allowed AE title that did not create the step may not finish it.
    status, comment = mpps.n_set(port, uid, mpps.completed(), aet="DX_ROOM9")
    assert (status, comment) == (0x0124, "Not authorized: another AE created this step")
    assert step(orthanc, uid) == before

    log = orthanc.log()
    assert "rejected an association from 'INTRUDER' at 127.0.0.1" in log
    assert "'DX_ROOM1' at 127.0.0.2" in log and "gives DX_ROOM1 the Host 127.0.0.1" in log
    assert "'FARAWAY' at 127.0.0.1" in log and "the Host 192.0.2.1" in log
    assert f"N-SET for performed step {uid} from 'DX_ROOM9' at 127.0.0.1, which 'DX_ROOM1'" in log

    assert mpps.n_set(port, uid, mpps.completed())[0] == 0  # the creator may
    after = step(orthanc, uid)
    assert after is not None and after["status"] == "COMPLETED"
    # A date range where one date is meant: refused, nothing recorded.
    ranged = started("GUARD2")
    ranged.PerformedProcedureStepStartDate = "20260101-20261231"
    status, ranged_uid, comment = mpps.n_create(port, ranged, uid="1.2.826.0.1.3680043.10.543.77")
    assert (status, comment) == (0x0106, "Invalid value: PerformedProcedureStepStartDate")
    assert step(orthanc, "1.2.826.0.1.3680043.10.543.77") is None and ranged_uid == "1.2.826.0.1.3680043.10.543.77"


def test_associations_beyond_the_limits_are_refused_while_a_modality_gets_through(
    guarded: tuple[OrthancServer, int],
) -> None:
    orthanc, port = guarded
    with contextlib.ExitStack() as held:
        for _ in range(2):  # one address takes its MaxAssociationsPerHost ...
            held.enter_context(mpps.session(port, "DX_ROOM9", source="127.0.0.2"))
        assert refusal(port, "DX_ROOM9", source="127.0.0.2") == LOCAL_LIMIT_EXCEEDED
        idle = [  # ... and connections that never ask for an association
            held.enter_context(socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0)))
            for _ in range(2)
        ]
        with mpps.session(port, "DX_ROOM1") as modality:  # the X-ray room still gets through
            status, uid, _ = modality.n_create(started("LIMIT1"))
            assert status == 0 and modality.n_set(uid, mpps.completed())[0] == 0
            held.enter_context(mpps.session(port, "CT_ROOM", source="127.0.0.3"))  # the 4th: MaxAssociations
            assert refusal(port, "CT_ROOM", source="127.0.0.3") == LOCAL_LIMIT_EXCEEDED
        assert len(idle) == 2
    until(lambda: refusal(port, "CT_ROOM", source="127.0.0.3") is None)  # places free again
    log = orthanc.log()
    assert 'from 127.0.0.2 are open, as many as "SqlWorklist.Mpps.MaxAssociationsPerHost" (2)' in log
    assert 'associations are open, as many as "SqlWorklist.Mpps.MaxAssociations" (4)' in log
    assert step(orthanc, uid)["status"] == "COMPLETED"  # type: ignore[index]


def test_an_oversized_message_is_refused_without_orthanc_growing(guarded: tuple[OrthancServer, int]) -> None:
    orthanc, port = guarded
    assert mpps.n_create(port, started("SIZE1"))[0] == 0  # warm: pynetdicom and pydicom loaded and used
    baseline = orthanc.rss_kib()
    for _ in range(3):  # 64 MB each, the SCP keeps 1 MB of it at most
        sender = RawMpps(port, "DX_ROOM1")
        sent = sender.stream(None, 64 << 20, b"\x10\x00\x10\x00\x08\x00\x00\x00GARBAGE!")
        sender.close()
        assert sent < 64 << 20, "the SCP read the whole message"
    liar = RawMpps(port, "DX_ROOM1")
    liar.sock.sendall(b"\x04\x00\xff\xff\xff\xf0" + bytes(65536))  # a P-DATA PDU that claims 4 GB
    with pytest.raises(ConnectionError):
        liar.response()
    liar.close()
    growth = orthanc.rss_kib() - baseline
    assert growth < 4096, f"Orthanc grew by {growth} KiB"
    log = orthanc.log()
    assert f'one message passed {MAX_MESSAGE} bytes, the most "SqlWorklist.Mpps.MaxMessageSize" allows' in log
    assert "of 4294967280 bytes, more than the 16384 this SCP accepts" in log
    assert mpps.echo(port) == 0 and orthanc.alive()


def test_peers_that_send_a_byte_now_and_then_are_cut_and_free_their_places(
    orthanc_runtime: Runtime, sqlite_db: str, tmp_path: Path
) -> None:
    """Each byte within the timeout of one read, no PDU ever whole: before the association (the
    whole setup has AcseTimeout), and inside one (each PDU has NetworkTimeout)."""
    port = free_port()
    scp = mpps.scp(port, ALLOWED, AcseTimeout=1, NetworkTimeout=1, MaxAssociations=4, MaxAssociationsPerHost=1)
    with OrthancServer(
        tmp_path / "orthanc", plugin_settings(sqlite_db, "sqlite", Mpps=scp), runtime=orthanc_runtime
    ) as orthanc:
        address = ("127.0.0.1", port)
        request = b"\x01\x00" + struct.pack(">I", 60_000)  # an A-ASSOCIATE-RQ of 60,000 bytes, a byte at a time
        slow = [Trickle(socket.create_connection(address, source_address=("127.0.0.2", 0)), request) for _ in "12"]
        slow.append(Trickle(RawMpps(port, "DX_ROOM1").sock, b"\x04\x00" + struct.pack(">I", 1000)))  # a P-DATA-TF
        try:
            with socket.create_connection(address, source_address=("127.0.0.2", 0)) as third:
                third.settimeout(5)
                assert third.recv(1) == b""  # 127.0.0.2 has its two places (twice MaxAssociationsPerHost)
            cuts = [peer.closed_after(5) for peer in slow]
            assert all(cut is not None and cut < 3 for cut in cuts), cuts
        finally:
            for peer in slow:
                peer.stop()
        until(lambda: refusal(port, "DX_ROOM9", source="127.0.0.2") is None, seconds=5)  # its places are free
        log = orthanc.log()
        assert "closed a connection from 127.0.0.2: it did not become an association within" in log
        assert '"SqlWorklist.Mpps.AcseTimeout" (1 s)' in log
        assert "aborted the association from 'DX_ROOM1' at 127.0.0.1: it sends too slowly" in log
        assert '"SqlWorklist.Mpps.NetworkTimeout" (1 s)' in log
    assert orthanc.exit_status == 0, orthanc.log()[-3000:]


# -- a random hostile fuzz -----------------------------------------------------------------------------
ROOT = {
    "PerformedProcedureStepID": ("SH", [b"PPS1", b""]),
    "PerformedStationAETitle": ("AE", [b"DX_ROOM9", b""]),
    "PerformedStationName": ("SH", [b"Room 9"]),
    "PerformedLocation": ("SH", [b"Clinic"]),
    "PerformedProcedureStepStartDate": ("DA", [b"20261207", b""]),
    "PerformedProcedureStepStartTime": ("TM", [b"101500", b"101500.123456"]),
    "PerformedProcedureStepEndDate": ("DA", [b"20261207", b""]),
    "PerformedProcedureStepEndTime": ("TM", [b"103000", b""]),
    "PerformedProcedureStepStatus": ("CS", [b"IN PROGRESS", b"COMPLETED", b"DISCONTINUED"]),
    "PerformedProcedureStepDescription": ("LO", [b"Thorax LL"]),
    "Modality": ("CS", [b"DX", b"CR"]),
    "StudyID": ("SH", [b"S1"]),
    "PatientName": ("PN", [b"Garc\xc3\xada^Luna", b"Rex"]),
    "PatientID": ("LO", [b"000004"]),
    "PatientBirthDate": ("DA", [b"20200101"]),
    "PatientSex": ("CS", [b"F", b"M"]),
    "CommentsOnThePerformedProcedureStep": ("ST", [b"moved twice"]),
    "PatientWeight": ("DS", [b"12.5"]),
}
SCHEDULED = {
    "StudyInstanceUID": ("UI", [b"1.2.826.0.1.3680043.10.543.9"]),
    "AccessionNumber": ("SH", [b"FUZZ1", b""]),
    "ScheduledProcedureStepID": ("SH", [b"FUZZSPS", b""]),
    "RequestedProcedureID": ("SH", [b"RP1", b""]),
}
SERIES = {
    "ProtocolName": ("LO", [b"Thorax"]),
    "SeriesInstanceUID": ("UI", [b"1.2.826.0.1.3680043.10.543.9.1"]),
    "RetrieveAETitle": ("AE", [b""]),
}
REFERENCE = {
    "ReferencedSOPClassUID": ("UI", [b"1.2.840.10008.5.1.4.1.1.1.1"]),
    "ReferencedSOPInstanceUID": ("UI", [b"1.2.826.0.1.3680043.10.543.9.1.1"]),
}
TAGS = {
    "PerformedProcedureStepID": 0x00400253, "PerformedStationAETitle": 0x00400241, "PerformedStationName": 0x00400242,
    "PerformedLocation": 0x00400243, "PerformedProcedureStepStartDate": 0x00400244,
    "PerformedProcedureStepStartTime": 0x00400245, "PerformedProcedureStepEndDate": 0x00400250,
    "PerformedProcedureStepEndTime": 0x00400251, "PerformedProcedureStepStatus": 0x00400252,
    "PerformedProcedureStepDescription": 0x00400254, "Modality": 0x00080060, "StudyID": 0x00200010,
    "PatientName": 0x00100010, "PatientID": 0x00100020, "PatientBirthDate": 0x00100030, "PatientSex": 0x00100040,
    "CommentsOnThePerformedProcedureStep": 0x00400280, "PatientWeight": 0x00101030,
    "StudyInstanceUID": 0x0020000D, "AccessionNumber": 0x00080050, "ScheduledProcedureStepID": 0x00400009,
    "RequestedProcedureID": 0x00401001, "ProtocolName": 0x00181030, "SeriesInstanceUID": 0x0020000E,
    "RetrieveAETitle": 0x00080054, "ReferencedSOPClassUID": 0x00081150, "ReferencedSOPInstanceUID": 0x00081155,
    "ScheduledStepAttributesSequence": 0x00400270, "PerformedSeriesSequence": 0x00400340,
    "ReferencedImageSequence": 0x00081140, "ReferencedStudySequence": 0x00081110,
}  # fmt: skip
MAX_LENGTH = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "PN": 64, "UI": 64, "DS": 16, "DA": 8, "TM": 16, "ST": 1024}
#: Every status the SCP may answer (PS3.4 F.7.2, PS3.7 C); anything else is a bug.
VALID = {0x0000, 0x0105, 0x0106, 0x0110, 0x0111, 0x0112, 0x0117, 0x0120, 0x0121, 0x0124, 0x0213}
FUZZ_MESSAGES = 800


def hostile(vr: str, good: list[bytes], rng: random.Random) -> bytes:
    """A value broken the ways devices break them (or, now and then, another good one)."""
    value = rng.choice(good) or b"X"
    kind = rng.randrange(9)
    if kind == 0:
        return rng.choice(good)
    if kind == 1:  # control characters
        at = rng.randrange(len(value) + 1)
        return value[:at] + bytes([rng.choice([0, 1, 9, 10, 13, 27, 0x7F])]) + value[at:]
    if kind == 2:  # non-ASCII bytes, whatever the character set says
        return value + bytes(rng.randrange(0x80, 0x100) for _ in range(rng.randrange(1, 6)))
    if kind == 3:  # several values
        return b"\\".join(rng.choice(good) or b"A" for _ in range(rng.randrange(2, 4)))
    if kind == 4:  # over the VR's maximum length, sometimes far over
        limit = MAX_LENGTH.get(vr, 64) + rng.choice([1, 50, 5000])
        return (value * (limit // len(value) + 1))[:limit]
    if kind == 5:  # ranges and wildcards, which only queries take
        return rng.choice([value + b"-" + value, b"-" + value, value + b"-", b"*", b"?" + value[1:]])
    if kind == 6:
        return rng.choice([b"'; DROP TABLE vetmwl_performed_step; --", b"\x00" * 8, b"\xff\xfe", b""])
    return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))


def element(tag: int, value: bytes, rng: random.Random, lie: float) -> bytes:
    if len(value) % 2:
        value += b" "
    length = len(value)
    if rng.random() < lie:  # a length that lies
        length = rng.choice([length + 2, max(length - 2, 0), 0xFFFFFFF0])
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, length) + value


def sequence(tag: int, items: list[bytes], rng: random.Random, lie: float) -> bytes:
    if rng.random() < 0.5:
        body = b"".join(
            struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + i + struct.pack("<HHI", 0xFFFE, 0xE00D, 0) for i in items
        )
        end = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0) if rng.random() >= lie else b""  # no delimiter
        return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, 0xFFFFFFFF) + body + end
    body = b"".join(struct.pack("<HHI", 0xFFFE, 0xE000, len(i)) + i for i in items)
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(body)) + body


class Maker:
    """The data sets of one message: good values, but for ``broken`` of them (hostile values,
    dropped attributes, lying lengths and missing delimiters share the damage)."""

    def __init__(self, rng: random.Random, broken: int) -> None:
        self.rng = rng
        self.odds = min(1.0, broken / 25)

    def attributes(self, table: dict[str, tuple[str, list[bytes]]]) -> dict[int, bytes]:
        rng, parts = self.rng, {}
        for name, (vr, good) in table.items():
            if rng.random() < self.odds / 3:
                continue  # left out
            value = hostile(vr, good, rng) if rng.random() < self.odds else good[0]
            parts[TAGS[name]] = element(TAGS[name], value, rng, self.odds / 20)
        return parts

    def items(self, tag: str, table: dict[str, tuple[str, list[bytes]]], count: int) -> bytes:
        found = [self.attributes(table) for _ in range(count)]
        return sequence(TAGS[tag], [b"".join(i[t] for t in sorted(i)) for i in found], self.rng, self.odds / 10)

    def dataset(self, creating: bool) -> bytes:
        """An N-CREATE's attribute list, or an N-SET's (status, end, series)."""
        rng = self.rng
        table = ROOT if creating else {k: ROOT[k] for k in ROOT if "End" in k or "Status" in k or "Comments" in k}
        parts = self.attributes(table)
        if not creating and TAGS["PerformedProcedureStepStatus"] in parts and rng.random() < 0.5:
            parts[TAGS["PerformedProcedureStepStatus"]] = element(0x00400252, b"IN PROGRESS", rng, 0)
        if rng.random() < 0.3:
            charset = rng.choice([b"ISO_IR 192", b"ISO_IR 100", b"ISO_IR 999", b""])
            parts[0x00080005] = element(0x00080005, charset, rng, 0)
        if creating or rng.random() < self.odds / 4:  # Not allowed in an N-SET
            count = rng.choice([1, 1, 1, 2, 3]) if rng.random() > self.odds / 3 else 0
            parts[TAGS["ScheduledStepAttributesSequence"]] = self.items(
                "ScheduledStepAttributesSequence", SCHEDULED, count
            )
        if rng.random() < 0.6:
            series = []
            for _ in range(rng.choice([0, 1, 2])):
                item = self.attributes(SERIES)
                item[TAGS["ReferencedImageSequence"]] = self.items(
                    "ReferencedImageSequence", REFERENCE, rng.randrange(0, 4)
                )
                series.append(b"".join(item[t] for t in sorted(item)))
            parts[TAGS["PerformedSeriesSequence"]] = sequence(TAGS["PerformedSeriesSequence"], series, rng, 0)
        if rng.random() < 0.1:  # a private element, or a public one no dictionary knows
            tag = rng.choice([0x00091010, 0x00291001, 0x00400FFE])
            parts[tag] = element(tag, hostile("LO", [b"ACME"], rng), rng, 0)
        if rng.random() < self.odds / 10:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))  # no data set at all
        return b"".join(parts[t] for t in sorted(parts))


def test_a_random_hostile_mpps_fuzz_gets_deliberate_answers(guarded: tuple[OrthancServer, int]) -> None:
    orthanc, port = guarded
    legit = []
    for n in range(3):
        status, uid, _ = mpps.n_create(port, started(f"KEEP{n}"))
        assert status == 0
        legit.append(uid)
    kept = {uid: step(orthanc, uid) for uid in legit}
    internal = metric(orthanc, "vetmwl_mpps_messages_total", outcome="internal")
    failed = metric(orthanc, "vetmwl_mpps_messages_total", outcome="failed")
    rng = random.Random(20261207)
    statuses: dict[int, int] = {}
    mine: list[str] = []
    aborted = 0
    sender = RawMpps(port, "DX_ROOM9")
    for n in range(FUZZ_MESSAGES):
        creating = rng.random() < 0.55
        if creating:
            fresh = f"1.2.826.0.1.3680043.10.543.{n}.1"
            uid = rng.choice([None, None, None, fresh, fresh, fresh, rng.choice(legit), "1.2.abc", "", "9" * 70])
        else:
            uid = rng.choice([*mine[-5:], rng.choice(legit), "1.2.826.0.1.3680043.10.543.404"] if mine else legit)
        body = Maker(rng, rng.choice([0, 0, 1, 1, 2, 3, 5, 8])).dataset(creating)
        try:
            status = sender.send(N_CREATE_RQ if creating else N_SET_RQ, uid, body)
        except (ConnectionError, OSError):
            # pynetdicom aborts over a command set it cannot read (a UID longer than a UI takes),
            # before the plugin sees the message; every other message gets a status.
            assert uid is not None and len(uid) > 64, f"message {n} got no answer: {uid!r} {body[:200]!r}"
            aborted += 1
            sender.close()
            sender = RawMpps(port, "DX_ROOM9")
            continue
        statuses[status] = statuses.get(status, 0) + 1
        assert status in VALID, f"message {n}: status {status:#06x} for {body[:200]!r}"
        if creating and status == 0 and uid:
            mine.append(uid)
    sender.release()
    print(f"statuses { ({f'{s:#06x}': c for s, c in sorted(statuses.items())}) }, aborted {aborted}")
    assert statuses.get(0, 0) > FUZZ_MESSAGES // 20 and sum(statuses.values()) - statuses.get(0, 0) > FUZZ_MESSAGES // 2
    assert metric(orthanc, "vetmwl_mpps_messages_total", outcome="internal") == internal
    assert metric(orthanc, "vetmwl_mpps_messages_total", outcome="failed") == failed
    assert {uid: step(orthanc, uid) for uid in legit} == kept  # the others' steps, untouched
    assert orthanc.alive() and mpps.echo(port) == 0
    log = orthanc.log()
    assert aborted > 0 and "pynetdicom cannot read its message's command set" in log
    assert "Traceback" not in log and "internal error while handling" not in log


# -- DICOM TLS -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """One set of certificates for every runtime (openssl takes a second or two to make them)."""
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_a_tls_mpps_session(orthanc_runtime: Runtime, sqlite_db: str, pki: Pki, tmp_path: Path) -> None:
    port = free_port()
    settings = plugin_settings(sqlite_db, "sqlite", Mpps=mpps.scp(port))
    with OrthancServer(tmp_path / "orthanc", settings, runtime=orthanc_runtime, **pki.orthanc()) as orthanc:
        with mpps.session(port, tls=client_context(pki)) as modality:
            status, uid, _ = modality.n_create(started("TLS1"))
            assert status == 0 and modality.n_set(uid, mpps.completed())[0] == 0
        assert step(orthanc, uid)["status"] == "COMPLETED"  # type: ignore[index]
        # DCMTK's TLS, as many modalities have it: a C-ECHO with the modality's certificate.
        echo = [
            "echoscu", "+tls", str(pki.client_key), str(pki.client_certificate), "+cf", str(pki.ca),
            "-aet", "DX_ROOM1", "-aec", "VETMWL", "-to", "10", "127.0.0.1", str(port),
        ]  # fmt: skip
        done = subprocess.run(echo, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        for stranger in (client_context(pki, own=False), None):  # an untrusted certificate; plain DICOM
            with pytest.raises(NoAnswer), mpps.session(port, tls=stranger, timeout=3):
                pass
        assert "the MPPS SCP listens on 127.0.0.1 TCP port" in orthanc.log() and "with DICOM TLS" in orthanc.log()
        assert orthanc.log().count("DICOM TLS handshake failed") >= 2
    assert orthanc.exit_status == 0, orthanc.log()[-3000:]
