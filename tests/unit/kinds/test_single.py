"""PS3.4 C.2.2.2.1 Single Value Matching: exact, PN without case, numbers by value."""

from __future__ import annotations

import pytest

from vetmwl.dialects import DIALECTS
from vetmwl.kinds import Equals


@pytest.mark.parametrize(
    ("f", "value", "expected"),
    [
        (Equals("MedicalAlerts", "Epilepsy"), "Bites\\Epilepsy", True),  # any of several values (K.2.2.3)
        (Equals("MedicalAlerts", "Bites\\Epilepsy"), "Bites\\Epilepsy", False),
        (Equals("PatientSize", "0.45"), "0.450", True),  # numbers by value
        (Equals("PatientSize", "0.46"), "0.450", False),
        (Equals("PatientWeight", "32"), "not a number", False),
        (Equals("PatientID", "1"), None, False),
        (Equals("PatientID", "p1"), "P1", False),  # case-sensitive but for PN
        (Equals("PatientName", "Straße^Rex", fold_case=True), "STRAßE^REX", True),
        (Equals("PatientName", "Strasse^Rex", fold_case=True), "Straße^Rex", False),
        (Equals("ScheduledProcedureStepStatus", "SCHEDULED", or_unknown=True), "", True),
    ],
)
def test_equals_matches_the_answers_value(f: Equals, value: str | None, expected: bool) -> None:
    assert f.matches(value) is expected


def test_binding_follows_the_dialects_facts() -> None:
    key = Equals("AccessionNumber", "ab1")
    assert key.bind(DIALECTS["postgresql"]) == ["ab1"]
    assert key.bind(DIALECTS["mssql"]) == ["ab1", "ab1"]  # the index's comparison, then a binary one
    name = Equals("PatientName", "Müller^Bel_lo", fold_case=True)
    assert name.bind(DIALECTS["postgresql"]) == ["MÜLLER^BEL_LO"]
    assert name.bind(DIALECTS["sqlite"]) == ["M_ller^Bel\\_lo"]  # a LIKE there, non-ASCII as any one
    assert name.confirm_in_python(DIALECTS["sqlite"])
    assert not Equals("PatientName", "Muller", fold_case=True).confirm_in_python(DIALECTS["sqlite"])


def test_selects_a_known_value() -> None:
    assert Equals("ScheduledProcedureStepStatus", "SCHEDULED").selects("SCHEDULED")
    assert not Equals("ScheduledProcedureStepStatus", "scheduled").selects("SCHEDULED")
