"""The MPPS SCP's rules (PS3.4 F.7.2) on a real SQLite state store: every status they answer, the
state left untouched by each refusal, the merge of N-SETs, and a store that is down."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.valuerep import validate_value
from pynetdicom.dsutils import decode, encode

from support.mpps import completed, in_progress, raw
from support.stores import sqlite_store
from vetmwl.db import Database
from vetmwl.errors import FAILED, INTERNAL, OK, REFUSED
from vetmwl.mpps.protocol import (
    DUPLICATE_SOP_INSTANCE,
    FINAL_COMMENT,
    INVALID_ATTRIBUTE_VALUE,
    INVALID_SOP_INSTANCE,
    MAY_NO_LONGER_BE_UPDATED,
    MISSING_ATTRIBUTE,
    MISSING_ATTRIBUTE_VALUE,
    NO_SUCH_ATTRIBUTE,
    NO_SUCH_SOP_INSTANCE,
    NOT_AUTHORIZED,
    PROCESSING_FAILURE,
    RESOURCE_LIMITATION,
    SUCCESS,
    MppsProtocol,
    Outcome,
    unreadable,
)
from vetmwl.progress import COMPLETED, DISCONTINUED, IN_PROGRESS, STUDY, PerformedStep, ProgressStore, Reference

STUDY_UID = "1.2.826.0.1.3680043.10.543.1"
UID = "1.2.826.0.1.3680043.10.543.100"
AET, ADDRESS = "DX_ROOM1", "192.0.2.10"


@pytest.fixture
def mpps(store: ProgressStore) -> MppsProtocol:
    return MppsProtocol(store)


def wire(ds: Dataset) -> Dataset:
    """The data set as the SCP reads it off the network (Implicit VR: each value with its own VR)."""
    data = encode(ds, True, True)
    assert data is not None
    return decode(io.BytesIO(data), True, True)


def scheduled() -> Dataset:
    return in_progress("SPS1", "ACC1", STUDY_UID)


def create(mpps: MppsProtocol, ds: Dataset | None = None, uid: str | None = UID) -> Outcome:
    return mpps.n_create(uid, wire(ds if ds is not None else scheduled()), AET, ADDRESS)


def update(mpps: MppsProtocol, ds: Dataset, uid: str = UID) -> Outcome:
    return mpps.n_set(uid, wire(ds), AET, ADDRESS)


def attributes(store: ProgressStore, uid: str = UID) -> dict:
    step = store.get(uid)
    assert step is not None
    return json.loads(step.attributes)


def refused(outcome: Outcome, status: int, *words: str) -> None:
    """A refusal with its status, an Error Comment a modality can take (ASCII LO) naming ``words``."""
    assert (outcome.status, outcome.outcome) == (status, REFUSED), outcome
    assert outcome.comment and len(outcome.comment) <= 64 and outcome.comment.isascii(), outcome.comment
    for word in words:
        assert word in outcome.comment, outcome


# -- N-CREATE ------------------------------------------------------------------------------------------
def test_an_n_create_records_the_step_in_progress(mpps: MppsProtocol, store: ProgressStore) -> None:
    outcome = create(mpps)
    assert (outcome.status, outcome.outcome, outcome.uid, outcome.step_status) == (SUCCESS, OK, UID, IN_PROGRESS)
    assert not outcome.assigned_uid and not outcome.notes
    assert "SPS ID SPS1" in outcome.message and "accession ACC1" in outcome.message
    step = store.get(UID)
    assert step is not None
    ds = scheduled()
    assert (step.status, step.calling_aet, step.calling_address, step.station_aet, step.modality) == (
        IN_PROGRESS,
        AET,
        ADDRESS,
        "DX_ROOM1",
        "DX",
    )
    assert step.started == ds.PerformedProcedureStepStartDate + ds.PerformedProcedureStepStartTime
    assert step.ended == ""
    assert step.references == (Reference("SPS1", "ACC1", STUDY_UID, "RP1"),)
    assert [(e.event, e.status, e.calling_aet) for e in step.events] == [("N-CREATE", IN_PROGRESS, AET)]
    stored = attributes(store)
    assert stored["00100010"]["Value"] == [{"Alphabetic": "García^Luna"}]  # decoded from ISO_IR 192
    assert "00080005" not in stored  # the JSON holds Unicode: no character set applies any more
    assert stored["00400270"]["Value"][0]["0020000D"]["Value"] == [STUDY_UID]


def test_an_n_create_without_a_uid_gets_one(mpps: MppsProtocol, store: ProgressStore) -> None:
    outcome = create(mpps, uid=None)
    assert outcome.status == SUCCESS and outcome.assigned_uid
    validate_value("UI", outcome.uid, 2)
    assert store.get(outcome.uid) is not None


def test_an_unscheduled_exam_is_kept(mpps: MppsProtocol, store: ProgressStore) -> None:
    outcome = create(mpps, in_progress("", "", "1.2.826.0.1.3680043.10.543.77"))
    assert outcome.status == SUCCESS and "unscheduled exam" in outcome.message
    step = store.get(UID)
    assert step is not None and step.references == (Reference(study_instance_uid="1.2.826.0.1.3680043.10.543.77"),)


def test_each_scheduled_step_of_a_grouped_exam_is_named(mpps: MppsProtocol, store: ProgressStore) -> None:
    ds = scheduled()
    second = Dataset()
    second.StudyInstanceUID = STUDY_UID
    second.AccessionNumber = "ACC2"
    second.ScheduledProcedureStepID = "SPS2"
    ds.ScheduledStepAttributesSequence.append(second)
    ds.ScheduledStepAttributesSequence.append(ds.ScheduledStepAttributesSequence[0])  # the same one twice
    assert create(mpps, ds).status == SUCCESS
    step = store.get(UID)
    assert step is not None
    assert [r.sps_id for r in step.references] == ["SPS1", "SPS2"]


def test_a_second_n_create_of_one_instance_is_a_duplicate(mpps: MppsProtocol, store: ProgressStore) -> None:
    create(mpps)
    before = store.get(UID)
    outcome = create(mpps, in_progress("SPS9", "ACC9", "1.2.9"))
    refused(outcome, DUPLICATE_SOP_INSTANCE, "Duplicate")
    assert store.get(UID) == before


def test_an_invalid_sop_instance_uid_is_refused(mpps: MppsProtocol, store: ProgressStore) -> None:
    refused(create(mpps, uid="1.2.abc"), INVALID_SOP_INSTANCE, "UID")
    refused(create(mpps, uid="1." + "2" * 70), INVALID_SOP_INSTANCE, "UID")
    # Present but empty: a UID of ours would not reach the modality (pynetdicom sends it only for none).
    refused(create(mpps, uid=" "), INVALID_SOP_INSTANCE, "UID")
    assert store.recent() == []


TYPE1 = (
    "ScheduledStepAttributesSequence",
    "PerformedProcedureStepID",
    "PerformedStationAETitle",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
    "PerformedProcedureStepStatus",
    "Modality",
)


@pytest.mark.parametrize("keyword", TYPE1)
def test_a_missing_type1_attribute_is_refused(mpps: MppsProtocol, store: ProgressStore, keyword: str) -> None:
    ds = scheduled()
    delattr(ds, keyword)
    refused(create(mpps, ds), MISSING_ATTRIBUTE, "Missing", keyword)
    assert store.recent() == []


@pytest.mark.parametrize("keyword", TYPE1)
def test_a_type1_attribute_without_value_is_refused(mpps: MppsProtocol, store: ProgressStore, keyword: str) -> None:
    ds = scheduled()
    setattr(ds, keyword, [] if keyword.endswith("Sequence") else "")
    refused(create(mpps, ds), MISSING_ATTRIBUTE_VALUE, "No value", keyword)
    assert store.recent() == []


def test_type1_attributes_of_sequence_items_are_required(mpps: MppsProtocol, store: ProgressStore) -> None:
    ds = scheduled()
    del ds.ScheduledStepAttributesSequence[0].StudyInstanceUID
    outcome = create(mpps, ds)
    refused(outcome, MISSING_ATTRIBUTE, "StudyInstanceUID")
    assert "ScheduledStepAttributesSequence[1]>StudyInstanceUID" in outcome.message
    ds = scheduled()
    ds.PerformedSeriesSequence = completed().PerformedSeriesSequence
    ds.PerformedSeriesSequence[0].SeriesInstanceUID = ""
    refused(create(mpps, ds), MISSING_ATTRIBUTE_VALUE, "SeriesInstanceUID")
    ds = scheduled()
    reference = Dataset()
    reference.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    ds.ScheduledStepAttributesSequence[0].ReferencedStudySequence = [reference]
    refused(create(mpps, ds), MISSING_ATTRIBUTE, "ReferencedSOPInstanceUID")
    assert store.recent() == []


def test_type2_attributes_may_be_left_out(mpps: MppsProtocol) -> None:
    ds = scheduled()
    for keyword in ("PatientName", "PatientID", "PerformedSeriesSequence", "PerformedProcedureStepEndDate", "StudyID"):
        delattr(ds, keyword)
    assert create(mpps, ds).status == SUCCESS


def test_no_attribute_list_at_all_is_refused(mpps: MppsProtocol) -> None:
    refused(mpps.n_create(UID, None, AET, ADDRESS), MISSING_ATTRIBUTE)
    refused(mpps.n_create(UID, Dataset(), AET, ADDRESS), MISSING_ATTRIBUTE, "ScheduledStepAttributesSequence")


@pytest.mark.parametrize("status", ["COMPLETED", "DISCONTINUED", "SCHEDULED"])
def test_an_n_create_must_be_in_progress(mpps: MppsProtocol, store: ProgressStore, status: str) -> None:
    ds = scheduled()
    ds.PerformedProcedureStepStatus = status
    refused(create(mpps, ds), INVALID_ATTRIBUTE_VALUE, "PerformedProcedureStepStatus")
    assert store.recent() == []


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("PerformedStationAETitle", "A" * 40),
        ("PerformedStationAETitle", "DX\x01ROOM"),
        ("Modality", "dx"),
        ("Modality", "DX\\CR"),
        ("PerformedProcedureStepStartDate", "notadate"),
        ("PerformedProcedureStepStartTime", "25:61"),
        ("PerformedProcedureStepEndDate", "2026-01-05"),
        ("PerformedProcedureStepStatus", "in progress"),
        ("PerformedStationAETitle", "X" * 100_000),
    ],
)
def test_a_stored_value_must_suit_its_vr(mpps: MppsProtocol, store: ProgressStore, keyword: str, value: str) -> None:
    refused(create(mpps, raw(scheduled(), keyword, value)), INVALID_ATTRIBUTE_VALUE, keyword)
    assert store.recent() == []


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("StudyInstanceUID", "1.2.abc"),
        ("AccessionNumber", "A" * 17),
        ("ScheduledProcedureStepID", "S\\P"),
        ("RequestedProcedureID", "R" * 200),
    ],
)
def test_a_scheduled_steps_keys_must_suit_their_vr(
    mpps: MppsProtocol, store: ProgressStore, keyword: str, value: str
) -> None:
    ds = scheduled()
    raw(ds.ScheduledStepAttributesSequence[0], keyword, value)
    outcome = create(mpps, ds)
    refused(outcome, INVALID_ATTRIBUTE_VALUE, keyword)
    assert "ScheduledStepAttributesSequence[1]>" in outcome.message
    assert store.recent() == []


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("PerformedProcedureStepStartDate", "20260101-20261231"),
        ("PerformedProcedureStepStartDate", "-20261231"),
        ("PerformedProcedureStepStartTime", "000000.000000-235959.999999"),
        ("PerformedProcedureStepStartTime", "0800-"),
        ("PerformedProcedureStepEndDate", "20260101-"),
        ("PerformedProcedureStepEndTime", "120000-130000"),
    ],
)
def test_a_range_where_one_date_or_time_is_meant_is_refused(
    mpps: MppsProtocol, store: ProgressStore, keyword: str, value: str
) -> None:
    """pydicom takes a query's range as a valid DA or TM; the store's 32-character start and end
    columns (date and time joined) do not, and a performed step has one start."""
    validate_value("DA" if keyword.endswith("Date") else "TM", value, True)  # pydicom alone would let it in
    outcome = create(mpps, raw(scheduled(), keyword, value))
    refused(outcome, INVALID_ATTRIBUTE_VALUE, keyword)
    assert "not a single" in outcome.message
    assert store.recent() == []


def test_a_range_in_an_n_set_leaves_the_step_as_it_was(mpps: MppsProtocol, store: ProgressStore) -> None:
    create(mpps)
    before = store.get(UID)
    finished = completed()
    finished.PerformedProcedureStepEndDate = "20260101-20261231"
    refused(update(mpps, finished), INVALID_ATTRIBUTE_VALUE, "PerformedProcedureStepEndDate")
    assert store.get(UID) == before


def test_a_value_nobody_reads_is_left_out_not_refused(mpps: MppsProtocol, store: ProgressStore) -> None:
    ds = raw(raw(scheduled(), "PatientWeight", "abc"), "PatientSize", "tall")
    outcome = create(mpps, ds)
    assert outcome.status == SUCCESS
    assert len(outcome.notes) == 1 and "PatientWeight (0010,1030)" in outcome.notes[0]
    assert "PatientSize (0010,1020)" in outcome.notes[0] and outcome.notes[0] in outcome.message
    stored = attributes(store)
    assert "00101030" not in stored and "00101020" not in stored and "00100020" in stored


def test_private_and_binary_attributes_are_kept(mpps: MppsProtocol, store: ProgressStore) -> None:
    ds = scheduled()
    ds.add_new(0x00090010, "LO", "ACME 1.0")
    ds.add_new(0x00091001, "OB", b"\x00\xff" * 10)
    assert create(mpps, ds).status == SUCCESS
    stored = attributes(store)
    assert stored["00090010"]["Value"] == ["ACME 1.0"] and "InlineBinary" in stored["00091001"]


def test_an_attribute_list_too_large_to_keep_is_refused(store: ProgressStore) -> None:
    mpps = MppsProtocol(store, max_attributes=5_000)
    ds = scheduled()
    ds.CommentsOnThePerformedProcedureStep = "x" * 6_000
    refused(create(mpps, ds), RESOURCE_LIMITATION, "too large")
    assert store.recent() == []
    ds.CommentsOnThePerformedProcedureStep = "x" * 1_000
    assert create(mpps, ds).status == SUCCESS


# -- N-SET -----------------------------------------------------------------------------------------------
def test_a_whole_session_merges_every_n_set(mpps: MppsProtocol, store: ProgressStore) -> None:
    create(mpps)
    progress = Dataset()
    progress.PerformedProcedureStepStatus = IN_PROGRESS
    progress.CommentsOnThePerformedProcedureStep = "dog moved; second exposure"
    progress.PerformedSeriesSequence = completed(series=1).PerformedSeriesSequence
    outcome = update(mpps, progress)
    assert (outcome.status, outcome.outcome, outcome.step_status, outcome.notes) == (SUCCESS, OK, IN_PROGRESS, ())
    finished = completed(series=2)
    outcome = update(mpps, finished)
    assert (outcome.status, outcome.step_status, outcome.notes) == (SUCCESS, COMPLETED, ())
    step = store.get(UID)
    assert step is not None
    assert step.status == COMPLETED
    assert step.ended == finished.PerformedProcedureStepEndDate + finished.PerformedProcedureStepEndTime
    assert f"ended {step.ended}" in outcome.message
    assert [(e.event, e.status) for e in step.events] == [
        ("N-CREATE", IN_PROGRESS),
        ("N-SET", IN_PROGRESS),
        ("N-SET", COMPLETED),
    ]
    stored = attributes(store)
    assert stored["00400280"]["Value"] == ["dog moved; second exposure"]  # kept: the last N-SET left it alone
    assert stored["00100010"]["Value"] == [{"Alphabetic": "García^Luna"}]  # kept from the N-CREATE
    series = [item["0020000E"]["Value"][0] for item in stored["00400340"]["Value"]]
    assert series == [str(item.SeriesInstanceUID) for item in finished.PerformedSeriesSequence]  # replaced whole
    assert stored["00400252"]["Value"] == [COMPLETED]
    assert list(stored) == sorted(stored)


def test_an_n_set_may_say_nothing_new(mpps: MppsProtocol, store: ProgressStore) -> None:
    create(mpps)
    before = attributes(store)
    outcome = update(mpps, Dataset())
    assert (outcome.status, outcome.step_status) == (SUCCESS, IN_PROGRESS)
    assert attributes(store) == before


def test_an_n_set_for_an_unknown_instance_is_refused(mpps: MppsProtocol, store: ProgressStore) -> None:
    refused(update(mpps, completed()), NO_SUCH_SOP_INSTANCE, "No such")
    refused(mpps.n_set(None, completed(), AET, ADDRESS), NO_SUCH_SOP_INSTANCE)
    huge = update(mpps, completed(), uid="9" * 10_000)
    refused(huge, NO_SUCH_SOP_INSTANCE)
    assert len(huge.uid) < 70 and len(huge.message) < 200  # the log stays readable
    assert store.recent() == []


@pytest.mark.parametrize(
    ("aet", "address"), [("DX_ROOM2", ADDRESS), (AET, "192.0.2.99")], ids=["other AE", "other address"]
)
def test_only_the_creator_may_change_a_step(mpps: MppsProtocol, store: ProgressStore, aet: str, address: str) -> None:
    create(mpps)
    before = store.get(UID)
    outcome = mpps.n_set(UID, wire(completed()), aet, address)
    refused(outcome, NOT_AUTHORIZED, "Not authorized")
    assert f"from {aet!r} at {address}" in outcome.message and "NSetFromOtherAETs" in outcome.message
    assert store.get(UID) == before
    assert update(mpps, completed()).status == SUCCESS  # the creator still may


def test_a_site_may_let_another_ae_title_change_a_step(store: ProgressStore) -> None:
    mpps = MppsProtocol(store, n_set_from_other_aets=True)
    create(mpps)
    outcome = mpps.n_set(UID, wire(completed()), "DX_ROOM1_B", "192.0.2.12")
    assert (outcome.status, outcome.step_status) == (SUCCESS, COMPLETED)
    step = store.get(UID)
    assert step is not None and [e.calling_aet for e in step.events] == [AET, "DX_ROOM1_B"]
    assert step.calling_aet == AET  # still who created it


def test_an_n_set_cannot_touch_an_arrived_study(mpps: MppsProtocol, store: ProgressStore) -> None:
    study = PerformedStep("study:1.2.9", STUDY, COMPLETED, references=(Reference(study_instance_uid="1.2.9"),))
    store.study_arrived(study, "new study")
    before = store.get("study:1.2.9")
    refused(update(mpps, completed(status=DISCONTINUED), uid="study:1.2.9"), NO_SUCH_SOP_INSTANCE)
    assert store.get("study:1.2.9") == before


@pytest.mark.parametrize("final", [COMPLETED, DISCONTINUED])
def test_a_finished_step_may_no_longer_be_updated(mpps: MppsProtocol, store: ProgressStore, final: str) -> None:
    create(mpps)
    update(mpps, completed(status=final))
    before = store.get(UID)
    for late in (completed(), completed(status=DISCONTINUED), Dataset()):
        outcome = update(mpps, late)
        refused(outcome, PROCESSING_FAILURE)
        assert (outcome.comment, outcome.error_id) == (FINAL_COMMENT, MAY_NO_LONGER_BE_UPDATED)
        assert final in outcome.message
    assert store.get(UID) == before


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("FINISHED", INVALID_ATTRIBUTE_VALUE),
        ("SCHEDULED", INVALID_ATTRIBUTE_VALUE),
        ("completed!", INVALID_ATTRIBUTE_VALUE),
        ("", MISSING_ATTRIBUTE_VALUE),
    ],
)
def test_an_invalid_status_is_refused(mpps: MppsProtocol, store: ProgressStore, value: str, status: int) -> None:
    create(mpps)
    before = store.get(UID)
    ds = completed()
    ds.PerformedProcedureStepStatus = value
    refused(update(mpps, ds), status, "PerformedProcedureStepStatus")
    assert store.get(UID) == before


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("Modality", "CR"),
        ("PerformedStationAETitle", "CT_ROOM"),
        ("PerformedProcedureStepStartDate", "19990101"),
        ("PatientID", "999"),
        ("PerformedProcedureStepID", "OTHER"),
    ],
)
def test_what_only_the_n_create_sets_may_not_change(
    mpps: MppsProtocol, store: ProgressStore, keyword: str, value: str
) -> None:
    create(mpps)
    before = store.get(UID)
    ds = completed()
    setattr(ds, keyword, value)
    outcome = update(mpps, ds)
    refused(outcome, NO_SUCH_ATTRIBUTE, "Not allowed", keyword)
    assert "only the N-CREATE may set" in outcome.message
    assert store.get(UID) == before


def test_what_only_the_n_create_sets_may_be_sent_again_unchanged(mpps: MppsProtocol, store: ProgressStore) -> None:
    created = scheduled()
    create(mpps, created)
    ds = completed()
    ds.SpecificCharacterSet = "ISO_IR 192"  # required in an N-SET with non-ASCII text (Table F.7.2-1: 1C)
    for keyword in ("Modality", "PerformedStationAETitle", "PerformedProcedureStepID", "PatientName", "StudyID"):
        setattr(ds, keyword, created[keyword].value)
    ds.ScheduledStepAttributesSequence = created.ScheduledStepAttributesSequence
    assert update(mpps, ds).status == SUCCESS


def test_series_items_need_their_type1_attributes(mpps: MppsProtocol, store: ProgressStore) -> None:
    create(mpps)
    before = store.get(UID)
    ds = completed()
    del ds.PerformedSeriesSequence[0].ProtocolName
    refused(update(mpps, ds), MISSING_ATTRIBUTE, "ProtocolName")
    ds = completed(images=1)
    ds.PerformedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID = ""
    refused(update(mpps, ds), MISSING_ATTRIBUTE_VALUE, "ReferencedSOPInstanceUID")
    assert store.get(UID) == before


@pytest.mark.parametrize(
    ("keyword", "value"), [("PerformedProcedureStepEndDate", "yesterday"), ("PerformedProcedureStepEndTime", "9 pm")]
)
def test_an_invalid_end_is_refused(mpps: MppsProtocol, store: ProgressStore, keyword: str, value: str) -> None:
    create(mpps)
    before = store.get(UID)
    refused(update(mpps, raw(completed(), keyword, value)), INVALID_ATTRIBUTE_VALUE, keyword)
    assert store.get(UID) == before


def test_a_completion_without_its_final_state_is_recorded_with_a_note(mpps: MppsProtocol, store: ProgressStore) -> None:
    create(mpps)
    ds = Dataset()
    ds.PerformedProcedureStepStatus = COMPLETED
    outcome = update(mpps, ds)
    assert (outcome.status, outcome.outcome, outcome.step_status) == (SUCCESS, OK, COMPLETED)
    (note,) = outcome.notes
    for keyword in ("PerformedProcedureStepEndDate", "PerformedProcedureStepEndTime", "PerformedSeriesSequence"):
        assert keyword in note
    assert note in outcome.message
    step = store.get(UID)
    assert step is not None and (step.status, step.ended) == (COMPLETED, "")


def test_a_discontinued_exam_without_series_is_recorded_with_a_note(mpps: MppsProtocol, store: ProgressStore) -> None:
    create(mpps)
    outcome = update(mpps, completed(series=0, status=DISCONTINUED))
    assert (outcome.status, outcome.step_status) == (SUCCESS, DISCONTINUED)
    (note,) = outcome.notes
    assert "PerformedSeriesSequence" in note and "EndDate" not in note
    step = store.get(UID)
    assert step is not None and step.status == DISCONTINUED and step.ended


def test_the_end_given_while_in_progress_counts_at_completion(mpps: MppsProtocol, store: ProgressStore) -> None:
    create(mpps)
    early = completed(status=IN_PROGRESS)
    update(mpps, early)
    finish = Dataset()
    finish.PerformedProcedureStepStatus = COMPLETED
    outcome = update(mpps, finish)
    assert outcome.notes == ()
    step = store.get(UID)
    assert step is not None
    assert step.ended == early.PerformedProcedureStepEndDate + early.PerformedProcedureStepEndTime


def test_a_garbage_value_in_an_n_set_keeps_the_stored_one(mpps: MppsProtocol, store: ProgressStore) -> None:
    ds = scheduled()
    ds.CommentsOnThePerformedProcedureStep = "first"
    create(mpps, ds)
    outcome = update(mpps, raw(completed(), "PatientWeight", "heavy"))
    assert outcome.status == SUCCESS and "PatientWeight" in outcome.notes[0]
    assert attributes(store)["00400280"]["Value"] == ["first"]


# -- failures ------------------------------------------------------------------------------------------
def unreachable(*args: object, **kwargs: object) -> object:
    raise OSError("08001", "could not connect to server: Connection refused")


def test_a_store_that_is_down_fails_both_operations(tmp_path: Path) -> None:
    database = Database(str(tmp_path / "nowhere.sqlite"), 5, 5, connect=unreachable)
    mpps = MppsProtocol(sqlite_store(tmp_path, database=database))
    for outcome in (create(mpps), update(mpps, completed())):
        assert (outcome.status, outcome.outcome) == (PROCESSING_FAILURE, FAILED)
        assert "state store" in outcome.comment and len(outcome.comment) <= 64
        assert "cannot be reached" in outcome.message and "could not connect" in outcome.message
    database.close()


def test_an_unexpected_error_answers_processing_failure_and_is_logged(
    mpps: MppsProtocol, store: ProgressStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(store, "create", broken)
    outcome = create(mpps)
    assert (outcome.status, outcome.outcome) == (PROCESSING_FAILURE, INTERNAL)
    assert "RuntimeError: boom" in outcome.message and len(outcome.comment) <= 64
    (record,) = [r for r in caplog.records if r.name == "vetmwl.mpps"]
    assert record.levelno == logging.ERROR and record.exc_info is not None


def test_an_unreadable_data_set_is_refused() -> None:
    outcome = unreadable("N-SET", UID, ValueError("truncated"))
    refused(outcome, INVALID_ATTRIBUTE_VALUE, "cannot be read")
    assert outcome.uid == UID and "truncated" in outcome.message
