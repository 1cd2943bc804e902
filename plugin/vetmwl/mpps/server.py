"""The MPPS SCP on a port of its own: pynetdicom's wiring around :class:`.protocol.MppsProtocol`.

It accepts the Modality Performed Procedure Step SOP Class (N-CREATE, N-SET) and Verification
(C-ECHO, with which modalities test their MPPS destination) on ``ListenAddress``, with DICOM TLS
when Orthanc's ``DicomTlsEnabled`` is true. Orthanc's own AE checks and TLS cover its port only:
this SCP does its own (:mod:`.guard`: allowed AE titles, their Hosts, association and byte limits).
It serves from pynetdicom's background threads; :meth:`MppsServer.stop` ends all of them, live
associations too: pynetdicom's DUL threads are not daemon threads, and one left running would keep
the embedded interpreter, and so Orthanc, from exiting.

The rules are the handler's; this module only turns requests into its calls and its
:class:`~.protocol.Outcome` into a status, and reports each message once to the caller.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import ModalityPerformedProcedureStep, Verification
from pynetdicom.transport import RequestHandler, ThreadedAssociationServer

from ..config import MppsSettings
from ..errors import INTERNAL, OK
from .guard import REJECT_BUSY, Guard, cap_messages, cap_pdus, normal_address
from .protocol import N_CREATE, N_SET, PROCESSING_FAILURE, SUCCESS, Outcome, unreadable

log = logging.getLogger("vetmwl.mpps")

C_ECHO = "C-ECHO"


class Handler(Protocol):
    """What the server needs of the rules (:class:`~.protocol.MppsProtocol` is one)."""

    def n_create(
        self, uid: str | None, attributes: Dataset | None, calling_aet: str, calling_address: str
    ) -> Outcome: ...

    def n_set(
        self, uid: str | None, modification: Dataset | None, calling_aet: str, calling_address: str
    ) -> Outcome: ...


#: Told of every message once: (operation, its outcome, calling AE title, calling address).
Report = Callable[[str, Outcome, str, str], None]


def status_dataset(outcome: Outcome) -> Dataset:
    """The response's status: Status, and on a failure its Error Comment and Error ID (PS3.7 C)."""
    status = Dataset()
    status.Status = outcome.status
    if outcome.status != SUCCESS and outcome.comment:
        status.ErrorComment = outcome.comment
    if outcome.error_id is not None:
        status.ErrorID = outcome.error_id
    return status


def _peer(event: evt.Event) -> tuple[str, str]:
    """The calling AE title and IP address of the association an event belongs to."""
    requestor = event.assoc.requestor
    return str(requestor.ae_title or "").strip(), str(requestor.address or "")


class _RequestHandler(RequestHandler):
    """pynetdicom's handler of an accepted connection, with the byte limits on its association."""

    server: _Server

    def _create_association(self) -> Association:
        assoc = super()._create_association()
        settings = self.server.guard.settings
        address = normal_address(str(self.client_address[0]))

        def describe() -> str:
            aet = str(assoc.requestor.ae_title or "").strip()
            return f"the association from {aet!r} at {address}" if aet else f"a connection from {address}"

        cap_pdus(assoc.dul.socket, settings.max_pdu_size, describe)
        cap_messages(assoc, settings.max_message_size, describe)
        return assoc


class _Server(ThreadedAssociationServer):
    """pynetdicom's threaded server, with a cap on open connections, a timeout on every socket
    (a peer that stops halfway through a PDU would hold its thread for good), and the TLS
    handshake on the connection's own thread: pynetdicom would do it on the thread that accepts,
    where one peer that never finishes it would stop the SCP accepting anyone."""

    def __init__(self, *args: Any, guard: Guard, tls: ssl.SSLContext | None, **kwargs: Any) -> None:
        self.guard = guard
        self.tls = tls
        self._handshaking: dict[socket.socket, str] = {}
        super().__init__(*args, request_handler=_RequestHandler, **kwargs)

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        assert self.socket is not None
        client, address = self.socket.accept()
        client.settimeout(self.guard.settings.network_timeout)
        return client, address

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return not self.guard.connection_refused(str(client_address[0]))

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            self._handshaking[request] = str(client_address[0])  # counted until it is an association
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            request = self._handshake(request, str(client_address[0]))
            if request is None:
                return
        super().process_request_thread(request, client_address)

    def connecting(self) -> list[str]:
        """The addresses of the connections in their TLS handshake."""
        return list(self._handshaking.values())

    def _handshake(self, raw: socket.socket, address: str) -> ssl.SSLSocket | None:
        """The TLS side of a connection, within ``AcseTimeout``; None (logged, closed) when it fails."""
        assert self.tls is not None
        try:
            raw.settimeout(self.guard.settings.acse_timeout)
            wrapped = self.tls.wrap_socket(raw, server_side=True)
            wrapped.settimeout(self.guard.settings.network_timeout)
            return wrapped
        except (OSError, ssl.SSLError, ValueError) as error:
            log.warning(
                "the MPPS SCP closed a connection from %s: its DICOM TLS handshake failed (%s). DicomTlsEnabled is "
                "true, so the MPPS port takes TLS connections only, with a certificate that "
                "DicomTlsTrustedCertificates trusts when DicomTlsRemoteCertificateRequired is true",
                normal_address(address),
                error,
            )
            self.shutdown_request(raw)
            return None
        finally:
            self._handshaking.pop(raw, None)

    def close_handshakes(self) -> None:
        """End the TLS handshakes under way, so that stopping need not wait for them."""
        for raw in list(self._handshaking):
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)


def _end_unassociated(association: Association) -> None:
    """End a connection that has not (yet) become an association: pynetdicom's thread waits up to
    AcseTimeout for its A-ASSOCIATE-RQ, and an abort does not wake it."""
    with contextlib.suppress(OSError, AttributeError):
        association.dul.socket.socket.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    association.dul.to_user_queue.put(None)  # type: ignore[arg-type]


class MppsServer:
    """The SCP's listening socket and associations, started and stopped by the Orthanc wiring."""

    def __init__(self, settings: MppsSettings, handler: Handler, report: Report) -> None:
        self.settings = settings
        self._handler = handler
        self._report = report
        self._ae: AE | None = None
        self._server: ThreadedAssociationServer | None = None

    @property
    def listening(self) -> bool:
        return self._server is not None

    @property
    def connections(self) -> int:
        """The connections open now: associations, and those not (yet) associated."""
        server = self._server
        return len(server.active_associations) + len(server.connecting()) if server is not None else 0

    def start(self) -> bool:
        """Listen on the configured address and port; whether it does. A port that is taken is
        logged, and the worklist works on without MPPS."""
        if self._server is not None:
            return True
        settings = self.settings
        ae = AE(ae_title=settings.aet)
        ae.add_supported_context(ModalityPerformedProcedureStep)
        ae.add_supported_context(Verification)
        ae.acse_timeout = settings.acse_timeout
        ae.dimse_timeout = settings.dimse_timeout
        ae.network_timeout = settings.network_timeout
        ae.maximum_pdu_size = settings.max_pdu_size
        # Admission counts the associations (guard.py); pynetdicom's own limit only backs up the
        # cap on connections, which is twice MaxAssociations.
        ae.maximum_associations = settings.max_associations * 2
        handlers: list[Any] = [
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_N_CREATE, self._on_n_create),
            (evt.EVT_N_SET, self._on_n_set),
            (evt.EVT_C_ECHO, self._on_c_echo),
            (evt.EVT_REJECTED, self._on_rejected),
        ]
        listening: list[_Server] = []
        guard = Guard(
            settings,
            lambda: listening[0].active_associations if listening else [],
            lambda: listening[0].connecting() if listening else [],
        )
        try:
            tls = settings.tls.context() if settings.tls else None
        except (OSError, ValueError) as error:  # the files changed since the settings were read
            ae.shutdown()
            log.error(
                "the MPPS SCP cannot use Orthanc's DICOM TLS files (DicomTlsCertificate, DicomTlsPrivateKey, "
                "DicomTlsTrustedCertificates): %s. Modalities cannot report performed steps until they are fixed "
                "and Orthanc restarts; the worklist works on.",
                error,
            )
            return False
        try:
            server = ae.make_server(
                (settings.listen_address, settings.port),
                evt_handlers=handlers,
                server_class=_Server,
                guard=guard,
                tls=tls,
            )
        except OSError as error:
            ae.shutdown()
            if error.errno == errno.EADDRINUSE:
                why = "another program uses it"
            elif error.errno == errno.EACCES:
                why = "Orthanc may not open it (ports below 1024 need root): choose a port above 1023"
            elif error.errno == errno.EADDRNOTAVAIL:
                why = 'no interface of this machine has that address: correct "SqlWorklist.Mpps.ListenAddress"'
            else:
                why = "the system refused it"
            log.error(
                "the MPPS SCP cannot listen on %s TCP port %d (%s): %s. Modalities cannot report performed steps "
                'until "SqlWorklist.Mpps.Port" names a port it can use and Orthanc restarts; the worklist works on.',
                settings.listen_address,
                settings.port,
                error.strerror or error,
                why,
            )
            return False
        listening.append(server)
        ae._servers.append(server)  # as AE.start_server does, so that AE.shutdown() stops it
        thread = threading.Thread(target=server.serve_forever, name=f"AcceptorServer@vetmwl-mpps-{settings.port}")
        thread.daemon = True
        thread.start()
        self._ae, self._server = ae, server
        allowed = ", ".join(settings.allowed_aets) or "no calling AE title"
        if settings.any_aet:
            allowed = 'any calling AE title (AllowedAETs is "*")'
        log.info(
            "the MPPS SCP listens on %s TCP port %d%s as AE title %s; accepts %s; at most %d associations (%d per "
            "address), PDUs of %d bytes and messages of %d bytes; timeouts %d s (ACSE), %d s (DIMSE), %d s (idle)",
            settings.listen_address,
            settings.port,
            " with DICOM TLS" if settings.tls else "",
            settings.aet,
            allowed,
            settings.max_associations,
            settings.max_associations_per_host,
            settings.max_pdu_size,
            settings.max_message_size,
            settings.acse_timeout,
            settings.dimse_timeout,
            settings.network_timeout,
        )
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and end every association and thread of the SCP, waiting ``timeout``
        seconds at most for those busy with a message."""
        ae, server, self._ae, self._server = self._ae, self._server, None, None
        if ae is None:
            return
        if server is not None:
            server.close_handshakes()
            for association in server.active_associations:
                if not association.is_established:
                    _end_unassociated(association)
        ae.shutdown()  # closes the socket and aborts the live associations
        associations = ae.active_associations
        for association in associations:
            association.abort()  # one that was being accepted while the socket closed
        deadline = time.monotonic() + timeout
        for association in associations:
            for thread in (association, association.dul):
                thread.join(max(0.0, deadline - time.monotonic()))
        left = [a for a in associations if a.is_alive() or a.dul.is_alive()]
        if left:
            log.warning("the MPPS SCP stopped, but %d association(s) did not end within %.0f s", len(left), timeout)
        else:
            log.info("the MPPS SCP has stopped")

    # -- pynetdicom's events -----------------------------------------------------------------------
    def _on_n_create(self, event: evt.Event) -> tuple[Dataset, Dataset | None]:
        calling_aet, address = _peer(event)
        uid = event.request.AffectedSOPInstanceUID
        outcome = self._outcome(
            N_CREATE, uid, lambda attributes: self._handler.n_create(uid, attributes, calling_aet, address), event
        )
        self._tell(N_CREATE, outcome, calling_aet, address)
        reply = None
        if outcome.status == SUCCESS and outcome.assigned_uid:
            reply = Dataset()
            reply.AffectedSOPInstanceUID = outcome.uid  # pynetdicom moves it into the response (PS3.7 10.1.5.1.4)
        return status_dataset(outcome), reply

    def _on_n_set(self, event: evt.Event) -> tuple[Dataset, None]:
        calling_aet, address = _peer(event)
        uid = event.request.RequestedSOPInstanceUID
        outcome = self._outcome(
            N_SET, uid, lambda modification: self._handler.n_set(uid, modification, calling_aet, address), event
        )
        self._tell(N_SET, outcome, calling_aet, address)
        return status_dataset(outcome), None

    def _on_c_echo(self, event: evt.Event) -> int:
        calling_aet, address = _peer(event)
        self._tell(C_ECHO, Outcome(SUCCESS, OK, "verification (C-ECHO) answered", ""), calling_aet, address)
        return SUCCESS

    def _on_requested(self, event: evt.Event) -> None:
        """Admit or reject an association before it is negotiated (guard.py says which)."""
        assoc = event.assoc
        try:
            calling_aet = str(assoc.requestor.primitive.calling_ae_title or "").strip()
            server: _Server = assoc._server
            rejection = server.guard.admit(assoc, calling_aet, str(assoc.requestor.address or ""))
        except Exception:  # pynetdicom would swallow it and negotiate: refuse instead (fail closed)
            log.exception("internal error while admitting an MPPS association; it is rejected")
            rejection = REJECT_BUSY
        if rejection is not None:
            assoc.acse.send_reject(*rejection)
            assoc.kill()

    def _on_rejected(self, event: evt.Event) -> None:
        """pynetdicom's own refusals (admission is done before, in _on_requested)."""
        calling_aet, address = _peer(event)
        log.warning(
            "the MPPS SCP rejected an association from %r at %s: too many connections at once (pynetdicom's "
            'limit, twice "SqlWorklist.Mpps.MaxAssociations")',
            calling_aet,
            address,
        )

    def _outcome(
        self, operation: str, uid: Any, call: Callable[[Dataset | None], Outcome], event: evt.Event
    ) -> Outcome:
        """The handler's outcome for the event's data set; never an exception."""
        try:
            try:
                data = event.attribute_list if operation == N_CREATE else event.modification_list
            except Exception as error:
                return unreadable(operation, uid, error)
            return call(data)
        except Exception as error:
            log.exception("internal error while handling an MPPS %s", operation)
            return Outcome(
                PROCESSING_FAILURE,
                INTERNAL,
                f"internal error while handling the {operation}: {type(error).__name__}: {error}",
                str(uid or "")[:64],
                "Processing failure: internal error (see the log)",
            )

    def _tell(self, operation: str, outcome: Outcome, calling_aet: str, address: str) -> None:
        try:
            self._report(operation, outcome, calling_aet, address)
        except Exception:
            log.exception("the report of an MPPS %s failed", operation)
