"""Who may use the MPPS port, and what one peer may cost: the checks around pynetdicom's acceptor.

The SCP serves any device that reaches its port, so it decides, before any message is read:

- **Admission** (:meth:`Guard.admit`, on pynetdicom's ``EVT_REQUESTED``, before the association is
  negotiated): the calling AE title must be one of ``AllowedAETs`` (unless "*"); an AE title that
  Orthanc's ``DicomModalities`` lists must call from that modality's ``Host``, as Orthanc's
  ``DicomCheckModalityHost`` does for its own port; and at most ``MaxAssociations`` admitted
  associations at once, ``MaxAssociationsPerHost`` of them from one address. A refusal is an
  A-ASSOCIATE-RJ (permanent for who the peer is, transient for "busy") and one log line.
- **Connections** (:meth:`Guard.connection_refused`, when a TCP connection is accepted): twice the
  association limits, overall and per address, so that connections that never ask for an
  association cannot pile up threads; beyond them the connection is closed at once.
- **Bytes** (:func:`cap_pdus`, :func:`cap_messages`): pynetdicom reads a PDU of whatever length
  its header claims, and gathers a message's fragments until the last one. The socket a PDU is
  read from refuses a header that claims more than ``MaxPduSize`` (64 KiB for PDUs other than
  P-DATA) before one byte of its body is read, and the DIMSE provider drops a message, and aborts
  the association, as soon as its fragments pass ``MaxMessageSize``. Both hooks wrap methods of
  pynetdicom's per-association objects (``AssociationSocket.recv``,
  ``DIMSEServiceProvider.receive_primitive``), as pynetdicom 2 and 3 name them.
- **Time** (:func:`cap_pdus`, and the server's deadline on each connection until it is an
  association): pynetdicom's timeouts bound each read of the socket, never a whole PDU, so a peer
  could send a byte now and then and hold its connection (two threads, and a place) for good. Each
  PDU must come whole within ``NetworkTimeout`` of its first byte, or the association is aborted.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..config import MppsSettings

log = logging.getLogger("vetmwl.mpps")

#: A-ASSOCIATE-RJ (result, source, diagnostic), PS3.8 9.3.4: who the peer is, and "busy".
REJECT_CALLING_AET = (0x01, 0x01, 0x03)
REJECT_BUSY = (0x02, 0x03, 0x02)
#: The PDUs other than P-DATA-TF (an A-ASSOCIATE-RQ with every presentation context is far smaller).
OTHER_PDU_LIMIT = 65536
P_DATA_TF = 0x04
#: An A-ABORT PDU from the service provider, reason "invalid PDU parameter value" (PS3.8 9.3.8).
A_ABORT_INVALID_PARAMETER = bytes([0x07, 0x00]) + struct.pack(">I", 4) + bytes([0x00, 0x00, 0x02, 0x06])
#: A refusal is logged once per LOG_EVERY seconds for one address and reason, with how many more
#: there were since: a device that retries in a loop must not flood Orthanc's log.
LOG_EVERY = 10.0
_ADMITTED = "_vetmwl_admitted"
#: Complete requests waiting for the association's thread beyond which a new one aborts it: a
#: modality that negotiated no asynchronous operations has one outstanding at a time.
WAITING_MESSAGES = 2
#: The DUL event pynetdicom queues when it cannot read a message it received (PS3.8 Evt19).
_UNREADABLE = "Evt19"


def normal_address(address: str) -> str:
    """An IP address as Python writes it; an IPv4-mapped IPv6 address as the IPv4 one."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)


def _resolve(host: str) -> set[str]:
    """The addresses of a Host (an IP address, or a name looked up now); empty when unknown."""
    try:
        return {str(ipaddress.ip_address(host))}
    except ValueError:
        pass
    try:
        return {normal_address(str(info[4][0])) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return set()


class Guard:
    """The admission rules and counters of one SCP. ``associations`` lists the server's live
    acceptor associations (pynetdicom's threads); ``resolve`` looks a Host up (tests replace it)."""

    def __init__(
        self,
        settings: MppsSettings,
        associations: Callable[[], Iterable[Any]],
        connecting: Callable[[], Iterable[str]] = tuple,
        resolve: Callable[[str], set[str]] = _resolve,
    ) -> None:
        self.settings = settings
        self._associations = associations
        #: The addresses of connections accepted that are not an association yet (a TLS handshake).
        self._connecting = connecting
        self._resolve = resolve
        self._lock = threading.Lock()
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}

    # -- TCP connections ---------------------------------------------------------------------------
    def connection_refused(self, address: str) -> bool:
        """Whether a new TCP connection from ``address`` is one too many (and is then logged)."""
        address = normal_address(address)
        total = self.settings.max_associations * 2
        per_host = self.settings.max_associations_per_host * 2
        with self._lock:
            live = [normal_address(str(a.requestor.address or "")) for a in self._associations()]
            live += [normal_address(a) for a in self._connecting()]
            if len(live) < total and live.count(address) < per_host:
                return False
        self.warn(
            address,
            "connections",
            "the MPPS SCP closed a TCP connection from %s at once: %d connections are open (%d from that address; "
            'at most %d, %d per address: twice "MaxAssociations" and "MaxAssociationsPerHost")',
            address,
            len(live),
            live.count(address),
            total,
            per_host,
        )
        return True

    def warn(self, address: str, reason: str, message: str, *args: object) -> None:
        """Log a refusal, unless one for the same address and reason was logged within LOG_EVERY s
        (the next line then says how many were not)."""
        now = time.monotonic()
        with self._lock:
            last, count = self._logged.get((address, reason), (-LOG_EVERY, 0))
            if now - last < LOG_EVERY:
                self._logged[(address, reason)] = (last, count + 1)
                return
            self._logged[(address, reason)] = (now, 0)
            if len(self._logged) > 10_000:  # addresses seen long ago
                self._logged = {k: v for k, v in self._logged.items() if now - v[0] < LOG_EVERY}
        suffix = f" ({count} more such refusals from that address were not logged)" if count else ""
        log.warning(message + "%s", *args, suffix)

    # -- associations ------------------------------------------------------------------------------
    def admit(self, assoc: Any, calling_aet: str, address: str) -> tuple[int, int, int] | None:
        """None when the association may go on (it then counts against the limits), else the
        A-ASSOCIATE-RJ to send; each refusal is logged."""
        settings = self.settings
        address = normal_address(address)
        who = f"an association from {calling_aet!r} at {address}"
        if not settings.allows(calling_aet):
            listed = ", ".join(settings.allowed_aets) or "none"
            self.warn(
                address,
                "calling AE title",
                'the MPPS SCP rejected %s: its calling AE title is not one of "SqlWorklist.Mpps.AllowedAETs" (%s)',
                who,
                listed,
            )
            return REJECT_CALLING_AET
        hosts = settings.hosts_of(calling_aet)
        if hosts is not None and not any(address in self._resolve(host) for host in hosts):
            self.warn(
                address,
                "host",
                'the MPPS SCP rejected %s: Orthanc\'s "DicomModalities" gives %s the Host %s, and it calls from '
                "elsewhere (a device that takes another's AE title, or a modality whose address changed: "
                "correct its Host)",
                who,
                calling_aet,
                " or ".join(hosts),
            )
            return REJECT_CALLING_AET
        with self._lock:
            admitted = [
                a
                for a in self._associations()
                if a is not assoc and getattr(a, _ADMITTED, False) and not (a.is_released or a.is_aborted)
            ]
            here = [a for a in admitted if normal_address(str(a.requestor.address or "")) == address]
            if len(admitted) < settings.max_associations and len(here) < settings.max_associations_per_host:
                setattr(assoc, _ADMITTED, True)
                return None
        if len(here) >= settings.max_associations_per_host:
            reason = (
                f"{len(here)} associations from {address} are open, as many as "
                f'"SqlWorklist.Mpps.MaxAssociationsPerHost" ({settings.max_associations_per_host}) allows'
            )
        else:
            reason = (
                f'{len(admitted)} associations are open, as many as "SqlWorklist.Mpps.MaxAssociations" '
                f"({settings.max_associations}) allows"
            )
        self.warn(
            address, "busy", "the MPPS SCP is busy and rejected %s: %s; the modality may try again later", who, reason
        )
        return REJECT_BUSY


def abort_and_close(assoc_socket: Any) -> None:
    """Send the peer an A-ABORT and close the connection both ways at once: pynetdicom's own abort
    would wait for the peer to close, reading (and dropping) whatever it goes on sending. The DUL
    then reads the end of the connection and ends the association."""
    sock = getattr(assoc_socket, "socket", None)
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.sendall(A_ABORT_INVALID_PARAMETER)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class PduReader:
    """What :func:`cap_pdus` put on a socket: whether it is reading now, and a way to end that."""

    def __init__(self, assoc_socket: Any) -> None:
        self._assoc_socket = assoc_socket
        #: Inside a read (between pynetdicom's asking for bytes and their arrival).
        self.reading = False
        #: The PDU was refused or cut: every later read gets no bytes.
        self.refused = False

    def cut(self) -> None:
        """End a read under way (stopping the SCP): the connection is closed, the reader gets no bytes."""
        self.refused = True
        sock = getattr(self._assoc_socket, "socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def cap_pdus(
    assoc_socket: Any,
    max_pdu_size: int,
    describe: Callable[[], str],
    network_timeout: float,
    warn: Callable[..., None] | None = None,
    ended: Callable[[], None] | None = None,
) -> PduReader:
    """Make ``assoc_socket`` (a pynetdicom ``AssociationSocket``) refuse a PDU whose header claims
    more than it may carry, or that does not arrive whole within ``network_timeout`` seconds of its
    first byte: the peer gets an A-ABORT and the DUL reads nothing more.

    pynetdicom's DUL reads each PDU with ``recv(6)`` (type and length), then ``recv(length)``
    unless it gave up on the header; answering that second call with no bytes makes it drop the
    PDU and close the connection. Whatever the order of calls, no read may ask for more than the
    largest PDU of any type, so a header pynetdicom skipped cannot smuggle in a larger one.

    pynetdicom's own timeouts bound each read of the socket, and its timers are not checked while
    it reads: a peer that sends a byte every few seconds would hold the connection (and its two
    threads) for good. So this reads the socket itself, each read given only the time left to the
    PDU, which starts when its header is asked for (the DUL asks only once bytes have come).
    ``warn`` logs the cut (rate-limited by the caller); without it, it is logged at once. ``ended``
    is called once the connection is closed (the server wakes the association's thread with it).
    """
    reader = PduReader(assoc_socket)
    largest = max(OTHER_PDU_LIMIT, max_pdu_size)
    state: dict[str, Any] = {"header": None, "deadline": 0.0}

    def refuse(pdu_type: int | None, length: int, limit: int) -> bytearray:
        reader.refused = True
        log.warning(
            "the MPPS SCP aborted %s: it sent a PDU%s of %d bytes, more than the %d this SCP accepts "
            '("SqlWorklist.Mpps.MaxPduSize" for P-DATA, the Maximum Length it announced)',
            describe(),
            f" (type {pdu_type:02X}h)" if pdu_type is not None else "",
            length,
            limit,
        )
        close()
        return bytearray()

    def close() -> None:
        abort_and_close(assoc_socket)
        if ended is not None:
            ended()

    def too_slow(header: tuple[int, int] | None, arrived: int, wanted: int) -> bytearray:
        reader.refused = True
        if header is None:
            what = f"only {arrived} of the {wanted} bytes of a PDU's header came"
        else:
            what = f"only {6 + arrived} of the {6 + header[1]} bytes of a PDU (type {header[0]:02X}h) came"
        message = (
            "the MPPS SCP aborted %s: it sends too slowly: %s within "
            '"SqlWorklist.Mpps.NetworkTimeout" (%d s) of its first byte. The connection was closed so that a device '
            "that sends a byte now and then cannot hold one of the port's places; a very slow or failing network "
            "link, or a device that is not a modality, does this"
        )
        (warn or log.warning)(message, describe(), what, network_timeout)
        close()
        return bytearray()

    def read(nr_bytes: int, header: tuple[int, int] | None) -> bytearray:
        """``nr_bytes`` from the socket, or fewer when it closes; none when the PDU's time runs out."""
        sock = assoc_socket.socket
        data = bytearray()
        reader.reading = True
        try:
            while len(data) < nr_bytes and not reader.refused:
                left = state["deadline"] - time.monotonic()
                if left <= 0:
                    return too_slow(header, len(data), nr_bytes)
                sock.settimeout(left)
                try:
                    chunk = sock.recv(min(4096, nr_bytes - len(data)))  # pynetdicom's reads are 4096 at most too
                except TimeoutError:
                    return too_slow(header, len(data), nr_bytes)
                if not chunk:  # closed: what came, which pynetdicom finds short
                    break
                data.extend(chunk)
            return bytearray() if reader.refused else data
        finally:
            reader.reading = False
            with contextlib.suppress(OSError):
                sock.settimeout(network_timeout)  # sends (on the association's thread) wait this long again

    def capped(nr_bytes: int) -> bytearray:
        if reader.refused:
            return bytearray()
        header, state["header"] = state["header"], None
        body = header is not None and nr_bytes == header[1]  # the body of the header just read
        if body and nr_bytes > (limit := max_pdu_size if header[0] == P_DATA_TF else largest):
            return refuse(header[0], nr_bytes, limit)
        if not body and nr_bytes > largest:
            return refuse(None, nr_bytes, largest)
        if not body:  # a new PDU, whose first bytes have come
            state["deadline"] = time.monotonic() + network_timeout
        data = read(nr_bytes, header if body else None)
        if not body and nr_bytes == 6 and len(data) == 6:
            pdu_type, _, length = struct.unpack(">BBL", bytes(data))
            state["header"] = (pdu_type, length)
        return data

    assoc_socket.recv = capped
    return reader


def cap_messages(assoc: Any, max_message_size: int, describe: Callable[[], str]) -> None:
    """Make ``assoc``'s DIMSE provider drop a message, and abort the association, as soon as the
    fragments of one message (command and data set) pass ``max_message_size`` bytes: pynetdicom
    would otherwise gather them all before decoding. Nor may a peer queue messages without waiting
    for the answers (pynetdicom would keep them all): with WAITING_MESSAGES complete ones waiting,
    the next is refused the same way. It runs on the DUL's thread, as each P-DATA PDU is read."""
    dimse = assoc.dimse
    receive = dimse.receive_primitive
    state = {"bytes": 0, "refused": False}

    def refuse(message: str, *args: object) -> None:
        state["refused"] = True
        dimse.message = None  # the fragments gathered so far go now
        log.warning("the MPPS SCP aborted %s: " + message, describe(), *args)
        abort_and_close(assoc.dul.socket)

    def capped(primitive: Any) -> None:
        if state["refused"]:
            return
        if dimse.message is None and dimse.msg_queue.qsize() >= WAITING_MESSAGES:
            return refuse(
                "it sends requests without waiting for their answers (%d wait already; it may have one "
                "outstanding, as it negotiated no asynchronous operations)",
                dimse.msg_queue.qsize(),
            )
        state["bytes"] += sum(len(data) for _, data in primitive.presentation_data_value_list or ())
        if state["bytes"] > max_message_size:
            return refuse(
                'one message passed %d bytes, the most "SqlWorklist.Mpps.MaxMessageSize" allows', max_message_size
            )
        receive(primitive)
        if dimse.message is None:  # that fragment completed the message
            state["bytes"] = 0
        elif _UNREADABLE in tuple(assoc.dul.event_queue.queue):
            # pynetdicom could not make a request of the complete message and aborts the association
            # ("Evt19"), silently: say why.
            state["refused"] = True
            log.warning(
                "the MPPS SCP aborted %s: pynetdicom cannot read its message's command set (a SOP Instance UID "
                "longer than 64 characters, a missing or wrong command field): no status can be sent",
                describe(),
            )

    dimse.receive_primitive = capped
