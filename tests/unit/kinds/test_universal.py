"""PS3.4 C.2.2.2.3 Universal Matching: empty, or only ``*``; for PN also ``*^*``."""

from __future__ import annotations

import pytest

from vetmwl.kinds.universal import is_universal


@pytest.mark.parametrize(
    ("value", "vr", "expected"),
    [
        ("", "LO", True),
        ("*", "LO", True),
        ("***", "CS", True),
        ("*a", "LO", False),
        ("*^*", "PN", True),  # what modalities send for "any name"
        ("*^*", "LO", False),
        ("^", "PN", True),
        ("A*^*", "PN", False),
        ("*", "UI", True),
    ],
)
def test_universal_keys(value: str, vr: str, expected: bool) -> None:
    assert is_universal(value, vr) is expected
