"""The MPPS SCP on a free 127.0.0.1 port with a real SQLite store, driven by pynetdicom as a
modality: a whole session, C-ECHO, calling AE titles, hostile and out-of-order messages, and a
stop that leaves no thread of pynetdicom behind."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pynetdicom.association import Association
from pynetdicom.dsutils import encode
from pynetdicom.dul import DULServiceProvider
from pynetdicom.pdu_primitives import MaximumLengthNotification

from support.mpps import (
    CALLING_AET_NOT_RECOGNISED,
    LOCAL_LIMIT_EXCEEDED,
    NoAnswer,
    completed,
    echo,
    in_progress,
    n_create,
    n_set,
    raw,
    session,
)
from support.mpps_wire import N_CREATE_RQ, RawMpps, Trickle, command
from support.servers import free_port
from support.tls import client_context, make_pki
from vetmwl.config import MppsSettings, MppsTls
from vetmwl.errors import INTERNAL, OK, REFUSED
from vetmwl.mpps import guard as guard_module
from vetmwl.mpps.guard import Guard
from vetmwl.mpps.protocol import (
    DUPLICATE_SOP_INSTANCE,
    FINAL_COMMENT,
    INVALID_ATTRIBUTE_VALUE,
    MAY_NO_LONGER_BE_UPDATED,
    MISSING_ATTRIBUTE,
    NO_SUCH_SOP_INSTANCE,
    PROCESSING_FAILURE,
    SUCCESS,
    MppsProtocol,
    Outcome,
)
from vetmwl.mpps.server import C_ECHO, MppsServer
from vetmwl.progress import COMPLETED, IN_PROGRESS, ProgressStore, Reference

STUDY_UID = "1.2.826.0.1.3680043.10.543.2"
Reports = list[tuple[str, Outcome, str, str]]


def pynetdicom_threads() -> list[threading.Thread]:
    """The threads pynetdicom runs: associations, their DUL reactors, servers and request handlers;
    and the SCP's deadlines on connections that are not associations yet."""
    return [
        t
        for t in threading.enumerate()
        if isinstance(t, Association | DULServiceProvider)
        or t.name.startswith(("AcceptorServer", "AcceptorThread", "RequestorThread", "vetmwl-mpps-setup-deadline"))
        or "process_request_thread" in t.name
    ]


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def reports() -> Reports:
    return []


@pytest.fixture
def start(store: ProgressStore, reports: Reports) -> Iterator[Callable[..., tuple[MppsServer, int]]]:
    """Starts MPPS SCPs on free ports (``allowed``: the calling AE titles); all stopped at the end,
    which must leave no pynetdicom thread."""
    started: list[MppsServer] = []

    def starter(allowed: tuple[str, ...] = (), handler: object = None, **more: Any) -> tuple[MppsServer, int]:
        """``allowed`` empty: any AE title ("*"); ``more``: other MppsSettings fields."""
        port = free_port()
        server = MppsServer(
            MppsSettings(
                True, port, "VETMWL", allowed, **{"any_aet": not allowed, "listen_address": "127.0.0.1", **more}
            ),
            handler or MppsProtocol(store),  # type: ignore[arg-type]
            lambda *report: reports.append(report),  # type: ignore[arg-type]
        )
        assert server.start() and server.listening
        started.append(server)
        return server, port

    yield starter
    for server in started:
        server.stop()
    assert pynetdicom_threads() == []


@pytest.fixture
def port(start: Callable[..., tuple[MppsServer, int]]) -> int:
    return start()[1]


def scheduled() -> Dataset:
    return in_progress("SPS1", "ACC1", STUDY_UID)


# -- a modality's session ----------------------------------------------------------------------------
def test_a_whole_session_in_progress_then_completed(port: int, store: ProgressStore, reports: Reports) -> None:
    status, uid, comment = n_create(port, scheduled())
    assert (status, comment) == (SUCCESS, "") and uid  # the SCP made the SOP Instance UID and answered it
    progress = Dataset()
    progress.PerformedProcedureStepStatus = IN_PROGRESS
    progress.CommentsOnThePerformedProcedureStep = "second view"
    assert n_set(port, uid, progress) == (SUCCESS, "")
    assert n_set(port, uid, completed(series=2)) == (SUCCESS, "")
    step = store.get(uid)
    assert step is not None
    assert (step.status, step.calling_aet, step.calling_address, step.station_aet) == (
        COMPLETED,
        "DX_ROOM1",
        "127.0.0.1",
        "DX_ROOM1",
    )
    assert step.references == (Reference("SPS1", "ACC1", STUDY_UID, "RP1"),)
    assert [(e.event, e.status) for e in step.events] == [
        ("N-CREATE", IN_PROGRESS),
        ("N-SET", IN_PROGRESS),
        ("N-SET", COMPLETED),
    ]
    assert [(op, o.status, o.outcome, o.uid, aet, address) for op, o, aet, address in reports] == [
        ("N-CREATE", SUCCESS, OK, uid, "DX_ROOM1", "127.0.0.1"),
        ("N-SET", SUCCESS, OK, uid, "DX_ROOM1", "127.0.0.1"),
        ("N-SET", SUCCESS, OK, uid, "DX_ROOM1", "127.0.0.1"),
    ]
    assert reports[-1][1].step_status == COMPLETED


def test_a_session_on_one_association_with_the_modalitys_own_uid(port: int, store: ProgressStore) -> None:
    uid = "1.2.826.0.1.3680043.10.543.200"
    with session(port, aet="US_ROOM") as modality:
        assert modality.n_create(in_progress("SPS7", "ACC7", STUDY_UID, "US_ROOM", "US"), uid) == (SUCCESS, uid, "")
        assert modality.n_set(uid, completed(series=1)) == (SUCCESS, "")
    step = store.get(uid)
    assert step is not None and (step.status, step.modality, step.calling_aet) == (COMPLETED, "US", "US_ROOM")


def test_c_echo_is_answered_and_reported(port: int, reports: Reports) -> None:
    assert echo(port, aet="CT_ROOM") == SUCCESS
    ((operation, outcome, aet, address),) = reports
    assert (operation, outcome.status, outcome.outcome, aet, address) == (C_ECHO, SUCCESS, OK, "CT_ROOM", "127.0.0.1")


def test_only_allowed_calling_ae_titles_may_associate(
    start: Callable[..., tuple[MppsServer, int]], reports: Reports, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    _, port = start(("DX_ROOM1", "US_ROOM"))
    assert echo(port, aet="US_ROOM") == SUCCESS
    with pytest.raises(NoAnswer, match="rejected"):
        n_create(port, scheduled(), aet="INTRUDER")
    assert [r[2] for r in reports] == ["US_ROOM"]
    (warning,) = [r for r in caplog.records if r.name == "vetmwl.mpps" and r.levelno == logging.WARNING]
    assert "'INTRUDER'" in warning.getMessage() and "AllowedAETs" in warning.getMessage()
    assert n_create(port, scheduled(), aet="DX_ROOM1")[0] == SUCCESS


# -- hostile and out-of-order messages ---------------------------------------------------------------
def test_hostile_and_out_of_order_messages_are_answered_and_the_server_goes_on(
    port: int, store: ProgressStore, reports: Reports
) -> None:
    uid = "1.2.826.0.1.3680043.10.543.300"
    assert n_set(port, uid, completed())[0] == NO_SUCH_SOP_INSTANCE  # N-SET before N-CREATE
    assert store.recent() == []
    assert n_create(port, scheduled(), uid)[0] == SUCCESS
    assert n_create(port, scheduled(), uid)[:3:2] == (DUPLICATE_SOP_INSTANCE, "Duplicate SOP Instance")
    status, _, comment = n_create(port, None)  # no attribute list at all
    assert status == MISSING_ATTRIBUTE and "ScheduledStepAttributesSequence" in comment
    with pytest.raises(NoAnswer), session(port, timeout=1) as modality:
        modality.n_create(Dataset())  # announces a data set, sends none: the modality gives up
    status, _, comment = n_create(port, raw(scheduled(), "PerformedStationAETitle", "X" * 200_000))  # huge value
    assert status == INVALID_ATTRIBUTE_VALUE and "PerformedStationAETitle" in comment
    assert n_create(port, raw(scheduled(), "PerformedProcedureStepStartDate", "\x00\xff garbage"))[0] == (
        INVALID_ATTRIBUTE_VALUE
    )
    status, _, _ = n_create(port, raw(scheduled(), "PatientWeight", "heavy"))  # a value nobody reads
    assert status == SUCCESS and "PatientWeight" in reports[-1][1].notes[0]
    big = scheduled()
    big.CommentsOnThePerformedProcedureStep = "x" * 1_000_000  # a huge value kept as sent
    status, big_uid, _ = n_create(port, big)
    assert status == SUCCESS and len(store.get(big_uid).attributes) > 1_000_000  # type: ignore[union-attr]
    bad_status = completed()
    bad_status.PerformedProcedureStepStatus = "FINISHED"
    assert n_set(port, uid, bad_status)[0] == INVALID_ATTRIBUTE_VALUE
    assert n_set(port, uid, completed()) == (SUCCESS, "")
    with session(port) as modality:  # N-SET after COMPLETED
        assert modality.n_set(uid, completed()) == (PROCESSING_FAILURE, FINAL_COMMENT)
        assert modality.error_id() == MAY_NO_LONGER_BE_UPDATED
    step = store.get(uid)
    assert step is not None and step.status == COMPLETED and len(step.events) == 2
    assert echo(port) == SUCCESS  # still answering
    assert {o.outcome for _, o, _, _ in reports} == {OK, REFUSED}


def test_an_association_aborted_mid_session_harms_nothing(port: int, store: ProgressStore) -> None:
    with session(port) as modality:
        status, uid, _ = modality.n_create(scheduled())
        modality.assoc.abort()
    assert status == SUCCESS and store.get(uid) is not None
    assert n_set(port, uid, completed()) == (SUCCESS, "")


def test_a_handler_that_raises_answers_processing_failure(
    start: Callable[..., tuple[MppsServer, int]], reports: Reports, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def n_create(self, *args: object) -> Outcome:
            raise RuntimeError("boom")

        n_set = n_create

    _, port = start(handler=Broken())
    assert n_create(port, scheduled())[:3:2] == (PROCESSING_FAILURE, "Processing failure: internal error (see the log)")
    assert n_set(port, "1.2.3", completed())[0] == PROCESSING_FAILURE
    assert [(op, o.outcome) for op, o, _, _ in reports] == [("N-CREATE", INTERNAL), ("N-SET", INTERNAL)]
    assert any(r.exc_info and r.name == "vetmwl.mpps" for r in caplog.records)
    assert echo(port) == SUCCESS


def test_a_report_that_raises_does_not_stop_the_answer(store: ProgressStore, caplog: pytest.LogCaptureFixture) -> None:
    def report(*args: object) -> None:
        raise RuntimeError("the metrics are broken")

    server = MppsServer(
        MppsSettings(True, free_port(), "VETMWL", any_aet=True, listen_address="127.0.0.1"), MppsProtocol(store), report
    )
    assert server.start()
    try:
        assert echo(server.settings.port) == SUCCESS
        assert n_create(server.settings.port, scheduled())[0] == SUCCESS
    finally:
        server.stop()
    assert any("report" in r.getMessage() and r.exc_info for r in caplog.records)
    assert pynetdicom_threads() == []


# -- starting and stopping ---------------------------------------------------------------------------
def test_stop_ends_every_thread_even_with_an_open_association(store: ProgressStore) -> None:
    server = MppsServer(
        MppsSettings(True, free_port(), "VETMWL", any_aet=True, listen_address="127.0.0.1"),
        MppsProtocol(store),
        lambda *a: None,
    )
    assert server.start()
    with session(server.settings.port) as modality:
        assert modality.echo() == SUCCESS
        server.stop(timeout=5)  # the modality is still associated
        assert not server.listening
        assert wait_until(lambda: not modality.assoc.is_established)  # aborted
    assert wait_until(lambda: pynetdicom_threads() == []), pynetdicom_threads()
    with pytest.raises(NoAnswer):
        echo(server.settings.port)
    server.stop()  # again: nothing to do


def test_a_port_in_use_makes_start_return_false(
    port: int, store: ProgressStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="vetmwl.mpps")
    second = MppsServer(
        MppsSettings(True, port, "OTHER", any_aet=True, listen_address="127.0.0.1"),
        MppsProtocol(store),
        lambda *a: None,
    )
    assert second.start() is False and not second.listening
    (error,) = [r for r in caplog.records if r.name == "vetmwl.mpps" and r.levelno == logging.ERROR]
    assert f"port {port}" in error.getMessage() and "worklist works on" in error.getMessage()
    second.stop()
    assert echo(port) == SUCCESS  # the first one still serves


def test_a_port_taken_by_another_program(store: ProgressStore) -> None:
    with socket.socket() as other:
        other.bind(("", 0))
        other.listen()
        taken = other.getsockname()[1]
        server = MppsServer(MppsSettings(True, taken, "VETMWL", any_aet=True), MppsProtocol(store), lambda *a: None)
        assert server.start() is False
    server.stop()
    assert pynetdicom_threads() == []


# -- who may associate, and what one peer may cost (guard.py) ----------------------------------------
Starter = Callable[..., tuple[MppsServer, int]]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "vetmwl.mpps" and r.levelno == logging.WARNING]


def refusal(port: int, aet: str = "DX_ROOM1", **options: Any) -> tuple[int, int, int] | None:
    """The A-ASSOCIATE-RJ an association gets (None: it was accepted, and answered a C-ECHO)."""
    try:
        with session(port, aet, **options) as modality:
            assert modality.echo() == SUCCESS
    except NoAnswer as refused:
        assert refused.rejection is not None, refused
        return refused.rejection
    return None


def test_no_calling_ae_title_is_allowed_unless_listed_or_star(start: Starter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    _, port = start(any_aet=False)  # what config.py never lets through: the server denies all the same
    assert refusal(port, "DX_ROOM1") == CALLING_AET_NOT_RECOGNISED
    assert "'DX_ROOM1' at 127.0.0.1" in warnings_of(caplog)[0] and "(none)" in warnings_of(caplog)[0]


def test_a_modality_of_orthanc_must_call_from_its_host(
    start: Starter, store: ProgressStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    hosts = (("DX_ROOM1", ("127.0.0.1",)), ("us_room", ("localhost",)))
    _, port = start(("DX_ROOM1", "US_ROOM", "DX_ROOM9"), modality_hosts=hosts)
    assert refusal(port, "DX_ROOM1", source="127.0.0.2") == CALLING_AET_NOT_RECOGNISED
    (warning,) = warnings_of(caplog)
    assert "'DX_ROOM1' at 127.0.0.2" in warning and "the Host 127.0.0.1" in warning
    assert refusal(port, "DX_ROOM1") is None
    assert refusal(port, "US_ROOM") is None  # a Host name, looked up; AE titles compared as Orthanc does
    assert refusal(port, "US_ROOM", source="127.0.0.2") == CALLING_AET_NOT_RECOGNISED
    assert refusal(port, "DX_ROOM9", source="127.0.0.2") is None  # not one of Orthanc's modalities
    assert store.recent() == []


def test_the_scp_listens_on_its_listen_address_only(start: Starter) -> None:
    _, port = start()
    with socket.socket() as elsewhere, pytest.raises(ConnectionRefusedError):
        elsewhere.connect(("127.0.0.2", port))
    assert echo(port) == SUCCESS


def test_associations_beyond_the_limits_are_refused_while_a_modality_gets_through(
    start: Starter, store: ProgressStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    _, port = start(max_associations=3, max_associations_per_host=2)
    with contextlib.ExitStack() as held:
        flood = [held.enter_context(session(port, "DX_ROOM9", source="127.0.0.2")) for _ in range(2)]
        assert refusal(port, "DX_ROOM9", source="127.0.0.2") == LOCAL_LIMIT_EXCEEDED  # per address
        assert "MaxAssociationsPerHost" in warnings_of(caplog)[-1] and "127.0.0.2" in warnings_of(caplog)[-1]
        raw_sockets = [held.enter_context(socket.create_connection(("127.0.0.1", port)))]  # never associates
        with session(port, "DX_ROOM1") as modality:  # the third association: a real modality's
            status, uid, _ = modality.n_create(scheduled())
            assert status == SUCCESS and store.get(uid) is not None
            assert refusal(port, "CT_ROOM", source="127.0.0.3") == LOCAL_LIMIT_EXCEEDED  # overall
            assert '"SqlWorklist.Mpps.MaxAssociations" (3)' in warnings_of(caplog)[-1]
        assert wait_until(lambda: refusal(port, "CT_ROOM", source="127.0.0.3") is None)  # a place is free again
        assert all(f.assoc.is_established for f in flood) and len(raw_sockets) == 1


def test_connections_that_never_associate_are_capped(start: Starter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    server, port = start(max_associations=4, max_associations_per_host=2)
    with contextlib.ExitStack() as held:
        address = ("127.0.0.1", port)
        idle = [held.enter_context(socket.create_connection(address, source_address=("127.0.0.2", 0))) for _ in "1234"]
        assert wait_until(lambda: server.connections == 4)
        extra = held.enter_context(socket.create_connection(address, source_address=("127.0.0.2", 0)))
        extra.settimeout(5)
        assert extra.recv(1) == b""  # closed at once: 2 x MaxAssociationsPerHost are open from there
        assert any("from 127.0.0.2 at once" in w and "4 from that address" in w for w in warnings_of(caplog))
        assert refusal(port) is None  # another address still gets through
        assert len(idle) == 4


def test_an_idle_association_and_a_stalled_pdu_end_after_the_network_timeout(start: Starter) -> None:
    server, port = start(network_timeout=1)
    with session(port) as modality:
        assert wait_until(lambda: not modality.assoc.is_established, seconds=5)  # aborted by the SCP
    with socket.create_connection(("127.0.0.1", port)) as stalled:
        stalled.sendall(b"\x01\x00" + struct.pack(">I", 1000) + b"\x00" * 10)  # an A-ASSOCIATE-RQ cut short
        stalled.settimeout(5)
        started = time.monotonic()
        answer = stalled.recv(100)  # an A-ABORT (the PDU ran out of time), and the end of the connection
        assert answer in (b"", bytes([7, 0, 0, 0, 0, 4, 0, 0, 2, 6])) and time.monotonic() - started < 4
        assert stalled.recv(100) == b""
        assert wait_until(lambda: server.connections == 0, seconds=1)  # not AcseTimeout (30 s) later
    assert echo(port) == SUCCESS


#: An A-ASSOCIATE-RQ header that claims 60,000 bytes (within the 64 KiB an A-ASSOCIATE-RQ may have).
SLOW_REQUEST = b"\x01\x00" + struct.pack(">I", 60_000)


def test_peers_that_trickle_their_association_request_are_cut_at_the_acse_timeout(
    start: Starter, caplog: pytest.LogCaptureFixture
) -> None:
    # Each byte comes well within the NetworkTimeout of one read; the whole request never does.
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    server, port = start(acse_timeout=1, network_timeout=30, max_associations=4, max_associations_per_host=1)
    address = ("127.0.0.1", port)
    slow = [Trickle(socket.create_connection(address, source_address=("127.0.0.2", 0)), SLOW_REQUEST) for _ in range(2)]
    try:
        assert wait_until(lambda: server.connections == 2)
        with socket.create_connection(address, source_address=("127.0.0.2", 0)) as third:
            third.settimeout(5)
            assert third.recv(1) == b""  # the address has its 2 x MaxAssociationsPerHost places
        for peer in slow:
            cut = peer.closed_after(4)
            assert cut is not None and cut < 2.5, cut  # AcseTimeout (1 s) and the lag of a thread
        assert wait_until(lambda: server.connections == 0), server.connections
    finally:
        for peer in slow:
            peer.stop()
    assert any(
        "closed a connection from 127.0.0.2" in w and "did not become an association" in w and "(1 s)" in w
        for w in warnings_of(caplog)
    ), warnings_of(caplog)
    assert refusal(port, source="127.0.0.2") is None  # a modality at that address gets its places back


def test_over_dicom_tls_the_handshake_and_the_request_together_are_cut_at_the_acse_timeout(
    start: Starter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    pki = make_pki(tmp_path)
    tls = MppsTls(str(pki.server_certificate), str(pki.server_key), str(pki.ca))
    server, port = start(tls=tls, acse_timeout=1, network_timeout=30)
    # A TLS record header (handshake, 512 bytes), then its body a byte at a time; and a quick
    # handshake followed by an A-ASSOCIATE-RQ a byte at a time.
    handshake = Trickle(socket.create_connection(("127.0.0.1", port)), b"\x16\x03\x01\x02\x00")
    wrapped = client_context(pki).wrap_socket(
        socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1"
    )
    request = Trickle(wrapped, SLOW_REQUEST)
    try:
        for peer in (handshake, request):
            cut = peer.closed_after(4)
            assert cut is not None and cut < 2.5, cut
        assert wait_until(lambda: server.connections == 0), server.connections
    finally:
        handshake.stop()
        request.stop()
    warnings = warnings_of(caplog)
    assert any("DICOM TLS handshake" in w and '"SqlWorklist.Mpps.AcseTimeout" (1 s)' in w for w in warnings), warnings
    assert any("did not become an association" in w for w in warnings), warnings
    with session(port, tls=client_context(pki)) as modality:
        assert modality.echo() == SUCCESS


def test_an_association_that_trickles_a_pdu_is_aborted_at_the_network_timeout(
    start: Starter, caplog: pytest.LogCaptureFixture
) -> None:
    # The idle timer restarts with each whole PDU only: a PDU sent byte by byte must not hold it.
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    server, port = start(acse_timeout=30, network_timeout=1)
    modality = RawMpps(port, "DX_ROOM1")
    peer = Trickle(modality.sock, b"\x04\x00" + struct.pack(">I", 1000))  # a P-DATA-TF of 1000 bytes, slowly
    try:
        cut = peer.closed_after(4)
        assert cut is not None and cut < 2.5, cut
        assert wait_until(lambda: server.connections == 0), server.connections
    finally:
        peer.stop()
    (warning,) = [w for w in warnings_of(caplog) if "NetworkTimeout" in w]
    assert "'DX_ROOM1' at 127.0.0.1" in warning and "(1 s)" in warning
    assert echo(port) == SUCCESS


def test_stop_ends_associations_in_the_middle_of_a_slow_pdu(start: Starter) -> None:
    server, port = start(acse_timeout=30, network_timeout=30)
    before = Trickle(socket.create_connection(("127.0.0.1", port)), SLOW_REQUEST)
    during = Trickle(RawMpps(port, "DX_ROOM1").sock, b"\x04\x00" + struct.pack(">I", 1000))
    try:
        assert wait_until(lambda: server.connections == 2)
        time.sleep(0.5)  # both are inside a PDU
        stopping = threading.Thread(target=server.stop, kwargs={"timeout": 5}, daemon=True)
        started = time.monotonic()
        stopping.start()
        stopping.join(10)
        assert not stopping.is_alive() and time.monotonic() - started < 3
        assert wait_until(lambda: pynetdicom_threads() == [], seconds=2), pynetdicom_threads()
        assert before.closed_after(1) is not None and during.closed_after(1) is not None
    finally:
        before.stop()
        during.stop()


def test_a_pdu_longer_than_the_scp_takes_aborts_before_its_body_is_read(
    start: Starter, store: ProgressStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    _, port = start(max_pdu_size=16384)
    with session(port) as modality:
        for item in modality.assoc.acceptor.user_information:  # a modality that ignores the Maximum Length
            if isinstance(item, MaximumLengthNotification):
                item.maximum_length_received = 1_000_000
        with pytest.raises(NoAnswer):
            big = scheduled()
            big.CommentsOnThePerformedProcedureStep = "x" * 100_000
            modality.n_create(big)
        assert wait_until(lambda: modality.assoc.is_aborted)
    assert "more than the 16384 this SCP accepts" in warnings_of(caplog)[-1]
    assert "'DX_ROOM1' at 127.0.0.1" in warnings_of(caplog)[-1]
    with socket.create_connection(("127.0.0.1", port)) as liar:  # a header that claims 4 GB
        liar.sendall(b"\x01\x00\xff\xff\xff\xff")
        liar.settimeout(5)
        assert liar.recv(10) == bytes([7, 0, 0, 0, 0, 4, 0, 0, 2, 6])  # A-ABORT, invalid PDU parameter value
    assert "(type 01h) of 4294967295 bytes, more than the 65536" in warnings_of(caplog)[-1]
    assert store.recent() == [] and echo(port) == SUCCESS


def test_a_message_larger_than_the_cap_is_dropped_and_the_association_aborted(
    start: Starter, store: ProgressStore, reports: Reports, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    server, port = start(max_message_size=65536)
    big = scheduled()
    big.CommentsOnThePerformedProcedureStep = "x" * 70_000
    with pytest.raises(NoAnswer), session(port, timeout=5) as modality:
        modality.n_create(big)
    assert (
        'one message passed 65536 bytes, the most "SqlWorklist.Mpps.MaxMessageSize" allows' in warnings_of(caplog)[-1]
    )
    assert store.recent() == [] and reports == []
    big.CommentsOnThePerformedProcedureStep = "x" * 60_000  # within the cap: served
    assert n_create(port, big)[0] == SUCCESS
    assert server.settings.max_message_size == 65536


def test_dicom_tls_on_the_mpps_port(
    start: Starter, store: ProgressStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    pki = make_pki(tmp_path)
    tls = MppsTls(str(pki.server_certificate), str(pki.server_key), str(pki.ca))
    _, port = start(("DX_ROOM1",), tls=tls)
    # A peer that never starts its handshake does not hold up the others.
    with socket.create_connection(("127.0.0.1", port)), session(port, tls=client_context(pki)) as modality:
        status, uid, _ = modality.n_create(scheduled())
        assert status == SUCCESS
        assert modality.n_set(uid, completed()) == (SUCCESS, "")
        assert isinstance(modality.assoc.dul.socket.socket, ssl.SSLSocket)
    step = store.get(uid)
    assert step is not None and step.status == COMPLETED
    for stranger in (client_context(pki, own=False), client_context(pki, own=None), None):  # None: plain DICOM
        with pytest.raises(NoAnswer), session(port, tls=stranger, timeout=3):
            pass
    failed = [w for w in warnings_of(caplog) if "DICOM TLS handshake failed" in w]
    assert len(failed) >= 3 and any("certificate verify failed" in w for w in failed), failed  # + the silent one
    assert store.recent()[0].uid == uid  # nothing else recorded


def test_admission_fails_closed(
    start: Starter, store: ProgressStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """pynetdicom swallows an exception in an EVT_REQUESTED handler and negotiates: the SCP must
    reject instead."""

    def broken(*args: object) -> None:
        raise RuntimeError("resolver exploded")

    _, port = start(("DX_ROOM1",))
    monkeypatch.setattr(Guard, "admit", broken)
    assert refusal(port) == LOCAL_LIMIT_EXCEEDED
    assert any(r.exc_info and "admitting an MPPS association" in r.getMessage() for r in caplog.records)
    assert store.recent() == []


def test_refusals_from_a_device_in_a_loop_do_not_flood_the_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    now = [1000.0]
    monkeypatch.setattr(guard_module.time, "monotonic", lambda: now[0])
    guard = Guard(MppsSettings(True, 4243, "VETMWL", ("DX_ROOM1",)), list)
    for _ in range(5):
        assert guard.admit(object(), "INTRUDER", "192.0.2.9") == CALLING_AET_NOT_RECOGNISED
    assert guard.admit(object(), "INTRUDER", "192.0.2.10") == CALLING_AET_NOT_RECOGNISED  # another address
    assert len(warnings_of(caplog)) == 2
    now[0] += guard_module.LOG_EVERY
    guard.admit(object(), "INTRUDER", "192.0.2.9")
    assert "(4 more such refusals from that address were not logged)" in warnings_of(caplog)[-1]


def test_tls_files_that_went_away_leave_the_worklist_working(
    store: ProgressStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pki = make_pki(tmp_path)
    tls = MppsTls(str(pki.server_certificate), str(pki.server_key), str(pki.ca))
    pki.server_key.unlink()  # after the settings were read
    server = MppsServer(MppsSettings(True, free_port(), "VETMWL", ("DX_ROOM1",), tls=tls), MppsProtocol(store), print)
    assert server.start() is False and not server.listening
    assert any("cannot use Orthanc's DICOM TLS files" in r.getMessage() for r in caplog.records)
    assert pynetdicom_threads() == []


def test_a_command_set_pynetdicom_cannot_read_is_aborted_with_a_log_line(
    start: Starter, store: ProgressStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    _, port = start(("DX_ROOM1",))
    sender = RawMpps(port, "DX_ROOM1")
    with pytest.raises(ConnectionError):
        sender.send(N_CREATE_RQ, "9" * 70, b"")  # a UID longer than a UI holds
    sender.close()
    assert "'DX_ROOM1' at 127.0.0.1: pynetdicom cannot read its message's command set" in warnings_of(caplog)[-1]
    assert store.recent() == [] and echo(port) == SUCCESS


def test_a_pdu_after_one_pynetdicom_skipped_is_still_capped(start: Starter, caplog: pytest.LogCaptureFixture) -> None:
    """pynetdicom reads no body after a header of unknown type; the PDU after it is capped all the same."""
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    _, port = start()
    with socket.create_connection(("127.0.0.1", port)) as peer:
        peer.sendall(b"\x09\x00" + struct.pack(">I", 6) + b"\x04\x00" + struct.pack(">I", 50_000_000))
        peer.settimeout(5)
        sent = 0
        with contextlib.suppress(OSError):
            while sent < 50_000_000:
                peer.sendall(bytes(65536))
                sent += 65536
    assert sent < 8 << 20, f"the SCP read {sent} bytes"
    assert wait_until(lambda: any("a PDU of 50000000 bytes, more than the 65536" in w for w in warnings_of(caplog)))
    assert echo(port) == SUCCESS


def test_requests_sent_without_waiting_for_answers_abort_the_association(
    start: Starter, store: ProgressStore, caplog: pytest.LogCaptureFixture
) -> None:
    """pynetdicom would queue every message a peer sends ahead; one modality has one outstanding."""
    caplog.set_level(logging.WARNING, logger="vetmwl.mpps")
    release = threading.Event()

    class Slow:
        def n_create(self, *args: object) -> Outcome:
            release.wait(10)
            return Outcome(PROCESSING_FAILURE, REFUSED, "slow", "")

        n_set = n_create

    _, port = start(handler=Slow())
    sender = RawMpps(port, "DX_ROOM1")
    body = encode(scheduled(), True, True)
    with contextlib.suppress(OSError):
        for n in range(1, 6):
            for pdu in sender._fragments(command(N_CREATE_RQ, n, None), 0x01):
                sender.sock.sendall(pdu)
            for pdu in sender._fragments(body, 0x00):
                sender.sock.sendall(pdu)
    assert wait_until(
        lambda: any("without waiting for their answers (2 wait already" in w for w in warnings_of(caplog))
    )
    release.set()
    sender.close()
    assert echo(port) == SUCCESS
