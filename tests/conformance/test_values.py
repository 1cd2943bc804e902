"""The values of the new attributes (issue #12) in the answers, not only which steps answer.

One universal query asks for every new attribute of the fixture, root and step, sequences with
items naming their keys; each answer is set against its fixture item, value by value, compared as
its VR says (text without padding, several values one by one, numbers and dates by value). Ours
must answer what the importer stored, every requested key present (empty when unknown, an unknown
sequence inside the step as one item of empty keys, Responsible Person Role ``OWNER`` for an owner
without a role: docs/conformance.md, "Return keys"); Orthanc's own matcher answers the items
tests/support/wlitems.py wrote for it, so its answers show that the references hold the same values.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pydicom.datadict import dictionary_VM, dictionary_VR
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from conformance import expect
from conformance.compare import Query
from conformance.fixture import SPS
from conformance.queries import CODE_KEYS, REFERENCE_KEYS, SV
from support.reference import Servers

pytestmark = pytest.mark.integration

ROOT_TEXT = (
    "IssuerOfPatientID",
    "RequestingPhysician",
    "AdmissionID",
    "CurrentPatientLocation",
    "SpecialNeeds",
    "PatientState",
    "ResponsiblePersonRole",
    "MedicalAlerts",
    "Allergies",
    "PatientAge",
    "ReasonForTheRequestedProcedure",
    "NamesOfIntendedRecipientsOfResults",
)
ROOT_NUMBERS = ("PatientSize", "PatientWeight")
ROOT_SEQUENCES: dict[str, tuple[str, ...]] = {
    "ReferencedStudySequence": tuple(REFERENCE_KEYS),
    "ReferencedPatientSequence": tuple(REFERENCE_KEYS),
    "RequestedProcedureCodeSequence": tuple(CODE_KEYS),
    "OtherPatientIDsSequence": ("PatientID", "TypeOfPatientID"),
}
STEP_TEXT = ("PreMedication", "RequestedContrastAgent", "CommentsOnTheScheduledProcedureStep")
STEP_MOMENTS = (
    "ScheduledProcedureStepEndDate",
    "ScheduledProcedureStepEndTime",
    "ScheduledProcedureStepModificationDateTime",
)
STEP_SEQUENCES: dict[str, tuple[str, ...]] = {"ScheduledProtocolCodeSequence": tuple(CODE_KEYS)}
PARSE: dict[str, Callable[[str], Any]] = {"DA": expect._date, "TM": expect._time, "DT": expect._datetime}

#: Every new attribute, asked with no value (items of sequences naming their keys): all 64 items answer.
QUERY = Query(
    "values",
    SV,
    root={
        **dict.fromkeys(ROOT_TEXT + ROOT_NUMBERS, ""),
        **{k: [dict.fromkeys(keys, "")] for k, keys in ROOT_SEQUENCES.items()},
    },
    step={
        **dict.fromkeys(STEP_TEXT + STEP_MOMENTS, ""),
        **{k: [dict.fromkeys(keys, "")] for k, keys in STEP_SEQUENCES.items()},
    },
)


def _texts(keyword: str, value: Any) -> tuple[str, ...]:
    """Text values as DICOM compares them: each of several values on its own, without padding."""
    if value is None:
        return ()
    vr = dictionary_VR(keyword)
    parts = [str(v) for v in value] if isinstance(value, MultiValue | list | tuple) else [str(value)]
    if len(parts) == 1 and dictionary_VM(keyword) != "1":
        parts = parts[0].split("\\")
    parts = [p.rstrip(" ") if vr in ("LT", "ST", "UT") else p.strip(" ") for p in parts]
    return () if parts == [""] else tuple(parts)


def _answered(dataset: Dataset, keyword: str) -> Any:
    """The value of an answer's element, None when absent or empty."""
    value = dataset[keyword].value if keyword in dataset else None
    return None if value in (None, "", b"") else value


def _number(value: Any) -> Decimal | None:
    return None if value is None or str(value).strip() == "" else Decimal(str(value).strip())


def _moment(keyword: str, value: Any) -> Any:
    return None if value is None or str(value).strip() == "" else PARSE[dictionary_VR(keyword)](str(value))


def _items(keys: tuple[str, ...], items: list[Any] | None) -> list[tuple[tuple[str, ...], ...]]:
    """A sequence as its items' requested values; items of a fixture are dicts, of an answer Datasets."""
    found = []
    for item in items or []:
        get = item.get if isinstance(item, dict) else (lambda k, item=item: _answered(item, k))
        found.append(tuple(_texts(k, get(k)) for k in keys))
    return found


def _expected_role(item: dict[str, Any], side: str) -> Any:
    """Ours answers OWNER for a Responsible Person without a role (docs/conformance.md); the reference as stored."""
    if side == "ours" and not item.get("ResponsiblePersonRole") and item.get("ResponsiblePerson"):
        return "OWNER"
    return item.get("ResponsiblePersonRole")


def mismatches(side: str, answer: Dataset, item: dict[str, Any]) -> list[str]:
    """Every new attribute whose answered value is not the item's, as ``keyword: answered != expected``."""
    found: list[str] = []

    def check(where: str, keyword: str, got: Any, want: Any) -> None:
        if got != want:
            found.append(f"{where}{keyword}: answered {got!r}, stored {want!r}")

    step_item = item[SPS][0]
    steps = answer.get(SPS) or []
    step = steps[0] if len(steps) == 1 else Dataset()
    for keyword in ROOT_TEXT:
        want = _expected_role(item, side) if keyword == "ResponsiblePersonRole" else item.get(keyword)
        check("", keyword, _texts(keyword, _answered(answer, keyword)), _texts(keyword, want))
    for keyword in ROOT_NUMBERS:
        check("", keyword, _number(_answered(answer, keyword)), _number(item.get(keyword)))
    for keyword in STEP_TEXT:
        check("> ", keyword, _texts(keyword, _answered(step, keyword)), _texts(keyword, step_item.get(keyword)))
    for keyword in STEP_MOMENTS:
        check("> ", keyword, _moment(keyword, _answered(step, keyword)), _moment(keyword, step_item.get(keyword)))
    for keyword, keys in ROOT_SEQUENCES.items():
        check("", keyword, _items(keys, _answered(answer, keyword)), _items(keys, item.get(keyword)))
    for keyword, keys in STEP_SEQUENCES.items():
        # A step without the sequence answers none: never an invented item of empty keys (ours
        # leaves it out of the step item, since Orthanc's re-check would empty the step for zero items).
        check("> ", keyword, _items(keys, _answered(step, keyword)), _items(keys, step_item.get(keyword)))
    return found


@pytest.mark.parametrize("side", ["ours", "orthanc"])
def test_new_attributes_come_back_with_the_stored_values(
    side: str, conformance_servers: Servers, conformance_items: list[dict[str, Any]]
) -> None:
    answers, status = conformance_servers.answers(side, QUERY.identifier())
    assert status == 0
    by_id = {item[SPS][0]["ScheduledProcedureStepID"].strip(): item for item in conformance_items}
    problems = []
    answered = set()
    for answer in answers:
        steps = answer.get(SPS) or []
        step_id = str(steps[0].get("ScheduledProcedureStepID", "")).strip() if len(steps) == 1 else ""
        if step_id not in by_id:
            problems.append(f"an answer without a known step item: {step_id!r}")
            continue
        answered.add(step_id)
        problems += [f"{step_id}: {m}" for m in mismatches(side, answer, by_id[step_id])]
    assert answered == set(by_id), f"not answered: {sorted(set(by_id) - answered)}"
    assert not problems, "\n".join(problems)


def test_ours_answers_every_requested_key(conformance_servers: Servers) -> None:
    """Type 2 return keys: every requested key is present in every answer, empty when unknown; but a
    sequence of the step item the step does not hold, which is left out (zero items would make
    Orthanc's re-check empty the step; its values are checked above)."""
    answers, _ = conformance_servers.answers("ours", QUERY.identifier())
    missing = set()
    for answer in answers:
        missing |= {k for k in QUERY.root if k not in answer}
        missing |= {f"> {k}" for k in QUERY.step_keys() or {} if k not in answer[SPS][0] and k not in STEP_SEQUENCES}
    assert not missing
