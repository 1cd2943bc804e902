"""A lean MPPS SCU that sends bytes exactly as given, for hostile tests: pynetdicom's SCU encodes a
pydicom Dataset, which cannot carry a wrong length, an unreadable sequence or 64 MB it never held.

:class:`RawMpps` proposes the MPPS SOP Class in Implicit VR Little Endian, sends each N-CREATE or
N-SET as a command set and the data set's bytes in P-DATA fragments of the SCP's Maximum Length,
and reads the response's Status. A rejected association raises :class:`~support.mpps.NoAnswer`
with the A-ASSOCIATE-RJ's reason; an abort or a closed connection raises ConnectionError.
:class:`Trickle` is a peer that sends a PDU a byte at a time.
"""

from __future__ import annotations

import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterable

from bench.cfind import Link, _element, _item_pdv, _pdu, status_of

from .mpps import NoAnswer

MPPS_SOP_CLASS = b"1.2.840.10008.3.1.2.3.3"
N_CREATE_RQ, N_SET_RQ = 0x0140, 0x0120
#: What this SCU announces it receives (the SCP's responses are small).
OWN_MAX_PDU = 16384


def command(field: int, message_id: int, uid: str | None, with_data: bool = True) -> bytes:
    """An N-CREATE-RQ (``uid`` None: the SCP makes one) or N-SET-RQ command set (PS3.7 10.3)."""
    class_tag = 0x0002 if field == N_CREATE_RQ else 0x0003
    elements = [
        (class_tag, _element(0x0000, class_tag, MPPS_SOP_CLASS)),
        (0x0100, _element(0x0000, 0x0100, struct.pack("<H", field))),
        (0x0110, _element(0x0000, 0x0110, struct.pack("<H", message_id & 0xFFFF))),
        (0x0800, _element(0x0000, 0x0800, struct.pack("<H", 0x0000 if with_data else 0x0101))),
    ]
    if uid is not None:
        uid_tag = 0x1000 if field == N_CREATE_RQ else 0x1001
        elements.append((uid_tag, _element(0x0000, uid_tag, uid.encode("ascii", "replace"))))
    body = b"".join(e for _, e in sorted(elements))
    return _element(0x0000, 0x0000, struct.pack("<I", len(body))) + body


class RawMpps(Link):
    """One association with an MPPS SCP, for any number of messages in a row."""

    def __init__(
        self, port: int, calling: str = "DX_ROOM1", called: str = "VETMWL", timeout: float = 10, source: str = ""
    ) -> None:
        super().__init__(
            socket.create_connection(
                ("127.0.0.1", port), timeout=timeout, source_address=(source, 0) if source else None
            )
        )
        kind, payload = self.request(called, calling, MPPS_SOP_CLASS, OWN_MAX_PDU)
        if kind == 0x03:
            self.sock.close()
            raise NoAnswer(f"the association from {calling} was rejected", tuple(payload[1:4]))  # type: ignore[arg-type]
        if kind != 0x02:
            self.sock.close()
            raise ConnectionError(f"no association (PDU type {kind:#04x})")
        self.max_pdu = self._their_max_pdu(payload[68:])

    @staticmethod
    def _their_max_pdu(items: bytes) -> int:
        offset = 0
        while offset + 4 <= len(items):
            kind, _, length = struct.unpack_from(">BBH", items, offset)
            if kind == 0x50:
                inner = items[offset + 4 : offset + 4 + length]
                position = 0
                while position + 4 <= len(inner):
                    sub, _, sub_length = struct.unpack_from(">BBH", inner, position)
                    if sub == 0x51:
                        return struct.unpack_from(">I", inner, position + 4)[0] or 1 << 20
                    position += 4 + sub_length
            offset += 4 + length
        return 16384

    def _fragments(self, data: bytes, header: int) -> Iterable[bytes]:
        """``data`` as P-DATA-TF PDUs of one PDV each, within the SCP's Maximum Length."""
        size = self.max_pdu - 6
        for start in range(0, max(len(data), 1), size):
            last = start + size >= len(data)
            yield _pdu(0x04, _item_pdv(1, header | (0x02 if last else 0), data[start : start + size]))

    def send(self, field: int, uid: str | None, dataset: bytes | None) -> int:
        """One N-CREATE (``field`` N_CREATE_RQ) or N-SET with these data set bytes; its status."""
        self._message_id += 1
        for pdu in self._fragments(command(field, self._message_id, uid, dataset is not None), 0x01):
            self.sock.sendall(pdu)
        if dataset is not None:
            for pdu in self._fragments(dataset, 0x00):
                self.sock.sendall(pdu)
        return self.response()

    def response(self) -> int:
        return status_of(next(self.command_sets()))

    def stream(self, uid: str | None, total: int, chunk: bytes) -> int:
        """An N-CREATE whose data set is ``total`` bytes of ``chunk`` repeated, made as it is sent
        (never held whole); the bytes sent before the SCP ended the connection."""
        self._message_id += 1
        for pdu in self._fragments(command(N_CREATE_RQ, self._message_id, uid), 0x01):
            self.sock.sendall(pdu)
        size = self.max_pdu - 6
        piece = (chunk * (size // len(chunk) + 1))[:size]
        sent = 0
        try:
            while sent < total:
                last = sent + size >= total
                self.sock.sendall(_pdu(0x04, _item_pdv(1, 0x02 if last else 0x00, piece)))
                sent += size
        except OSError:
            return sent
        return sent

    def close(self) -> None:
        self.sock.close()


class Trickle:
    """A peer that sends ``head`` (a PDU header, say, that claims more bytes than follow) and then
    one byte every ``every`` seconds, from a thread of its own, until the SCP closes the connection
    or :meth:`stop`: each byte arrives well within any per-read timeout, the PDU never. ``sock``
    may be a TLS socket: only the trickling thread uses it (the SCP sends nothing unasked, so
    anything to read, other than a TLS session ticket, means it is closing)."""

    def __init__(self, sock: socket.socket, head: bytes, every: float = 0.25) -> None:
        self.sock = sock
        self._every = every
        self._stop = threading.Event()
        self._closed: float | None = None
        sock.sendall(head)
        self.started = time.monotonic()
        sock.settimeout(0.05)
        self._thread = threading.Thread(target=self._run, name="test-trickle", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_byte = self.started + self._every
        while not self._stop.is_set():
            readable, _, _ = select.select([self.sock], [], [], max(0.0, next_byte - time.monotonic()))
            if readable:
                try:
                    self.sock.recv(4096)  # an A-ABORT, the end of the connection, or a reset
                except (TimeoutError, ssl.SSLWantReadError):
                    continue  # a TLS record with no data for the application (a session ticket)
                except OSError:
                    pass
                self._closed = time.monotonic()
                return
            if time.monotonic() >= next_byte:
                next_byte += self._every
                try:
                    self.sock.send(b"\x00")
                except OSError:
                    self._closed = time.monotonic()
                    return

    def closed_after(self, seconds: float) -> float | None:
        """The seconds from the head to the SCP's closing the connection; None when it is still
        open ``seconds`` after the head."""
        self._thread.join(max(0.0, self.started + seconds - time.monotonic()))
        return None if self._closed is None else self._closed - self.started

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
