"""An MPPS that staff voided stays voided: the modality's later N-SET is refused like one for a
finished step (0110, "may no longer be updated"), and the scheduled step stays on the worklist."""

from __future__ import annotations

from unit.test_mpps_protocol import UID, completed, create, refused, update
from vetmwl.mpps.protocol import FINAL_COMMENT, MAY_NO_LONGER_BE_UPDATED, PROCESSING_FAILURE, MppsProtocol
from vetmwl.progress import VOIDED, ProgressStore, StepKeys


def test_an_n_set_of_a_voided_mpps_is_refused_and_changes_nothing(store: ProgressStore) -> None:
    mpps = MppsProtocol(store)
    create(mpps)
    assert store.void(UID, "frontdesk", "an N-CREATE from the wrong room")
    before = store.get(UID)
    outcome = update(mpps, completed())
    refused(outcome, PROCESSING_FAILURE)
    assert (outcome.comment, outcome.error_id) == (FINAL_COMMENT, MAY_NO_LONGER_BE_UPDATED)
    assert VOIDED in outcome.message
    assert store.get(UID) == before
    assert store.states([StepKeys("SPS1", "ACC1", "")]) == []
