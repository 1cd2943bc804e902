"""Hostile wildcards on every kind of key Python checks, through the real Orthanc of the matrix.

A wildcard key became a backtracking regular expression once: ``*********Z`` against one 40-character
value took seconds, each more ``*`` five times longer, under Orthanc's worklist lock, so that every
other modality waited as long. The matcher is linear now (vetmwl/kinds/wildcard.py). Each key here
is one that SQL cannot decide on the demo view, so Python matches it on every row: a multi-valued
attribute, an attribute kept only in the catch-all column (inside a sequence), a sequence item, and a
non-ASCII name on SQLite. Each C-FIND must end with a proper status within QueryTimeout, while a
normal C-FIND from another association, sent meanwhile, is still answered in under a second.
"""

from __future__ import annotations

import threading
import time

import pytest
from pydicom.dataset import Dataset

from support.clients import FindResult, broad_query, pynetdicom_find
from support.servers import OrthancServer

#: Thirty ``*`` then a letter no value holds: about 30 choose n steps for the old regex, one pass now.
HOSTILE = "*" * 30 + "Z"
QUERY_TIMEOUT = 5  # plugin_settings' QueryTimeout


def _item(**keys: str) -> Dataset:
    item = Dataset()
    for keyword, value in keys.items():
        setattr(item, keyword, value)
    return item


def _identifier(kind: str) -> Dataset:
    ds = Dataset()
    ds.PatientName = ""
    ds.PatientID = ""
    step = _item(Modality="", ScheduledProcedureStepID="")
    if kind == "multi-valued":
        ds.MedicalAlerts = HOSTILE
    elif kind == "multi-valued allergies":
        ds.Allergies = HOSTILE
    elif kind == "catch-all sequence":
        ds.BreedRegistrationSequence = [_item(BreedRegistrationNumber=HOSTILE)]
    elif kind == "step sequence item":
        step.ScheduledProtocolCodeSequence = [_item(CodeMeaning=HOSTILE)]
    elif kind == "non-ASCII name":
        ds.PatientName = "*é" + HOSTILE
    ds.ScheduledProcedureStepSequence = [step]
    return ds


@pytest.mark.parametrize(
    "kind", ["multi-valued", "multi-valued allergies", "catch-all sequence", "step sequence item", "non-ASCII name"]
)
def test_a_hostile_wildcard_is_answered_in_time_and_holds_no_one(demo_orthanc: OrthancServer, kind: str) -> None:
    """Hostile C-FINDs, one after another on their own associations, while a normal one is sent."""
    hostile: list[tuple[FindResult, float]] = []
    done = threading.Event()

    def ask() -> None:
        while not done.is_set() or not hostile:
            started = time.perf_counter()
            result = pynetdicom_find(demo_orthanc.dicom_port, _identifier(kind), aet="HOSTILE")
            hostile.append((result, time.perf_counter() - started))

    thread = threading.Thread(target=ask)
    thread.start()
    time.sleep(0.05)  # a hostile query is on its way or under way, and more follow
    started = time.perf_counter()
    normal = pynetdicom_find(demo_orthanc.dicom_port, broad_query("DX"), aet="XRAY")
    normal_seconds = time.perf_counter() - started
    done.set()
    thread.join(QUERY_TIMEOUT * 4)
    assert not thread.is_alive(), "a hostile C-FIND did not end"
    for result, seconds in hostile:
        assert result.final_status == 0x0000 and result.answers == []  # matched nothing, properly
        assert seconds < QUERY_TIMEOUT
    assert normal.final_status == 0x0000 and len(normal.answers) > 0
    assert normal_seconds < 1.0, f"a normal C-FIND waited {normal_seconds:.2f} s behind hostile ones"
