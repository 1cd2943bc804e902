"""C-FIND identifier to filters: what is matched, what is universal, and what is refused."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from pydicom.dataset import Dataset

from support.identifier_files import identifier
from vetmwl.dialects import DIALECTS as FACTS
from vetmwl.errors import QueryError
from vetmwl.kinds import Equals, InList, ItemMatch, Like, Range, TimeOfDay, person_name_upper
from vetmwl.model import START_DATETIME, STATUS, Level
from vetmwl.query import WorklistQuery, _private_tags, parse_query, read_identifier
from vetmwl.studyuid import derived_study_uid
from vetmwl.web.identifiers import file_bytes

STEP = Level.STEP


def code_item(**keys: str) -> Dataset:
    item = Dataset()
    for keyword, value in keys.items():
        setattr(item, keyword, value)
    return item


def parse(step: dict[str, Any] | list[dict[str, Any]] | None = None, **root: Any) -> WorklistQuery:
    """Parse an identifier the way the plugin gets it from Orthanc: as DICOM file bytes."""
    return parse_query(read_identifier(file_bytes(identifier(step, **root))))


@pytest.mark.parametrize(
    "root",
    [
        {"PatientName": ""},
        {"PatientName": "*"},
        {"PatientName": "*^*"},
        {"PatientName": "^"},
        {"PatientName": "*^*^*^*^*"},
        {"PatientID": ""},
        {"PatientID": "*"},
        {"PatientID": "**"},
        {"AccessionNumber": "*"},
        {"ReferringPhysicianName": "*^*"},
        {"StudyInstanceUID": ""},
        {"PatientBirthDate": ""},
    ],
)
def test_universal_values_are_no_filter(root: dict[str, str]) -> None:
    assert parse(**root).filters == ()


@pytest.mark.parametrize(
    "step",
    [
        {"Modality": "", "ScheduledProcedureStepStartDate": "", "ScheduledProcedureStepStartTime": ""},
        {"Modality": "*", "ScheduledStationAETitle": "*", "ScheduledPerformingPhysicianName": "*^*"},
    ],
)
def test_universal_step_values_are_no_filter(step: dict[str, str]) -> None:
    assert parse(step, PatientName="").filters == ()


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ({"PatientName": "SMITH*"}, Like("PatientName", "SMITH*", fold_case=True)),
        ({"PatientName": "sm?th^*"}, Like("PatientName", "sm?th^*", fold_case=True)),
        ({"PatientName": "Smith^Rex"}, Equals("PatientName", "Smith^Rex", fold_case=True)),
        ({"PatientName": "Smith^Rex^^^"}, Equals("PatientName", "Smith^Rex", fold_case=True)),
        ({"PatientName": "Smith^"}, Equals("PatientName", "Smith", fold_case=True)),
        ({"ReferringPhysicianName": "Carter*"}, Like("ReferringPhysicianName", "Carter*", fold_case=True)),
        ({"ResponsiblePerson": "Smith"}, Equals("ResponsiblePerson", "Smith", fold_case=True)),
        ({"PatientID": "000001"}, Equals("PatientID", "000001")),
        ({"PatientID": "0000?1"}, Like("PatientID", "0000?1")),
        ({"AccessionNumber": "2601*"}, Like("AccessionNumber", "2601*")),
        ({"PatientSpeciesDescription": "Felis catus"}, Equals("PatientSpeciesDescription", "Felis catus")),
        ({"StudyInstanceUID": "1.2.3"}, InList("StudyInstanceUID", ("1.2.3",))),
        ({"StudyInstanceUID": ["1.2.3", "1.2.4"]}, InList("StudyInstanceUID", ("1.2.3", "1.2.4"))),
        # A UID the plugin may have derived also selects rows without a stored UID (checked in Python).
        ({"StudyInstanceUID": "2.25.1234"}, InList("StudyInstanceUID", ("2.25.1234",), or_unknown=True)),
        ({"StudyInstanceUID": ["1.2.3", "2.25.9"]}, InList("StudyInstanceUID", ("1.2.3", "2.25.9"), or_unknown=True)),
        ({"PatientSex": "F"}, Equals("PatientSex", "F")),
        ({"PatientSexNeutered": "ALTERED"}, Equals("PatientSexNeutered", "ALTERED")),
        ({"PatientSpeciesDescription": "Felis*"}, Like("PatientSpeciesDescription", "Felis*")),
        ({"PatientBreedDescription": "Pach?n*"}, Like("PatientBreedDescription", "Pach?n*")),
        ({"RequestedProcedureID": "RP00007"}, Equals("RequestedProcedureID", "RP00007")),
        ({"RequestedProcedureID": "RP0000?"}, Like("RequestedProcedureID", "RP0000?")),
        ({"PatientBirthDate": "20180304"}, Range("PatientBirthDate", date(2018, 3, 4), date(2018, 3, 5))),
        ({"PatientBirthDate": "20180101-"}, Range("PatientBirthDate", date(2018, 1, 1), None)),
        ({"ReferringPhysicianName": "carter^emily^^dr"}, Equals("ReferringPhysicianName", "carter^emily^^dr", True)),
        ({"StudyInstanceUID": "1.2.3\\1.2.4\\1.2.5"}, InList("StudyInstanceUID", ("1.2.3", "1.2.4", "1.2.5"))),
        ({"PatientBirthDate": "20180101-20181231"}, Range("PatientBirthDate", date(2018, 1, 1), date(2019, 1, 1))),
        ({"PatientBirthDate": "-20180101"}, Range("PatientBirthDate", None, date(2018, 1, 2))),
    ],
)
def test_root_filters(root: dict[str, Any], expected: object) -> None:
    assert parse(**root).filters == (expected,)


def test_case_is_folded_only_for_person_names() -> None:
    """Our conformance statement: PN matching ignores case, other VRs match exactly."""
    accession, name = parse(PatientName="smith*", AccessionNumber="ab*").filters  # in tag order
    assert name.bind(FACTS["postgresql"]) == ["SMITH%"]
    assert accession.bind(FACTS["postgresql"]) == ["ab%"]


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({"Modality": "DX"}, Equals("Modality", "DX", level=STEP)),
        ({"ScheduledStationAETitle": "DX_ROOM*"}, Like("ScheduledStationAETitle", "DX_ROOM*", level=STEP)),
        ({"ScheduledProcedureStepID": "SPS00001"}, Equals("ScheduledProcedureStepID", "SPS00001", level=STEP)),
        ({"ScheduledProcedureStepID": "SPS0000*"}, Like("ScheduledProcedureStepID", "SPS0000*", level=STEP)),
        (
            {"ScheduledPerformingPhysicianName": "Kim^Jae"},
            Equals("ScheduledPerformingPhysicianName", "Kim^Jae", True, level=STEP),
        ),
        # An unknown status is SCHEDULED, so a key that selects SCHEDULED selects those steps too.
        ({"ScheduledProcedureStepStatus": "SCHEDULED"}, Equals(STATUS, "SCHEDULED", or_unknown=True, level=STEP)),
        ({"ScheduledProcedureStepStatus": "SCHED*"}, Like(STATUS, "SCHED*", or_unknown=True, level=STEP)),
        ({"ScheduledProcedureStepStatus": "ARRIVED"}, Equals(STATUS, "ARRIVED", level=STEP)),
        ({"ScheduledProcedureStepStatus": "?????"}, Like(STATUS, "?????", level=STEP)),
        (
            {"ScheduledPerformingPhysicianName": "patel*"},
            Like("ScheduledPerformingPhysicianName", "patel*", fold_case=True, level=STEP),
        ),
        (
            {"ScheduledProcedureStepStartDate": "20260105-20260107"},
            Range(START_DATETIME, datetime(2026, 1, 5), datetime(2026, 1, 8), level=STEP),
        ),
        (
            {"ScheduledProcedureStepStartDate": "20260105-"},
            Range(START_DATETIME, datetime(2026, 1, 5), None, level=STEP),
        ),
        (
            {"ScheduledProcedureStepStartDate": "", "ScheduledProcedureStepStartTime": "0800-1200"},
            TimeOfDay(START_DATETIME, timedelta(hours=8), timedelta(hours=12, microseconds=1), STEP, "0800-1200"),
        ),
    ],
)
def test_step_filters(step: dict[str, str], expected: object) -> None:
    assert parse(step).filters == (expected,)


def test_date_and_time_ranges_are_read_apart_as_orthanc_reads_them() -> None:
    """PS3.4 K.6-1 would combine two ranges into one interval; Orthanc's re-check reads them apart and
    would empty the step item of a step on a middle day outside the time window (conformance.md)."""
    query = parse(
        {"ScheduledProcedureStepStartDate": "20260705-20260707", "ScheduledProcedureStepStartTime": "1000-1800"}
    )
    assert query.filters == (
        Range(START_DATETIME, datetime(2026, 7, 5), datetime(2026, 7, 8), level=STEP),
        TimeOfDay(START_DATETIME, timedelta(hours=10), timedelta(hours=18, microseconds=1), STEP, "1000-1800"),
    )
    assert query.start_time_text == "1000-1800"


def test_filters_from_root_and_step_together() -> None:
    query = parse(
        {"Modality": "DX", "ScheduledProcedureStepStartDate": "20260105", "ScheduledStationAETitle": ""},
        PatientName="Smith*",
        PatientID="",
    )
    assert set(query.filters) == {
        Like("PatientName", "Smith*", fold_case=True),
        Equals("Modality", "DX", level=STEP),
        Range(START_DATETIME, datetime(2026, 1, 5), datetime(2026, 1, 6), level=STEP),
    }
    assert query.step_requested is not None
    assert "ScheduledStationAETitle" in query.step_requested


@pytest.mark.parametrize(
    ("step", "root"),
    [
        ({"ScheduledProcedureStepStartDate": "20261340"}, {}),
        ({"ScheduledProcedureStepStartDate": "yesterday"}, {}),
        ({"ScheduledProcedureStepStartDate": "20260107-20260105"}, {}),
        ({"ScheduledProcedureStepStartDate": "20260105", "ScheduledProcedureStepStartTime": "2500"}, {}),
        ({"ScheduledProcedureStepStartTime": "1800-1000"}, {}),
        (None, {"PatientBirthDate": "2018"}),
    ],
)
def test_malformed_dates_and_times_are_refused(step: dict[str, str] | None, root: dict[str, str]) -> None:
    with pytest.raises(QueryError):
        parse(step, **root)


def test_more_than_one_step_item_is_refused() -> None:
    with pytest.raises(QueryError, match="more than one item"):
        parse([{"Modality": "DX"}, {"Modality": "CR"}])


def test_unknown_character_set_is_refused() -> None:
    with pytest.warns(UserWarning), pytest.raises(QueryError, match="ISO_IR 999"):
        parse(SpecificCharacterSet="ISO_IR 999", PatientName="Smith*")


def test_latin1_query_is_decoded_with_its_character_set() -> None:
    dataset = identifier(
        {"ScheduledPerformingPhysicianName": "Jörg*"}, SpecificCharacterSet="ISO_IR 100", PatientName="Müller*"
    )
    raw = file_bytes(dataset)
    assert "Müller".encode("latin-1") in raw  # really sent in Latin-1, not UTF-8
    query = parse_query(read_identifier(raw))
    assert query.filters == (
        Like("PatientName", "Müller*", fold_case=True),
        Like("ScheduledPerformingPhysicianName", "Jörg*", fold_case=True, level=STEP),
    )
    assert query.filters[0].bind(FACTS["postgresql"]) == ["MÜLLER%"]


def test_japanese_iso_2022_query_is_decoded() -> None:
    query = parse(SpecificCharacterSet=["", "ISO 2022 IR 87"], PatientName="山田^ポチ")
    assert query.filters == (Equals("PatientName", "山田^ポチ", fold_case=True),)


def test_query_retrieve_level_is_dropped() -> None:
    """Some modalities send (0008,0052); it is no worklist key and must not reach the answers."""
    query = parse(QueryRetrieveLevel="PATIENT", PatientID="X")
    assert "QueryRetrieveLevel" not in query.identifier
    assert query.filters == (Equals("PatientID", "X"),)


@pytest.mark.parametrize(
    ("step", "root"),
    [
        (None, {"SpecificCharacterSet": "ISO_IR 192"}),
        (None, {"TimezoneOffsetFromUTC": "+0100"}),
        ({"Modality": "", "ScheduledProtocolCodeSequence": []}, {}),  # a zero-length sequence: universal
        ({"ScheduledProtocolCodeSequence": [Dataset()]}, {}),  # an empty item: universal too
    ],
)
def test_never_matched_and_universal_keys_are_not_filters(step: dict[str, Any] | None, root: dict[str, Any]) -> None:
    assert parse(step, **root).filters == ()


@pytest.mark.parametrize(
    ("step", "root", "expected"),
    [
        (None, {"InstitutionName": "Riverside"}, Equals("InstitutionName", "Riverside")),
        (None, {"PatientWeight": "32"}, Equals("PatientWeight", "32")),  # DS: by value, in Python
        (None, {"ResponsiblePersonRole": "OWNER"}, Equals("ResponsiblePersonRole", "OWNER")),
        (None, {"MedicalAlerts": "bites"}, Equals("MedicalAlerts", "bites")),
        (
            {"CommentsOnTheScheduledProcedureStep": "urgent"},
            {},
            Equals("CommentsOnTheScheduledProcedureStep", "urgent", level=STEP),
        ),
        (
            {"ScheduledProcedureStepEndTime": "1200-"},
            {},
            TimeOfDay("ScheduledProcedureStepEndTime", timedelta(hours=12), None, STEP, "1200-"),
        ),
        (
            {"ScheduledProtocolCodeSequence": [code_item(CodeValue="P1", CodeMeaning="")]},
            {},
            ItemMatch("ScheduledProtocolCodeSequence", (Equals("CodeValue", "P1", level=STEP),), STEP),
        ),
    ],
)
def test_every_attribute_of_the_model_can_be_matched(
    step: dict[str, Any] | None, root: dict[str, Any], expected: object
) -> None:
    assert parse(step, **root).filters == (expected,)


def test_no_step_sequence_means_no_step_requested() -> None:
    assert parse(PatientID="").step_requested is None


@pytest.mark.parametrize("step", [[], {}])
def test_empty_step_sequence_or_item_requests_the_whole_step(step: list[Any] | dict[str, Any]) -> None:
    query = parse(step, PatientID="")
    assert query.step_requested is not None
    assert len(query.step_requested) == 0
    assert query.filters == ()


def test_matching_keys_lists_only_non_universal_keys() -> None:
    query = parse(
        {"Modality": "DX", "ScheduledProcedureStepStartDate": "20260105", "ScheduledStationAETitle": ""},
        PatientName="Smith*",
        PatientID="",
        StudyInstanceUID=["1.2.3", "1.2.4"],
    )
    assert query.matching_keys() == {
        "PatientName": "Smith*",
        "StudyInstanceUID": "1.2.3\\1.2.4",
        "Modality": "DX",
        "ScheduledProcedureStepStartDate": "2026-01-05 00:00:00..2026-01-06 00:00:00",
    }


def test_matching_keys_of_open_range() -> None:
    query = parse({"ScheduledProcedureStepStartDate": "20260105-"})
    assert query.matching_keys() == {"ScheduledProcedureStepStartDate": "2026-01-05 00:00:00.."}


def test_read_identifier_drops_the_file_meta() -> None:
    dataset = read_identifier(file_bytes(identifier(PatientID="X")))
    assert dataset.PatientID == "X"
    assert len(dataset.file_meta) == 0


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        # PS3.5 6.2: spaces around SH, LO, CS, PN are padding; LT keeps its leading spaces.
        ({"PatientID": "  000001  "}, Equals("PatientID", "000001")),
        ({"AccessionNumber": " 2601* "}, Like("AccessionNumber", "2601*")),
        ({"PatientSex": "F "}, Equals("PatientSex", "F")),
        ({"PatientName": " Smith^Rex^^ "}, Equals("PatientName", "Smith^Rex", fold_case=True)),
        ({"PatientComments": "  bites*  "}, Like("PatientComments", "  bites*")),
        ({"StudyInstanceUID": "1.2.3\0"}, InList("StudyInstanceUID", ("1.2.3",))),
        ({"StudyInstanceUID": "*"}, None),
    ],
)
def test_padding_is_removed_as_each_vr_says(root: dict[str, str], expected: object) -> None:
    assert parse(**root).filters == (() if expected is None else (expected,))


@pytest.mark.parametrize(
    ("f", "value", "matches"),
    [
        (Equals(STATUS, "SCHEDULED", or_unknown=True), None, True),
        (Equals(STATUS, "SCHEDULED", or_unknown=True), "", True),
        (Equals(STATUS, "ARRIVED"), None, False),
        (Like("PatientBreedDescription", "Pach?n*"), "Pachón Navarro", True),  # ? is one character
        (Like("PatientBreedDescription", "Pach??n*"), "Pachón Navarro", False),  # not one byte
        (Like("AccessionNumber", "ab*"), "AB1", False),  # case-sensitive outside PN
        (Like("PatientName", "m?ller*", fold_case=True), "Müller^Bello", True),
        (InList("Modality", ("DX", "CR")), "CR", True),
        (InList("Modality", ("DX", "CR")), "US", False),
    ],
)
def test_text_matches_decides_like_the_sql(f: object, value: str | None, matches: bool) -> None:
    assert f.matches(value) is matches


def test_a_uid_list_matches_the_effective_uid() -> None:
    """Python matches the UID the answer carries: the stored one, or the derived one (vetmwl.values)."""
    derived = derived_study_uid({"AccessionNumber": "A1", "PatientID": "P1"})
    wanted = InList("StudyInstanceUID", (derived, "1.2.3"), or_unknown=True)
    assert wanted.matches(derived)
    assert wanted.matches("1.2.3")
    assert not wanted.matches("1.2.4")


@pytest.mark.parametrize(
    ("charset", "name", "encoding"),
    [
        ("ISO_IR 100", "Müller*", "latin-1"),
        ("ISO_IR 192", "山田^ポチ", "utf-8"),
        ("ISO_IR 144", "Иванов^Шарик", "iso8859-5"),
        ("ISO_IR 126", "Παπαδόπουλος*", "iso8859-7"),
        ("ISO_IR 101", "Dvořák*", "iso8859-2"),
    ],
)
def test_single_byte_and_utf8_queries_are_decoded(charset: str, name: str, encoding: str) -> None:
    raw = file_bytes(identifier(SpecificCharacterSet=charset, PatientName=name))
    assert name.encode(encoding) in raw  # really sent in that character set
    (found,) = parse_query(read_identifier(raw)).filters
    assert (found.pattern if isinstance(found, Like) else found.value) == name


def raw_identifier(*elements: tuple[int, bytes]) -> bytes:
    """An identifier written byte by byte (Implicit VR Little Endian), for values pydicom would not write."""
    import struct

    out = b""
    for tag, value in sorted(elements):
        if len(value) % 2:
            value += b" "
        out += struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value
    return out


@pytest.mark.parametrize(
    ("elements", "message"),
    [
        ([(0x00100030, b"\x1c\x0c")], r"PatientBirthDate \(DA\) holds the control character\(s\) U\+000C, U\+001C"),
        ([(0x00100010, b"Smith\x01*")], r"PatientName \(PN\) holds the control character\(s\) U\+0001"),
        ([(0x00100020, b"12\x7f")], r"PatientID \(LO\) holds the control character\(s\) U\+007F"),
        ([(0x00080005, b"ISO_IR 100"), (0x00100020, b"12\x85")], r"U\+0085"),  # a C1 control in Latin-1
        ([(0x00100040, b"F\\M")], r"PatientSex holds 2 values; only Study Instance UID"),
        ([(0x00100030, b"20200101\\20210101")], "PatientBirthDate holds 2 values"),
        ([(0x00080005, b"ISO_IR 192"), (0x00100010, b"M\xfcller")], "cannot be decoded"),
    ],
)
def test_values_a_vr_does_not_allow_are_refused(elements: list[tuple[int, bytes]], message: str) -> None:
    """One reading of each value decides: a value its VR does not allow never reaches the SQL."""
    warns = pytest.warns(UserWarning) if any(b"\xfc" in v for _, v in elements) else nullcontext()
    with warns, pytest.raises(QueryError, match=message):
        parse_query(read_identifier(raw_identifier(*elements)))


def test_text_vrs_may_hold_line_breaks_and_tabs() -> None:
    query = parse_query(read_identifier(raw_identifier((0x00100010, b"Smith*"), (0x00104000, b"a\tb\r\nc"))))
    assert query.filters[1] == Equals("PatientComments", "a\tb\r\nc")


def test_a_list_of_uids_is_the_one_multi_valued_key() -> None:
    query = parse_query(read_identifier(raw_identifier((0x0020000D, b"1.2.3\\1.2.4"))))
    assert query.filters[0].values == ("1.2.3", "1.2.4")


def test_non_ascii_without_a_character_set_is_read_as_latin1() -> None:
    query = parse_query(read_identifier(raw_identifier((0x00100010, "Müller*".encode("latin-1")))))
    assert query.filters == (Like("PatientName", "Müller*", fold_case=True),)


def test_private_attributes_are_listed_and_never_matched() -> None:
    step = raw_identifier((0x00080060, b"DX"), (0x00091010, b"x"))
    item = b"\xfe\xff\x00\xe0" + len(step).to_bytes(4, "little") + step
    sequence = (0x00400100, item)
    query = parse_query(read_identifier(raw_identifier((0x00290010, b"ACME"), (0x00291001, b"y"), sequence)))
    assert query.private_tags == ("(0029,0010)", "(0029,1001)", "(0009,1010)")
    assert [f.keyword for f in query.filters] == ["Modality"]


def test_person_names_are_upper_cased_one_character_at_a_time() -> None:
    """The databases' UPPER() keeps ß (its capital is two letters), so the bound value must keep it:
    bound as STRASSE, 'Straße' would never find the stored Straße."""
    assert person_name_upper("Straße^Rex") == "STRAßE^REX"
    assert person_name_upper("ﬁsh^müller") == "ﬁSH^MÜLLER"  # the ligature's capital is FI: kept too
    assert person_name_upper("Smith^Rex") == "SMITH^REX"
    assert Equals("PatientName", "Straße^Rex", fold_case=True).bind(FACTS["postgresql"]) == ["STRAßE^REX"]
    assert Like("PatientName", "straße*", fold_case=True).bind(FACTS["postgresql"]) == ["STRAßE%"]
    assert Like("PatientID", "straße*").bind(FACTS["postgresql"]) == ["straße%"]  # only PN folds case


def test_one_reading_of_what_a_key_selects() -> None:
    """What decides the statuses a key selects, before any row is read (query and service alike)."""
    assert Like(STATUS, "SCHED*", level=STEP).selects("SCHEDULED")
    assert not Like(STATUS, "sched*", level=STEP).selects("SCHEDULED")
    assert Equals(STATUS, "SCHEDULED", level=STEP).selects("SCHEDULED")
    assert InList(STATUS, ("ARRIVED", "IN PROGRESS"), level=STEP).selects("IN PROGRESS")
    assert not Like(STATUS, "IN?PROGRESS", level=STEP).selects("IN  PROGRESS")
    assert Like("PatientName", "stra?e*", fold_case=True).selects("STRAßE^Rex")


def implicit_step(*elements: tuple[int, bytes]) -> bytes:
    """An identifier in Implicit VR Little Endian whose SPS item holds ``elements``: no element says its VR."""
    step = raw_identifier(*elements)
    return raw_identifier((0x00400100, b"\xfe\xff\x00\xe0" + len(step).to_bytes(4, "little") + step))


def test_implicit_vr_keys_are_read_with_the_dictionarys_vr() -> None:
    """Undecoded elements of an Implicit VR identifier have no VR; the dictionary's is theirs."""
    padded = parse_query(read_identifier(implicit_step((0x00400009, b" SPS1"), (0x00080060, b""))))
    assert padded.padded_step_keys == ("ScheduledProcedureStepID",)
    private = read_identifier(implicit_step((0x00080060, b"DX"), (0x00091010, b"x")))
    assert _private_tags(private) == ["(0009,1010)"]  # found inside the sequence before it is converted


@pytest.mark.parametrize(
    ("root", "refused"),
    [
        ({"PatientID": "*" * 64}, False),  # LO: 64 characters, universal
        ({"PatientID": "*" * 64 + "Z"}, True),
        ({"AccessionNumber": "A" * 17}, True),  # SH: 16
        ({"PatientName": "A" * 64 + "=" + "B" * 64}, False),  # PN: 64 per component group
        ({"PatientName": "A" * 65}, True),
        ({"StudyInstanceUID": "1." + "2" * 62 + "\\1.3"}, False),  # UI: 64 per UID of a list
        ({"StudyInstanceUID": "1." + "2" * 63}, True),
    ],
)
def test_a_key_longer_than_its_vr_allows_is_refused(root: dict[str, Any], refused: bool) -> None:
    if refused:
        with pytest.raises(QueryError, match=r"PS3\.5 Table 6\.2-1"):
            parse(**root)
    else:
        parse(**root)
