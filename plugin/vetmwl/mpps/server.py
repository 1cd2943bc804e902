"""The MPPS SCP on a port of its own: pynetdicom's wiring around :class:`.protocol.MppsProtocol`.

It accepts the Modality Performed Procedure Step SOP Class (N-CREATE, N-SET) and Verification
(C-ECHO, with which modalities test their MPPS destination), listens on every interface and, when
``AllowedAETs`` lists calling AE titles, rejects associations from any other. It serves from
pynetdicom's background threads; :meth:`MppsServer.stop` ends all of them, live associations too:
pynetdicom's DUL threads are not daemon threads, and one left running would keep the embedded
interpreter, and so Orthanc, from exiting.

The rules are the handler's; this module only turns requests into its calls and its
:class:`~.protocol.Outcome` into a status, and reports each message once to the caller.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import ModalityPerformedProcedureStep, Verification
from pynetdicom.transport import ThreadedAssociationServer

from ..config import MppsSettings
from ..errors import INTERNAL, OK
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

    def start(self) -> bool:
        """Listen on the configured port; whether it does. A port that is taken is logged, and the
        worklist works on without MPPS."""
        if self._server is not None:
            return True
        ae = AE(ae_title=self.settings.aet)
        ae.add_supported_context(ModalityPerformedProcedureStep)
        ae.add_supported_context(Verification)
        ae.require_calling_aet = list(self.settings.allowed_aets)
        handlers: list[Any] = [
            (evt.EVT_N_CREATE, self._on_n_create),
            (evt.EVT_N_SET, self._on_n_set),
            (evt.EVT_C_ECHO, self._on_c_echo),
            (evt.EVT_REJECTED, self._on_rejected),
        ]
        try:
            self._server = ae.start_server(("", self.settings.port), block=False, evt_handlers=handlers)
        except OSError as error:
            ae.shutdown()
            if error.errno == errno.EADDRINUSE:
                why = "another program uses it"
            elif error.errno == errno.EACCES:
                why = "Orthanc may not open it (ports below 1024 need root): choose a port above 1023"
            else:
                why = "the system refused it"
            log.error(
                "the MPPS SCP cannot listen on TCP port %d (%s): %s. Modalities cannot report performed steps "
                'until "SqlWorklist.Mpps.Port" names a port it can use and Orthanc restarts; the worklist works on.',
                self.settings.port,
                error.strerror or error,
                why,
            )
            return False
        self._ae = ae
        allowed = ", ".join(self.settings.allowed_aets) or "any calling AE title"
        log.info(
            "the MPPS SCP listens on TCP port %d as AE title %s (accepts %s)",
            self.settings.port,
            self.settings.aet,
            allowed,
        )
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and end every association and thread of the SCP, waiting ``timeout``
        seconds at most for those busy with a message."""
        ae, self._ae, self._server = self._ae, None, None
        if ae is None:
            return
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

    def _on_rejected(self, event: evt.Event) -> None:
        calling_aet, address = _peer(event)
        allowed = self.settings.allowed_aets
        if allowed and calling_aet not in allowed:
            reason = f'its calling AE title is not one of "SqlWorklist.Mpps.AllowedAETs" ({", ".join(allowed)})'
        else:
            reason = "pynetdicom refused it (too many associations at once?)"
        log.warning("the MPPS SCP rejected an association from %r at %s: %s", calling_aet, address, reason)

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
