"""Latin-1 answers: accents outside Latin-1 dropped, other characters '?', each change logged once."""

from __future__ import annotations

import logging

import pytest

from vetmwl.charset import latin1_text, to_latin1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Smith^Rex", "Smith^Rex"),
        ("Müller^Bello", "Müller^Bello"),  # already Latin-1: kept, not stripped of its umlaut
        ("García^Luna", "García^Luna"),
        ("Straße", "Straße"),
        ("Dvořák^Łajka", "Dvorák^?ajka"),  # ř has a base letter; Ł has none in Unicode
        ("Ŝtato", "Stato"),
        ("ﬁsh", "fish"),  # compatibility decomposition (NFKD)
        ("山田^ポチ", "??^??"),
        ("Παπαδόπουλος", "????????????"),
        ("Иванов^Шарик", "??????^?????"),
        ("", ""),
    ],
)
def test_to_latin1(text: str, expected: str) -> None:
    converted = to_latin1(text)
    assert converted == expected
    converted.encode("latin-1")  # always encodable


def test_each_changed_value_is_logged_once_without_the_value_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="vetmwl.charset")
    for _ in range(3):
        assert latin1_text("PatientName", "Novák^Dvořáček") == "Novák^Dvorácek"
    assert latin1_text("PatientName", "Müller") == "Müller"  # unchanged: not logged
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(info) == 1 and len(debug) == 1
    assert "PatientName" in info[0] and "Dvo" not in info[0]  # no name at INFO
    assert "Dvořáček" in debug[0]
