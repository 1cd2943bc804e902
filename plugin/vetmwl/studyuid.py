"""The Study Instance UID of an order whose database row has none: derived from the order's identity.

Kept apart from the answer writers because matching needs it too: a StudyInstanceUID key must
match the UID a modality was given, whether the database stored it or the plugin derived it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

#: Root for Study Instance UIDs derived from an order's identity (PS3.5 B.2: UUID-derived UIDs).
UID_ROOT = "2.25."
#: Columns the derived UID is made from, in this order.
UID_SOURCES = ("AccessionNumber", "RequestedProcedureID", "PatientID", "ScheduledProcedureStepID")


def derived_study_uid(row: Mapping[str, Any]) -> str:
    """A stable Study Instance UID for an order that has none in the database.

    The same order gives the same UID on every query and every Orthanc instance, so images taken
    on two modalities for one order land in one study.
    """
    identity = "|".join(
        str(row.get(key) or "").strip() for key in ("AccessionNumber", "RequestedProcedureID", "PatientID")
    )
    if not identity.strip("|") or not (row.get("AccessionNumber") or row.get("RequestedProcedureID")):
        identity += "|" + str(row.get("ScheduledProcedureStepID") or "")
    digest = hashlib.sha256(b"vetmwl-study-instance-uid|" + identity.encode("utf-8")).digest()
    return UID_ROOT + str(int.from_bytes(digest[:16], "big"))


def effective_study_uid(row: Mapping[str, Any]) -> str:
    """The UID an answer carries: the stored one (trimmed), or the derived one when it is empty."""
    stored = row.get("StudyInstanceUID")
    text = str(stored).strip() if stored is not None else ""
    return text or derived_study_uid(row)
