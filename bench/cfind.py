"""A lean worklist C-FIND client for load tests: the DICOM upper layer, and nothing else.

pynetdicom costs about 0.45 ms of client CPU per answer and can lose the first pending answer under
parallel load; this client only frames PDUs, counts pending responses and reads the final status,
so the benchmark measures the server. It proposes Implicit VR Little Endian, like most modalities.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from io import BytesIO

from pydicom.dataset import Dataset

WORKLIST_FIND = b"1.2.840.10008.5.1.4.31"
IMPLICIT_LITTLE = b"1.2.840.10008.1.2"
APPLICATION_CONTEXT = b"1.2.840.10008.3.1.1.1"
IMPLEMENTATION_UID = b"1.2.826.0.1.3680043.10.1386.1"  # this project's client, for logs only
MAX_PDU = 1 << 20


def _item(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", kind, 0, len(payload)) + payload


def _pdu(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BBI", kind, 0, len(payload)) + payload


def _element(group: int, element: int, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\0"
    return struct.pack("<HHI", group, element, len(value)) + value


def encode_identifier(identifier: Dataset) -> bytes:
    """The identifier in Implicit VR Little Endian, encoded once per query kind."""
    buffer = BytesIO()
    identifier.save_as(buffer, implicit_vr=True, little_endian=True, enforce_file_format=False)
    return buffer.getvalue()


def _find_command(message_id: int) -> bytes:
    body = (
        _element(0x0000, 0x0002, WORKLIST_FIND)
        + _element(0x0000, 0x0100, struct.pack("<H", 0x0020))
        + _element(0x0000, 0x0110, struct.pack("<H", message_id))
        + _element(0x0000, 0x0700, struct.pack("<H", 0))
        + _element(0x0000, 0x0800, struct.pack("<H", 0x0000))
    )
    return _element(0x0000, 0x0000, struct.pack("<I", len(body))) + body


def status_of(command: bytes) -> int:
    """The Status of a response's command set."""
    offset = 0
    while offset + 8 <= len(command):
        group, element, length = struct.unpack_from("<HHI", command, offset)
        if (group, element) == (0x0000, 0x0900):
            return struct.unpack_from("<H", command, offset + 8)[0]
        offset += 8 + length
    raise ValueError("a response without a status")


class Link:
    """A raw DICOM upper-layer connection, as lean clients need it: the A-ASSOCIATE-RQ for one
    presentation context in Implicit VR Little Endian, PDUs read whole, command sets as they
    complete, and the release. The C-FIND client below and the tests' hostile MPPS client use it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""
        self._message_id = 0

    def request(self, called: str, calling: str, sop_class: bytes, max_pdu: int) -> tuple[int, bytes]:
        """Send the A-ASSOCIATE-RQ; the answer's PDU type and payload (0x02 accepted, 0x03 rejected)."""
        context = _item(0x30, sop_class) + _item(0x40, IMPLICIT_LITTLE)
        user = _item(0x51, struct.pack(">I", max_pdu)) + _item(0x52, IMPLEMENTATION_UID)
        request = (
            struct.pack(">HH", 1, 0)
            + called.encode().ljust(16)
            + calling.encode().ljust(16)
            + bytes(32)
            + _item(0x10, APPLICATION_CONTEXT)
            + _item(0x20, struct.pack(">BBBB", 1, 0, 0, 0) + context)
            + _item(0x50, user)
        )
        self.sock.sendall(_pdu(0x01, request))
        return self._read_pdu()

    def _read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self.sock.recv(max(65536, size - len(self._buffer)))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _read_pdu(self) -> tuple[int, bytes]:
        kind, _, length = struct.unpack(">BBI", self._read(6))
        return kind, self._read(length)

    def command_sets(self) -> Iterator[bytes]:
        """Each command set the peer sends, as its last fragment arrives; data set fragments are
        skipped, never decoded."""
        parts: list[bytes] = []
        while True:
            kind, payload = self._read_pdu()
            if kind != 0x04:
                raise ConnectionError(f"unexpected PDU type {kind:#04x} where P-DATA was expected")
            offset = 0
            while offset < len(payload):
                (length,) = struct.unpack_from(">I", payload, offset)
                header, data = payload[offset + 5], payload[offset + 6 : offset + 4 + length]
                offset += 4 + length
                if header & 0x01:
                    parts.append(data)
                    if header & 0x02:
                        yield b"".join(parts)
                        parts = []

    def release(self) -> None:
        try:
            self.sock.sendall(_pdu(0x05, bytes(4)))
            self._read_pdu()
        finally:
            self.sock.close()


class Association(Link):
    """One association with an SCP, for any number of C-FINDs in a row."""

    def __init__(self, host: str, port: int, called: str, calling: str = "BENCH", timeout: float = 30) -> None:
        super().__init__(socket.create_connection((host, port), timeout=timeout))
        kind, payload = self.request(called, calling, WORKLIST_FIND, MAX_PDU)
        if kind != 0x02:
            raise ConnectionError(f"association rejected (PDU type {kind:#04x})")
        if not self._context_accepted(payload[68:]):
            raise ConnectionError("the worklist presentation context was not accepted")

    @staticmethod
    def _context_accepted(items: bytes) -> bool:
        offset = 0
        while offset + 4 <= len(items):
            kind, _, length = struct.unpack_from(">BBH", items, offset)
            if kind == 0x21:
                return items[offset + 6] == 0
            offset += 4 + length
        return False

    def find(self, identifier: bytes) -> tuple[int, int]:
        """Send one C-FIND; return (number of pending answers, final status)."""
        self._message_id += 1
        command = _find_command(self._message_id)
        pdvs = _item_pdv(1, 0x03, command) + _item_pdv(1, 0x02, identifier)
        self.sock.sendall(_pdu(0x04, pdvs))
        for answers, command_set in enumerate(self.command_sets()):
            status = status_of(command_set)
            if status not in (0xFF00, 0xFF01):
                return answers, status
        raise ConnectionError("the C-FIND ended without a final status")


def _item_pdv(context_id: int, header: int, data: bytes) -> bytes:
    return struct.pack(">IBB", len(data) + 2, context_id, header) + data
