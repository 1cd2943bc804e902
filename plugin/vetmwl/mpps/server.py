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


#: The attributes the server puts on an association: its setup deadline, and its PDU reader.
_SETUP = "_vetmwl_setup"
_READER = "_vetmwl_reader"


class _RequestHandler(RequestHandler):
    """pynetdicom's handler of an accepted connection, with the byte and time limits on its association."""

    server: _Server

    def _create_association(self) -> Association:
        assoc = super()._create_association()
        guard = self.server.guard
        settings = guard.settings
        address = normal_address(str(self.client_address[0]))

        def describe() -> str:
            aet = str(assoc.requestor.ae_title or "").strip()
            return f"the association from {aet!r} at {address}" if aet else f"a connection from {address}"

        def warn(message: str, *args: object) -> None:
            guard.warn(address, "slow PDU", message, *args)

        def ended() -> None:  # a PDU refused or cut: an association thread waiting for its request need not
            if assoc.requestor.primitive is None and not assoc.is_established:
                assoc.dul.to_user_queue.put(None)  # type: ignore[arg-type]

        reader = cap_pdus(assoc.dul.socket, settings.max_pdu_size, describe, settings.network_timeout, warn, ended)
        setattr(assoc, _READER, reader)
        cap_messages(assoc, settings.max_message_size, describe)
        setup = self.server.setup_of(self.request)
        if setup is not None:
            setattr(assoc, _SETUP, setup)
            setup.associate(assoc)
        return assoc


class _Setup:
    """The deadline of one accepted connection: it must be an established association within
    ``AcseTimeout`` of its acceptance, DICOM TLS handshake included. pynetdicom's timeouts bound
    each read only, and its ARTIM timer is not checked while it reads a PDU, so a peer that sends a
    byte now and then would hold the connection, and its threads, for good. A timer of its own
    closes the connection when the time is up (and wakes the association's thread, which waits for
    the A-ASSOCIATE-RQ); it is cancelled as the association is established or the connection closes."""

    def __init__(self, server: _Server, sock: socket.socket, address: str) -> None:
        self._server = server
        self.sock = sock  # the socket the association reads: the TLS one once the handshake is done
        self.address = normal_address(address)
        self.assoc: Association | None = None
        self.handshaking = server.tls is not None
        self.expired = False
        self.ends = time.monotonic() + server.guard.settings.acse_timeout
        self._lock = threading.Lock()
        self.timer = threading.Timer(server.guard.settings.acse_timeout, self.expire)
        self.timer.name = f"vetmwl-mpps-setup-deadline@{self.address}"
        self.timer.daemon = True

    def left(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def handshaken(self, wrapped: socket.socket) -> bool:
        """The TLS handshake is done: the association reads ``wrapped``. False when too late."""
        with self._lock:
            self.sock, self.handshaking = wrapped, False
            return not self.expired

    def associate(self, assoc: Association) -> None:
        """``assoc`` (not started yet) is the connection's association; ended at once when too late."""
        with self._lock:
            self.assoc = assoc
            expired = self.expired
        if expired:
            _end_unassociated(assoc)

    def cancel(self) -> None:
        self.timer.cancel()
        self._server.forget(self)

    def expire(self) -> None:
        """The time is up: log it (once), close the connection, wake the association's thread."""
        with self._lock:
            assoc = self.assoc
            if self.expired:
                return
            if assoc is not None and (assoc.is_established or (not assoc.is_alive() and assoc.ident is not None)):
                return  # established just now, or already ended
            self.expired = True
            sock, handshaking = self.sock, self.handshaking
        self._server.forget(self)
        settings = self._server.guard.settings
        if handshaking:
            what = "its DICOM TLS handshake was not done"
        elif assoc is not None and assoc.requestor.primitive is not None:
            what = "its association was still being negotiated"
        else:
            what = "its A-ASSOCIATE-RQ (the association request) had not all come"
        self._server.guard.warn(
            self.address,
            "slow association",
            "the MPPS SCP closed a connection from %s: it did not become an association within "
            '"SqlWorklist.Mpps.AcseTimeout" (%d s): %s. A modality asks for its association at once; a device that '
            "opens connections and then sends nothing, or a byte now and then, would hold the port's places",
            self.address,
            settings.acse_timeout,
            what,
        )
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the TCP connection itself, TLS or not
        if assoc is not None and assoc.requestor.primitive is None:
            assoc.dul.to_user_queue.put(None)  # type: ignore[arg-type]  # its thread waits for the request


class _Server(ThreadedAssociationServer):
    """pynetdicom's threaded server, with a cap on open connections, a deadline on each until it
    is an association (:class:`_Setup`), a timeout on every socket, and the TLS handshake on the
    connection's own thread: pynetdicom would do it on the thread that accepts, where one peer that
    never finishes it would stop the SCP accepting anyone."""

    def __init__(self, *args: Any, guard: Guard, tls: ssl.SSLContext | None, **kwargs: Any) -> None:
        self.guard = guard
        self.tls = tls
        self._setups_lock = threading.Lock()
        #: The connections whose deadline runs, by the socket their association reads.
        self._setups: dict[socket.socket, _Setup] = {}
        #: The deadlines' timers that may still run (stopping waits for them).
        self.timers: list[threading.Timer] = []
        super().__init__(*args, request_handler=_RequestHandler, **kwargs)

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        assert self.socket is not None
        client, address = self.socket.accept()
        client.settimeout(self.guard.settings.network_timeout)
        return client, address

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return not self.guard.connection_refused(str(client_address[0]))

    def process_request(self, request: Any, client_address: Any) -> None:
        setup = _Setup(self, request, str(client_address[0]))
        with self._setups_lock:
            self._setups[request] = setup  # counted (connecting) until it is an association
        self.timers = [timer for timer in self.timers if timer.is_alive()]
        self.timers.append(setup.timer)
        setup.timer.start()
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._setups_lock:
            setup = self._setups.get(request)
        try:
            if self.tls is not None:
                request = self._handshake(request, str(client_address[0]), setup)
                if request is None:
                    return
            super().process_request_thread(request, client_address)
        finally:
            if setup is not None and setup.assoc is None:  # no association came of it
                setup.cancel()

    def setup_of(self, sock: socket.socket) -> _Setup | None:
        with self._setups_lock:
            return self._setups.get(sock)

    def forget(self, setup: _Setup) -> None:
        with self._setups_lock:
            if self._setups.get(setup.sock) is setup:
                del self._setups[setup.sock]

    def connecting(self) -> list[str]:
        """The addresses of the connections accepted that are not an association yet."""
        with self._setups_lock:
            return [setup.address for setup in self._setups.values() if setup.assoc is None]

    def _handshake(self, raw: socket.socket, address: str, setup: _Setup | None) -> ssl.SSLSocket | None:
        """The TLS side of a connection, within what is left of ``AcseTimeout``; None (logged,
        closed) when it fails."""
        assert self.tls is not None
        try:
            raw.settimeout(setup.left() if setup is not None else self.guard.settings.acse_timeout)
            wrapped = self.tls.wrap_socket(raw, server_side=True)
            wrapped.settimeout(self.guard.settings.network_timeout)
        except (OSError, ssl.SSLError, ValueError) as error:
            if setup is not None and (setup.expired or isinstance(error, TimeoutError)):
                setup.expire()  # its time ran out: the deadline says so (once)
            else:
                log.warning(
                    "the MPPS SCP closed a connection from %s: its DICOM TLS handshake failed (%s). DicomTlsEnabled is "
                    "true, so the MPPS port takes TLS connections only, with a certificate that "
                    "DicomTlsTrustedCertificates trusts when DicomTlsRemoteCertificateRequired is true",
                    normal_address(address),
                    error,
                )
            self.shutdown_request(raw)
            return None
        if setup is not None:
            with self._setups_lock:  # the association reads the TLS socket: its deadline goes by it
                self._setups.pop(raw, None)
                self._setups[wrapped] = setup
            if not setup.handshaken(wrapped):  # its time ran out as the handshake ended
                self.forget(setup)
                self.shutdown_request(wrapped)
                return None
        return wrapped

    def close_setups(self) -> None:
        """End the connections that are not an association yet (TLS handshakes included) and
        cancel every deadline, so that stopping need not wait for them."""
        with self._setups_lock:
            setups = list(self._setups.values())
        for setup in setups:
            setup.timer.cancel()
            if setup.assoc is None:
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(setup.sock, socket.SHUT_RDWR)


def _end_unassociated(association: Association) -> None:
    """End a connection that has not (yet) become an association: pynetdicom's thread waits up to
    AcseTimeout for its A-ASSOCIATE-RQ, and an abort does not wake it."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        socket.socket.shutdown(association.dul.socket.socket, socket.SHUT_RDWR)  # type: ignore[union-attr,arg-type]
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
            (evt.EVT_ESTABLISHED, self._on_setup_over),
            (evt.EVT_CONN_CLOSE, self._on_setup_over),
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
        timers: list[threading.Timer] = []
        if server is not None:
            server.close_setups()
            timers = server.timers
            for association in server.active_associations:
                if not association.is_established:
                    _end_unassociated(association)
                elif (reader := getattr(association, _READER, None)) is not None and reader.reading:
                    reader.cut()  # a PDU coming slowly: pynetdicom's abort would wait for it
        ae.shutdown()  # closes the socket and aborts the live associations
        associations = ae.active_associations
        for association in associations:
            association.abort()  # one that was being accepted while the socket closed
        deadline = time.monotonic() + timeout
        for timer in timers:
            timer.cancel()  # one started as the socket closed
            timer.join(max(0.0, deadline - time.monotonic()))
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

    def _on_setup_over(self, event: evt.Event) -> None:
        """The association is established, or its connection closed: its setup deadline is over."""
        setup: _Setup | None = getattr(event.assoc, _SETUP, None)
        if setup is not None:
            setup.cancel()

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
