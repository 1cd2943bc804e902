"""The calling AE's options as filters: offered statuses, own station, modality aliases."""

from __future__ import annotations

from vetmwl.config import AeOptions
from vetmwl.kinds import Equals, InList, Like
from vetmwl.model import STATUS, Level
from vetmwl.policy import apply_options

STEP = Level.STEP
OFFERED = InList(STATUS, ("SCHEDULED", "ARRIVED", "READY"), or_unknown=True, level=STEP)


def test_a_query_without_status_gets_the_offered_statuses() -> None:
    policy = apply_options([Equals("Modality", "DX")], AeOptions(), "DX_ROOM1")
    assert policy.filters == (Equals("Modality", "DX"), OFFERED)
    assert policy.answered_modality is None


def test_unknown_status_is_offered_only_with_scheduled() -> None:
    (started,) = apply_options([], AeOptions(statuses=("STARTED",)), None).filters
    assert started == InList(STATUS, ("STARTED",), level=STEP)


def test_a_status_in_the_query_is_not_overridden() -> None:
    asked = Equals(STATUS, "STARTED")
    assert apply_options([asked], AeOptions(), None).filters == (asked,)


def test_own_station_only_when_asked_for_and_the_query_names_none() -> None:
    restrict = AeOptions(restrict_to_own_station=True)
    assert apply_options([], restrict, " CR_ROOM2 ").filters == (
        OFFERED,
        Equals("ScheduledStationAETitle", "CR_ROOM2", level=STEP),
    )
    named = Like("ScheduledStationAETitle", "DX*")
    assert apply_options([named], restrict, "CR_ROOM2").filters == (named, OFFERED)
    assert apply_options([], restrict, None).filters == (OFFERED,)  # the REST page without an AE
    assert apply_options([], AeOptions(), "CR_ROOM2").filters == (OFFERED,)


def test_modality_alias_widens_a_single_value_and_answers_the_asked_modality() -> None:
    options = AeOptions(modality_aliases=(("DX", ("DX", "CR")),))
    policy = apply_options([Equals("Modality", "DX")], options, "CR_ROOM2")
    assert policy.filters == (InList("Modality", ("DX", "CR"), level=STEP), OFFERED)
    assert policy.answered_modality == "DX"
    assert apply_options([Equals("Modality", "US")], options, None).filters[0] == Equals("Modality", "US")
    assert apply_options([Like("Modality", "D*")], options, None).answered_modality is None
