"""The rules of the MPPS SCP (PS3.4 F.7.2) on the state store, without any networking.

Each message becomes one :class:`Outcome`: the status for the modality (PS3.7 Annex C), an Error
Comment it can show, and a message for the log in plain words. Nothing a modality sends makes this
module raise: what the rules refuse is "refused", a state store that cannot be reached is "failed",
and anything unexpected is "internal" (logged with its traceback); each answers with a status.

What is checked, and why (PS3.4 Table F.7.2-1, "Modality Performed Procedure Step SOP Class
N-CREATE, N-SET and Final State Attributes"):

- N-CREATE: each attribute the table makes Type 1 for the SCP ("1/1") must be present (else 0120H
  Missing Attribute) and have a value (else 0121H Missing Attribute Value), in sequence items too
  (:data:`N_CREATE_RULES`). Type 2 attributes are not required: modalities often leave them out
  and nothing here reads them. The status must be IN PROGRESS (F.7.2.1.3: else 0106H). A request
  without an Affected SOP Instance UID gets one made here (PS3.7 10.1.5.1.4).
- The values stored in the store's columns or decided on (status, station AE title, modality,
  start and end, each scheduled step's keys) must be valid for their VR, by pydicom's validation
  (else 0106H), and single values, not a query's ranges: the columns are sized for them and
  matching relies on them. Every other attribute
  is kept as sent, as DICOM JSON; one that cannot be written as DICOM JSON (say "abc" as a DS) is
  left out and named in the outcome's notes, rather than refusing a step for a value nobody reads.
- N-SET: only from the AE title and address whose N-CREATE made the step (else 0124H Not
  Authorized), unless ``NSetFromOtherAETs`` says a modality uses two AE titles.
- N-SET: only a step IN PROGRESS may change (F.7.2.2.3: else 0110H with Error ID A710, Table
  F.7.2-2). What the table marks "Not allowed" for N-SET may not change: 0105H No Such Attribute,
  as dcm4che's MPPS SCP answers (the standard names no status). Resending such an attribute with
  its stored value is accepted, since it changes nothing. The modification list replaces the
  stored attributes it names (a sequence whole, F.7.2.2.2) and keeps all others.
- Completion: the Final State column (End Date and Time, a Performed Series Sequence with an item)
  binds the SCU (F.7.2.2.2); F.7.2.2.3 does not ask the SCP to enforce it, unlike UPS (CC.2.1.3),
  and neither dcm4che's mppsscp nor dcm4chee-arc does. So a COMPLETED or DISCONTINUED that lacks
  them is recorded, and the outcome's notes say what was missing: refusing it would leave the step
  IN PROGRESS on the worklist for good, since modalities do not send it again.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydicom import config as pydicom_config
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag
from pydicom.uid import generate_uid
from pydicom.valuerep import validate_value

from ..errors import FAILED, INTERNAL, OK, REFUSED, DatabaseError
from ..progress import (
    FINAL,
    IN_PROGRESS,
    MPPS,
    STATUSES,
    DuplicateStep,
    FinalStep,
    PerformedStep,
    ProgressStore,
    Reference,
    UnknownStep,
)

log = logging.getLogger("vetmwl.mpps")

N_CREATE, N_SET = "N-CREATE", "N-SET"

# Status codes (PS3.7 Annex C, as PS3.4 F.7.2 uses them).
SUCCESS = 0x0000
NO_SUCH_ATTRIBUTE = 0x0105
INVALID_ATTRIBUTE_VALUE = 0x0106
PROCESSING_FAILURE = 0x0110
DUPLICATE_SOP_INSTANCE = 0x0111
NO_SUCH_SOP_INSTANCE = 0x0112
INVALID_SOP_INSTANCE = 0x0117
MISSING_ATTRIBUTE = 0x0120
MISSING_ATTRIBUTE_VALUE = 0x0121
NOT_AUTHORIZED = 0x0124
RESOURCE_LIMITATION = 0x0213
#: The Error ID and Error Comment of an N-SET to a finished step (PS3.4 Table F.7.2-2).
MAY_NO_LONGER_BE_UPDATED = 0xA710
FINAL_COMMENT = "Performed Procedure Step Object may no longer be updated"
#: Error Comment is an LO in the command set (PS3.7 Annex C): 64 characters of the default repertoire.
COMMENT_LENGTH = 64
#: The largest attribute list kept, in characters of DICOM JSON: a step with thousands of image
#: references takes well under a tenth of it. A larger one is refused (0213H Resource Limitation).
MAX_ATTRIBUTES = 8_000_000


@dataclass(frozen=True)
class Outcome:
    """What became of one message: the status for the modality, and what happened for the log."""

    status: int
    #: errors.OK, REFUSED (the message was wrong), FAILED (the state store is down) or INTERNAL (a bug).
    outcome: str
    #: What happened, in plain words, for the log.
    message: str
    #: The MPPS SOP Instance UID the message was about ('' when it named none and was refused).
    uid: str
    #: The Error Comment sent back on a failure: ASCII, at most 64 characters.
    comment: str = ""
    error_id: int | None = None
    #: The performed step's status after the message, when it was recorded.
    step_status: str = ""
    #: What was recorded despite a flaw worth knowing (values left out, final-state attributes missing).
    notes: tuple[str, ...] = ()
    #: Whether this SCP made ``uid`` (the N-CREATE named none), so the response must carry it.
    assigned_uid: bool = False


@dataclass(frozen=True)
class Rule:
    """A Type 1 attribute of Table F.7.2-1 (present, with a value), or, with ``type1=False``, a
    sequence of lower type whose items, when it has any, hold Type 1 attributes."""

    keyword: str
    type1: bool = True
    items: tuple[Rule, ...] = ()


_REFERENCE = (Rule("ReferencedSOPClassUID"), Rule("ReferencedSOPInstanceUID"))
#: A Performed Series Sequence item: "1/1" at N-CREATE and at N-SET.
_SERIES = (
    Rule("ProtocolName"),
    Rule("SeriesInstanceUID"),
    Rule("ReferencedImageSequence", False, _REFERENCE),
    Rule("ReferencedNonImageCompositeSOPInstanceSequence", False, _REFERENCE),
)
#: The Type 1 attributes of an N-CREATE for the SCP, in the table's order. The code sequence
#: macros (Tables F.7.2-1a to -1e) are not checked: nothing here reads codes.
N_CREATE_RULES = (
    Rule(
        "ScheduledStepAttributesSequence",
        True,
        (Rule("StudyInstanceUID"), Rule("ReferencedStudySequence", False, _REFERENCE)),
    ),
    Rule("ReferencedPatientSequence", False, _REFERENCE),
    Rule("PerformedProcedureStepID"),
    Rule("PerformedStationAETitle"),
    Rule("PerformedProcedureStepStartDate"),
    Rule("PerformedProcedureStepStartTime"),
    Rule("PerformedProcedureStepStatus"),
    Rule("Modality"),
    Rule("PerformedSeriesSequence", False, _SERIES),
)
#: An N-SET's (its Performed Procedure Step Status, "3/1", is checked on its own).
N_SET_RULES = (Rule("PerformedSeriesSequence", False, _SERIES),)
#: What Table F.7.2-1 marks "Not allowed" for N-SET: set once, by the N-CREATE.
CREATE_ONLY = frozenset(
    Tag(tag_for_keyword(keyword))  # type: ignore[arg-type]
    for keyword in (
        "ScheduledStepAttributesSequence",
        "PatientName",
        "PatientID",
        "IssuerOfPatientID",
        "IssuerOfPatientIDQualifiersSequence",
        "OtherPatientIDsSequence",
        "PatientBirthDate",
        "PatientSex",
        "ReferencedPatientSequence",
        "AdmissionID",
        "IssuerOfAdmissionIDSequence",
        "ServiceEpisodeID",
        "IssuerOfServiceEpisodeIDSequence",
        "ServiceEpisodeDescription",
        "PerformedProcedureStepID",
        "PerformedStationAETitle",
        "PerformedStationName",
        "PerformedLocation",
        "PerformedProcedureStepStartDate",
        "PerformedProcedureStepStartTime",
        "Modality",
        "StudyID",
    )
)
#: A single date, time or date-time (PS3.5 Table 6.2-1), as the state store's columns hold them:
#: pydicom's validation lets a query's range ("20260101-20261231") through.
_SINGLE = {
    "DA": re.compile(r"\d{8}"),
    "TM": re.compile(r"\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?"),
    "DT": re.compile(r"\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?"),
}
#: The Final State column of Table F.7.2-1: what a COMPLETED or DISCONTINUED step should hold.
FINAL_STATE = ("PerformedProcedureStepEndDate", "PerformedProcedureStepEndTime", "PerformedSeriesSequence")
_CHARACTER_SET = Tag(0x0008, 0x0005)


class _Refused(Exception):
    """The message breaks a rule: its status, the Error Comment and the words for the log."""

    def __init__(self, status: int, comment: str, message: str, error_id: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.comment = comment
        self.message = message
        self.error_id = error_id


def _comment(text: str) -> str:
    """An Error Comment: the default repertoire (ASCII), cut to what an LO holds."""
    return text.encode("ascii", "replace").decode("ascii")[:COMMENT_LENGTH]


def _name(tag: int) -> str:
    """An attribute as people read it: its keyword and tag, e.g. Modality (0008,0060)."""
    tag = Tag(tag)
    return f"{keyword_for_tag(tag) or 'private attribute'} ({tag.group:04X},{tag.element:04X})"


def _shown(text: str) -> str:
    """A value quoted for the log, cut so that a huge one stays one readable line."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _final(uid: str, status: str) -> _Refused:
    return _Refused(
        PROCESSING_FAILURE,
        FINAL_COMMENT,
        f"an N-SET for performed step {uid}, which is already {status}: a finished step may no longer be "
        "updated (PS3.4 F.7.2.2.3)",
        MAY_NO_LONGER_BE_UPDATED,
    )


def _gaps(ds: Dataset, rules: Iterable[Rule], where: str = "") -> tuple[list[str], list[str]]:
    """The Type 1 attributes that are missing, and those present without a value, as paths."""
    missing: list[str] = []
    empty: list[str] = []
    for rule in rules:
        path = f"{where}{rule.keyword}"
        if rule.keyword not in ds:
            if rule.type1:
                missing.append(path)
            continue
        element = ds[rule.keyword]
        if rule.type1 and element.is_empty:
            empty.append(path)
            continue
        if rule.items:
            if element.VR != "SQ":
                raise _Refused(
                    INVALID_ATTRIBUTE_VALUE,
                    f"{rule.keyword} is not a sequence",
                    f"{path} is sent as {element.VR}, not as the sequence (SQ) it is",
                )
            for number, item in enumerate(element.value, 1):
                deeper = _gaps(item, rule.items, f"{path}[{number}]>")
                missing += deeper[0]
                empty += deeper[1]
    return missing, empty


def _require(ds: Dataset, rules: Iterable[Rule], operation: str) -> None:
    """Refuse a message that lacks a Type 1 attribute (0120H) or its value (0121H)."""
    missing, empty = _gaps(ds, rules)
    for paths, status, what in ((missing, MISSING_ATTRIBUTE, "Missing"), (empty, MISSING_ATTRIBUTE_VALUE, "No value")):
        if paths:
            leaf = paths[0].rsplit(">", 1)[-1]
            described = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
            lacks = "lacks" if status == MISSING_ATTRIBUTE else "has no value in"
            raise _Refused(
                status,
                f"{what}: {leaf}",
                f"the {operation} {lacks} {described}, which PS3.4 Table F.7.2-1 requires (Type 1)",
            )


def _value(ds: Dataset, keyword: str, where: str = "") -> str:
    """The text of a single-valued attribute ('' when absent or empty), refused unless it is valid
    for the attribute's VR (PS3.5 Table 6.2-1, as pydicom checks it)."""
    if keyword not in ds:
        return ""
    element = ds[keyword]
    path = f"{where}{keyword}"
    value: Any = element.value
    if isinstance(value, MultiValue | list):
        if len(value) > 1:
            raise _Refused(
                INVALID_ATTRIBUTE_VALUE, f"Several values: {keyword}", f"{path} has {len(value)} values, not 1"
            )
        value = value[0] if value else ""
    if isinstance(value, bytes | bytearray):
        raise _Refused(INVALID_ATTRIBUTE_VALUE, f"Invalid value: {keyword}", f"{path} is sent as {element.VR} bytes")
    text = "" if value is None else str(value).strip()
    if not text:
        return ""
    vr = dictionary_VR(element.tag)
    try:
        validate_value(vr, text, pydicom_config.RAISE)
    except (ValueError, TypeError) as exc:
        reason = str(exc).split(". Please see", 1)[0]
        raise _Refused(
            INVALID_ATTRIBUTE_VALUE,
            f"Invalid value: {keyword}",
            f"{path} is not a valid {vr}: {_shown(text)} ({reason})",
        ) from None
    single = _SINGLE.get(vr)
    if single is not None and not single.fullmatch(text):
        raise _Refused(
            INVALID_ATTRIBUTE_VALUE,
            f"Invalid value: {keyword}",
            f"{path} is {_shown(text)}, not a single {vr}: a range belongs in a query, not in a performed step",
        )
    return text


def _json(ds: Dataset, where: str = "") -> tuple[dict[str, Any], list[str]]:
    """The dataset as DICOM JSON (pydicom's, element by element), and the attributes left out
    because their value cannot be written so. Specific Character Set is left out too: the JSON
    holds decoded Unicode text, so the request's character sets no longer apply (F.7.2.2.3)."""
    out: dict[str, Any] = {}
    dropped: list[str] = []
    for tag in list(ds.keys()):
        if tag == _CHARACTER_SET:
            continue
        try:
            element = ds[tag]
            if element.VR == "SQ":
                items = []
                for number, item in enumerate(element.value, 1):
                    item_json, item_dropped = _json(item, f"{where}{_name(tag)}[{number}]>")
                    items.append(item_json)
                    dropped += item_dropped
                out[f"{tag:08X}"] = {"vr": "SQ", "Value": items} if items else {"vr": "SQ"}
            else:
                out[f"{tag:08X}"] = element.to_json_dict(None, 1024)
        except Exception:
            dropped.append(f"{where}{_name(tag)}")
    return out, dropped


def _json_text(json_value: dict[str, Any], keyword: str) -> str:
    """The first value of a string attribute in DICOM JSON, '' when absent or empty."""
    values = json_value.get(f"{tag_for_keyword(keyword):08X}", {}).get("Value") or [""]
    return str(values[0] or "").strip()


def _joined(date: str, time: str) -> str:
    """A DA and a TM as one DICOM DT-like text (YYYYMMDDHHMMSS.FFFFFF), '' without a date."""
    return f"{date}{time}" if date else ""


def _describe(references: Iterable[Reference]) -> str:
    """The scheduled steps a performed step names, for the log."""
    scheduled = [r for r in references if r.sps_id or r.accession_number]
    if not scheduled:
        return "an unscheduled exam (no SPS ID or accession number)"
    names = [
        " ".join(
            part
            for part in (
                f"SPS ID {r.sps_id}" if r.sps_id else "",
                f"accession {r.accession_number}" if r.accession_number else "",
            )
            if part
        )
        for r in scheduled[:5]
    ]
    more = f" and {len(scheduled) - 5} more" if len(scheduled) > 5 else ""
    return "scheduled step " + ", ".join(names) + more


def _left_out(dropped: list[str]) -> list[str]:
    if not dropped:
        return []
    listed = ", ".join(dropped[:5]) + (f" and {len(dropped) - 5} more" if len(dropped) > 5 else "")
    return [f"left out {listed}: a value that cannot be kept as DICOM JSON"]


class MppsProtocol:
    """The SCP's rules on a :class:`~vetmwl.progress.ProgressStore`, for any number of association
    threads: the N-SETs of this process take turns, so that none loses another's merge."""

    def __init__(
        self, store: ProgressStore, max_attributes: int = MAX_ATTRIBUTES, n_set_from_other_aets: bool = False
    ) -> None:
        self.store = store
        self.max_attributes = max_attributes
        #: Whether an N-SET may come from another AE title or address than the step's N-CREATE.
        self.n_set_from_other_aets = n_set_from_other_aets
        self._lock = threading.Lock()

    # -- the two operations ------------------------------------------------------------------------
    def n_create(self, uid: str | None, attributes: Dataset | None, calling_aet: str, calling_address: str) -> Outcome:
        """An N-CREATE: record a new performed step IN PROGRESS (PS3.4 F.7.2.1). ``uid`` None: the
        modality left it to us (an empty one is not the same: pynetdicom then would not send ours)."""
        given = None if uid is None else str(uid).strip()
        return self._guarded(
            N_CREATE, given or "", lambda: self._create(given, attributes or Dataset(), calling_aet, calling_address)
        )

    def n_set(self, uid: str | None, modification: Dataset | None, calling_aet: str, calling_address: str) -> Outcome:
        """An N-SET: change a performed step still IN PROGRESS (PS3.4 F.7.2.2)."""
        uid = str(uid or "").strip()
        return self._guarded(
            N_SET, uid, lambda: self._set(uid, modification or Dataset(), calling_aet, calling_address)
        )

    def _guarded(self, operation: str, uid: str, work: Callable[[], Outcome]) -> Outcome:
        """The work's outcome; a refusal, a store failure or any exception becomes one too."""
        shown = uid if len(uid) <= 64 else uid[:64] + "..."  # no valid UID is longer: keeps the log readable
        try:
            return work()
        except _Refused as refused:
            return Outcome(refused.status, REFUSED, refused.message, shown, _comment(refused.comment), refused.error_id)
        except DatabaseError as error:
            return Outcome(
                PROCESSING_FAILURE,
                FAILED,
                f"the {operation} could not be recorded: the state store cannot be reached or refused it ({error})",
                shown,
                _comment("Processing failure: the state store is unavailable"),
            )
        except Exception as error:
            log.exception("internal error while handling an MPPS %s for %s", operation, shown or "a new step")
            return Outcome(
                PROCESSING_FAILURE,
                INTERNAL,
                f"internal error while handling the {operation}: {type(error).__name__}: {error}",
                shown,
                _comment("Processing failure: internal error (see the log)"),
            )

    def _create(self, given: str | None, ds: Dataset, calling_aet: str, calling_address: str) -> Outcome:
        assigned = given is None
        uid = str(generate_uid()) if given is None else given
        if not assigned:
            try:
                if not uid:
                    raise ValueError("empty")
                validate_value("UI", uid, pydicom_config.RAISE)
            except (ValueError, TypeError):
                raise _Refused(
                    INVALID_SOP_INSTANCE,
                    "Invalid Affected SOP Instance UID",
                    f"the N-CREATE's Affected SOP Instance UID {_shown(uid)} is not a valid UID (PS3.5 9.1)",
                ) from None
        _require(ds, N_CREATE_RULES, N_CREATE)
        status = _value(ds, "PerformedProcedureStepStatus")
        if status != IN_PROGRESS:
            raise _Refused(
                INVALID_ATTRIBUTE_VALUE,
                "PerformedProcedureStepStatus must be IN PROGRESS",
                f"the N-CREATE has Performed Procedure Step Status {_shown(status)}; an MPPS starts "
                "IN PROGRESS (PS3.4 F.7.2.1.3)",
            )
        station = _value(ds, "PerformedStationAETitle")
        modality = _value(ds, "Modality")
        started = _joined(_value(ds, "PerformedProcedureStepStartDate"), _value(ds, "PerformedProcedureStepStartTime"))
        ended = _joined(_value(ds, "PerformedProcedureStepEndDate"), _value(ds, "PerformedProcedureStepEndTime"))
        references = self._references(ds)
        attributes, dropped = _json(ds)
        text = self._sized(attributes, N_CREATE)
        notes = tuple(_left_out(dropped))
        summary = f"{station} ({modality}) started it for {_describe(references)}"
        step = PerformedStep(
            uid,
            MPPS,
            IN_PROGRESS,
            calling_aet=calling_aet.strip()[:16],
            calling_address=calling_address[:64],
            station_aet=station,
            modality=modality,
            started=started,
            ended=ended,
            attributes=text,
            references=references,
        )
        try:
            self.store.create(step, f"N-CREATE from {calling_aet} at {calling_address}: {summary}")
        except DuplicateStep:
            raise _Refused(
                DUPLICATE_SOP_INSTANCE,
                "Duplicate SOP Instance",
                f"an N-CREATE for performed step {uid}, which an earlier N-CREATE made already",
            ) from None
        message = "; ".join((f"performed step {uid} is IN PROGRESS: {summary}", *notes))
        return Outcome(SUCCESS, OK, message, uid, step_status=IN_PROGRESS, notes=notes, assigned_uid=assigned)

    def _set(self, uid: str, ds: Dataset, calling_aet: str, calling_address: str) -> Outcome:
        if not uid:
            raise _Refused(NO_SUCH_SOP_INSTANCE, "No such SOP Instance", "an N-SET that names no SOP instance")
        with self._lock:
            step = self.store.get(uid)
            if step is None or step.kind != MPPS:
                raise _Refused(
                    NO_SUCH_SOP_INSTANCE,
                    "No such SOP Instance",
                    f"an N-SET for performed step {_shown(uid)}, which no N-CREATE made",
                )
            self._same_caller(step, calling_aet, calling_address)
            if step.status in FINAL:
                raise _final(uid, step.status)
            status = self._new_status(ds, step.status)
            changes, dropped = _json(ds)
            stored: dict[str, Any] = json.loads(step.attributes or "{}")
            self._unchanged(changes, stored)
            _require(ds, N_SET_RULES, N_SET)
            _value(ds, "PerformedProcedureStepEndDate")
            _value(ds, "PerformedProcedureStepEndTime")
            merged = dict(sorted({**stored, **changes}.items()))
            text = self._sized(merged, N_SET)
            ended = _joined(
                _json_text(merged, "PerformedProcedureStepEndDate"), _json_text(merged, "PerformedProcedureStepEndTime")
            )
            notes = tuple(_left_out(dropped) + self._final_state_gaps(merged, status))
            summary = f"{status}" + (f", ended {ended}" if ended and status in FINAL else "")
            try:
                self.store.update(
                    uid,
                    status,
                    ended,
                    text,
                    calling_aet.strip()[:16],
                    f"N-SET from {calling_aet} at {calling_address}: {summary}",
                )
            except UnknownStep:
                raise _Refused(
                    NO_SUCH_SOP_INSTANCE, "No such SOP Instance", f"an N-SET for performed step {uid}, which is gone"
                ) from None
            except FinalStep as final:
                raise _final(uid, final.status) from None
        message = "; ".join((f"performed step {uid} is {summary}", *notes))
        return Outcome(SUCCESS, OK, message, uid, step_status=status, notes=notes)

    # -- the pieces ------------------------------------------------------------------------------
    @staticmethod
    def _references(ds: Dataset) -> tuple[Reference, ...]:
        """One reference per Scheduled Step Attributes Sequence item (the same one once); an
        unscheduled exam's names only the Study Instance UID the modality made (F.7.2.1.2 Note 3)."""
        references = []
        for number, item in enumerate(ds.ScheduledStepAttributesSequence, 1):
            where = f"ScheduledStepAttributesSequence[{number}]>"
            references.append(
                Reference(
                    sps_id=_value(item, "ScheduledProcedureStepID", where),
                    accession_number=_value(item, "AccessionNumber", where),
                    study_instance_uid=_value(item, "StudyInstanceUID", where),
                    requested_procedure_id=_value(item, "RequestedProcedureID", where),
                )
            )
        return tuple(dict.fromkeys(references))

    def _same_caller(self, step: PerformedStep, calling_aet: str, calling_address: str) -> None:
        """Refuse an N-SET from another AE title or address than the step's N-CREATE (0124H), unless
        the site allows it: another device must not finish or change a step it did not start."""
        if self.n_set_from_other_aets:
            return
        caller = (calling_aet.strip()[:16], calling_address[:64])
        if caller != (step.calling_aet, step.calling_address):
            raise _Refused(
                NOT_AUTHORIZED,
                "Not authorized: another AE created this step",
                f"an N-SET for performed step {step.uid} from {caller[0]!r} at {caller[1]}, which {step.calling_aet!r} "
                f"at {step.calling_address} created: only that AE title and address may change it (a modality that "
                'uses two AE titles needs "SqlWorklist.Mpps.NSetFromOtherAETs": true)',
            )

    @staticmethod
    def _new_status(ds: Dataset, current: str) -> str:
        """The status an N-SET asks for: the current one when it names none (it is "3/1")."""
        if "PerformedProcedureStepStatus" not in ds:
            return current
        status = _value(ds, "PerformedProcedureStepStatus")
        if not status:
            raise _Refused(
                MISSING_ATTRIBUTE_VALUE,
                "No value: PerformedProcedureStepStatus",
                "the N-SET has an empty Performed Procedure Step Status (Type 1 for the SCP, Table F.7.2-1)",
            )
        if status not in STATUSES:
            raise _Refused(
                INVALID_ATTRIBUTE_VALUE,
                "Invalid value: PerformedProcedureStepStatus",
                f"the N-SET has Performed Procedure Step Status {_shown(status)}, not one of "
                f"{', '.join(STATUSES)} (PS3.3 C.4.14)",
            )
        return status

    @staticmethod
    def _unchanged(changes: dict[str, Any], stored: dict[str, Any]) -> None:
        """Refuse an N-SET that would change what only the N-CREATE may set (0105H)."""

        def value(element: dict[str, Any] | None) -> tuple[Any, Any]:
            element = element or {}
            return element.get("Value") or None, element.get("InlineBinary") or None

        changed = [
            key for key in changes if Tag(int(key, 16)) in CREATE_ONLY and value(changes[key]) != value(stored.get(key))
        ]
        if changed:
            names = ", ".join(_name(int(key, 16)) for key in changed)
            raise _Refused(
                NO_SUCH_ATTRIBUTE,
                f"Not allowed in N-SET: {keyword_for_tag(int(changed[0], 16))}",
                f"the N-SET would change {names}, which only the N-CREATE may set (PS3.4 Table F.7.2-1)",
            )

    def _sized(self, attributes: dict[str, Any], operation: str) -> str:
        """The attributes as JSON text, refused when larger than this SCP keeps (0213H)."""
        text = json.dumps(attributes, ensure_ascii=False, separators=(",", ":"))
        if len(text) > self.max_attributes:
            raise _Refused(
                RESOURCE_LIMITATION,
                "Attribute list too large",
                f"the {operation}'s attributes take {len(text)} characters as DICOM JSON, more than the "
                f"{self.max_attributes} this SCP keeps",
            )
        return text

    @staticmethod
    def _final_state_gaps(merged: dict[str, Any], status: str) -> list[str]:
        """What a COMPLETED or DISCONTINUED step lacks of the Final State column (a note, not a refusal)."""
        if status not in FINAL:
            return []
        lacking = []
        for keyword in FINAL_STATE:
            element = merged.get(f"{tag_for_keyword(keyword):08X}") or {}
            if not element.get("Value"):
                lacking.append(keyword)
        if not lacking:
            return []
        return [
            f"{status} without {', '.join(lacking)}, which the final state of PS3.4 Table F.7.2-1 asks of the "
            "modality; recorded all the same"
        ]


def unreadable(operation: str, uid: str | None, error: Exception) -> Outcome:
    """The outcome of a message whose attribute list pydicom cannot decode: refused (0106H)."""
    return Outcome(
        INVALID_ATTRIBUTE_VALUE,
        REFUSED,
        f"the {operation}'s attribute list cannot be read: {type(error).__name__}: {error}",
        str(uid or "").strip(),
        _comment("Invalid attribute value: the data set cannot be read"),
    )
