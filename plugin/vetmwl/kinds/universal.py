"""PS3.4 C.2.2.2.3 Universal Matching: a key that matches every value, so it filters nothing.

"If the value specified for an Attribute is zero length, then all entities shall match this
Attribute", and so does a value of only ``*`` (C.2.2.2.4). Such a key becomes no filter at all:
it is only returned.
"""

from __future__ import annotations


def is_universal(value: str, vr: str) -> bool:
    """Empty, or only ``*``; for PN, only wildcards and component separators (``*^*``, which
    modalities send for "any name"). UIDs take no wildcards, but ``*`` alone is universal too."""
    if vr == "PN":
        return value.strip("*^= ") == ""
    return value == "" or set(value) == {"*"}
