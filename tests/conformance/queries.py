"""The conformance table: each query, the PS3.4 rule it exercises, and every known difference.

A difference is declared per side (``ours``, ``orthanc``: Orthanc's own matcher, ``dcmtk``:
wlmscpfs) with the rule that decides it and the verdict: ``WRONG`` (the standard says otherwise)
or ``CHOICE`` (the standard leaves it to the SCP). An answer of ours whose step item Orthanc's
re-check emptied is never allowed (compare.py). A query that shows a fault of the plugin says why in
its ``bug``, and fails until the plugin is fixed.
"""

from __future__ import annotations

from conformance.compare import CHOICE, EMPTY_ITEM, WRONG, ZERO_LENGTH, Diff, Query
from conformance.fixture import REFERENCED_PATIENT_FARM, REFERENCED_STUDY_1001

SV = "C.2.2.2.1 single value"
UID = "C.2.2.2.2 list of UID"
UNIVERSAL = "C.2.2.2.3 universal"
WILDCARD = "C.2.2.2.4 wildcard"
RANGE = "C.2.2.2.5 range"
SEQUENCE = "C.2.2.2.6 sequence matching"
COMBINED = "K.6-1 combined date-time (0040,0003 remark)"
PN_CASE = "C.2.2.2.1.1 PN case-insensitive (declared, K.6.1.3.2)"
PADDING = "PS3.5 6.2 padding spaces not significant"
UNKNOWN = "K.2.2.1.1.1 unknown value never matches"
OPTIONAL = "K.2.2.1.1.2 optional key not supported"
TM_SINGLE = "C.2.2.2.1.3 DA/TM single value by meaning"
TM_RANGE = "C.2.2.2.5.2 TM range by value"
CHARACTERS = "C.2.2.2.4 wildcards match characters, not bytes"
CHARSET = "K.4.1.1.3.1 query Specific Character Set"
MULTIPLE = "K.2.2.3 matching multiple values"
NUMBER = "C.2.2.2.1 single value: IS and DS by value (the SCP's to define, CP-2305)"
LT_LEADING = "PS3.5 6.2 leading spaces of LT are significant"
DT_SINGLE = "C.2.2.2.1 single value: DT by meaning, as C.2.2.2.1.3 reads DA and TM"

UID_1001 = "1.2.826.0.1.3680043.10.1386.1001"
UID_1005 = "1.2.826.0.1.3680043.10.1386.1005"
UID_1025 = "1.2.826.0.1.3680043.10.1386.1025"
UID_1039 = "1.2.826.0.1.3680043.10.1386.1039"

DATE = "ScheduledProcedureStepStartDate"
TIME = "ScheduledProcedureStepStartTime"

# Known behaviours, reused by many rows.
DCMTK_PN_CASE = Diff(PN_CASE, "wlmscpfs matches PN case-sensitively; the standard leaves case to the SCP", CHOICE)
ORTHANC_NEEDS_ATTRIBUTE = Diff(
    UNIVERSAL, "Orthanc's matcher needs the attribute present even for '*', so items without a value are lost", WRONG
)
ORTHANC_SEPARATE = Diff(COMBINED, "Orthanc matches the date and the time separately, on each day", WRONG)
ORTHANC_BYTES = Diff(
    CHARACTERS, "Orthanc's '?' stands for one byte, so it cannot match a multi-byte UTF-8 character", WRONG
)


def orthanc_tm_strings(rule: str = TM_RANGE) -> Diff:
    """Orthanc's matcher compares TM values as strings."""
    return Diff(rule, "Orthanc compares TM as strings: '08' < '0800', '083000' > '0830'")


#: Ours reads SPS Start Date and Time apart, as Orthanc's re-check does, so that no step item is
#: emptied (docs/conformance.md, "Dates and times").
OURS_SEPARATE = Diff(
    COMBINED,
    "ours reads the date and the time apart, as Orthanc's re-check of every step item does, so that no answer "
    "reaches the modality with its step item emptied",
)


def dcmtk_single_value_only(key: str) -> Diff:
    """wlmscpfs reads wildcards literally in keys that Table K.6-1 matches by single value only."""
    return Diff(WILDCARD, f"wlmscpfs reads '*' and '?' literally in {key} (single value only in K.6-1)", CHOICE)


def dcmtk_ignores(key: str) -> Diff:
    """wlmscpfs does not match this optional key: it ignores it, as K.2.2.1.1.2 allows."""
    return Diff(OPTIONAL, f"wlmscpfs does not support matching on {key} and ignores it", CHOICE)


QUERIES: list[Query] = [
    # Universal matching
    Query("univ-no-keys", UNIVERSAL),
    Query("univ-empty-name", UNIVERSAL, {"PatientName": ""}),
    Query("univ-star-name", UNIVERSAL, {"PatientName": "*"}),
    Query("univ-star-id", UNIVERSAL, {"PatientID": "*"}),
    Query(
        "univ-star-station",
        UNIVERSAL,
        step={"ScheduledStationAETitle": "*"},
        diffs={"orthanc": ORTHANC_NEEDS_ATTRIBUTE},
    ),
    Query("univ-star-accession", UNIVERSAL, {"AccessionNumber": "*"}, diffs={"orthanc": ORTHANC_NEEDS_ATTRIBUTE}),
    Query(
        "univ-star-physician",
        UNIVERSAL,
        step={"ScheduledPerformingPhysicianName": "*"},
        diffs={"orthanc": ORTHANC_NEEDS_ATTRIBUTE},
    ),
    Query(
        "univ-caret-referring",
        UNIVERSAL,
        {"ReferringPhysicianName": "^"},
        diffs={"orthanc": Diff(PADDING, "Orthanc reads '^' literally; without its trailing delimiter it is empty")},
    ),
    Query("univ-star-caret-name", WILDCARD, {"PatientName": "*^*"}),
    Query(
        "univ-star-caret-referring",
        WILDCARD,
        {"ReferringPhysicianName": "*^*"},
        diffs={
            "ours": Diff(
                WILDCARD,
                "ours treats PN keys of only '*' and '^' as universal (devices send them for 'any'), so items "
                "without a value come too; PN wildcard matching is the SCP's to define (C.2.2.2.4)",
                CHOICE,
            )
        },
    ),
    Query(
        "univ-star-caret-responsible",
        WILDCARD,
        {"ResponsiblePerson": "*^*"},
        diffs={
            "ours": Diff(
                WILDCARD,
                "ours treats PN keys of only '*' and '^' as universal (devices send them for 'any'), so items "
                "without a value come too; PN wildcard matching is the SCP's to define (C.2.2.2.4)",
                CHOICE,
            )
        },
    ),
    # Sequence matching
    Query(
        "seq-empty-item",
        SEQUENCE,
        {"PatientName": "Smith^Rex"},
        step=EMPTY_ITEM,
        diffs={"dcmtk": DCMTK_PN_CASE},
        choice=PN_CASE,
    ),
    Query("seq-zero-length", SEQUENCE, {"PatientID": "000123"}, step=ZERO_LENGTH),
    Query("seq-two-keys", SEQUENCE, step={"Modality": "CT", "ScheduledStationAETitle": "CT_SUITE"}),
    Query("seq-keys-disagree", SEQUENCE, step={"Modality": "CT", "ScheduledStationAETitle": "DX_ROOM1"}),
    # Single value matching on text
    Query("sv-modality-dx", SV, step={"Modality": "DX"}),
    Query("sv-modality-us", SV, step={"Modality": "US"}),
    Query("sv-modality-mr", SV, step={"Modality": "MR"}),
    Query(
        "sv-modality-lower",
        SV,
        step={"Modality": "dx"},
        diffs={"dcmtk": Diff(SV, "wlmscpfs refuses 'dx' (not a valid CS value) with status A900", CHOICE)},
    ),
    Query("sv-station-dx", SV, step={"ScheduledStationAETitle": "DX_ROOM1"}),
    Query("sv-station-us", SV, step={"ScheduledStationAETitle": "US_ROOM1"}),
    Query("sv-station-us-lower", SV, step={"ScheduledStationAETitle": "us_room1"}),
    Query(
        "sv-station-padded",
        PADDING,
        step={"ScheduledStationAETitle": " CT_SUITE"},
        diffs={
            "ours": Diff(
                PADDING,
                "ours answers nothing: Orthanc's re-check keeps the key's leading space and would empty the "
                "step item of every answer",
            ),
            "orthanc": Diff(PADDING, "Orthanc does not trim the key's leading space"),
        },
    ),
    Query("sv-id-000123", SV, {"PatientID": "000123"}),
    Query("sv-id-123", SV, {"PatientID": "123"}),
    Query(
        "sv-id-0042",
        PADDING,
        {"PatientID": "0042"},
        diffs={"orthanc": Diff(PADDING, "Orthanc does not trim the stored ' 0042 '")},
    ),
    Query("sv-id-42", SV, {"PatientID": "42"}),
    Query("sv-id-padded-query", PADDING, {"PatientID": " 0042"}),
    Query("sv-id-inner-space", SV, {"PatientID": "AB 12"}),
    Query("sv-id-no-space", SV, {"PatientID": "AB12"}),
    Query("sv-id-zeros", SV, {"PatientID": "000000"}),
    Query("sv-accession", SV, {"AccessionNumber": "ACC1001"}),
    Query("sv-accession-zeros", SV, {"AccessionNumber": "000077"}),
    Query("sv-accession-77", SV, {"AccessionNumber": "77"}),
    Query("sv-requested-procedure", SV, {"RequestedProcedureID": "RP1028"}),
    Query("sv-sps-id-zeros", SV, step={"ScheduledProcedureStepID": "0001"}, diffs={"dcmtk": dcmtk_ignores("SPS ID")}),
    Query("sv-sps-id-1", SV, step={"ScheduledProcedureStepID": "1"}, diffs={"dcmtk": dcmtk_ignores("SPS ID")}),
    Query("sv-sps-id-space", SV, step={"ScheduledProcedureStepID": "SPS 61"}, diffs={"dcmtk": dcmtk_ignores("SPS ID")}),
    Query(
        "sv-status-arrived",
        SV,
        step={"ScheduledProcedureStepStatus": "ARRIVED"},
        diffs={"dcmtk": dcmtk_ignores("SPS Status")},
    ),
    Query(
        "sv-status-scheduled",
        SV,
        step={"ScheduledProcedureStepStatus": "SCHEDULED"},
        diffs={
            "ours": Diff(
                UNKNOWN,
                "ours reads a step without a status as SCHEDULED and answers it so; strictly an unknown value "
                "matches no key",
                CHOICE,
            ),
            "dcmtk": dcmtk_ignores("SPS Status"),
        },
    ),
    Query("sv-sex-f", SV, {"PatientSex": "F"}),
    Query("sv-sex-o", SV, {"PatientSex": "O"}),
    Query(
        "sv-species",
        SV,
        {"PatientSpeciesDescription": "Felis catus"},
        diffs={"dcmtk": dcmtk_ignores("Patient Species Description")},
    ),
    Query(
        "sv-breed",
        SV,
        {"PatientBreedDescription": "Beagle"},
        diffs={"dcmtk": dcmtk_ignores("Patient Breed Description")},
    ),
    Query(
        "sv-breed-cyrillic",
        SV,
        {"PatientBreedDescription": "Лайка"},
        diffs={"dcmtk": dcmtk_ignores("Patient Breed Description")},
    ),
    Query(
        "sv-neutered", SV, {"PatientSexNeutered": "UNALTERED"}, diffs={"dcmtk": dcmtk_ignores("Patient's Sex Neutered")}
    ),
    Query("sv-priority", SV, {"RequestedProcedurePriority": "STAT"}),
    Query(
        "sv-station-name",
        SV,
        step={"ScheduledStationName": "Mobile DR"},
        diffs={"dcmtk": dcmtk_ignores("Scheduled Station Name")},
    ),
    Query(
        "sv-location",
        SV,
        step={"ScheduledProcedureStepLocation": "Barn"},
        diffs={"dcmtk": dcmtk_ignores("SPS Location")},
    ),
    Query(
        "sv-step-description",
        SV,
        step={"ScheduledProcedureStepDescription": "CT thorax, contrast"},
        diffs={"dcmtk": dcmtk_ignores("SPS Description")},
    ),
    Query(
        "sv-requested-description",
        SV,
        {"RequestedProcedureDescription": "Dental survey"},
        diffs={"dcmtk": dcmtk_ignores("Requested Procedure Description")},
    ),
    Query(
        "sv-study-description",
        SV,
        {"StudyDescription": "CT thorax"},
        diffs={"dcmtk": dcmtk_ignores("Study Description")},
    ),
    Query(
        "sv-organization",
        SV,
        {"ResponsibleOrganization": "Green Acres Farm"},
        diffs={"dcmtk": dcmtk_ignores("Responsible Organization")},
    ),
    Query("sv-birth-date", SV, {"PatientBirthDate": "20191231"}),
    Query("sv-birth-date-leap", SV, {"PatientBirthDate": "20200229"}),
    Query("sv-date", SV, step={DATE: "20251231"}),
    Query("sv-date-leap", SV, step={DATE: "20240229"}),
    Query("sv-date-none", SV, step={DATE: "20251229"}),
    # Person names
    Query("pn-exact", PN_CASE, {"PatientName": "Smith^Rex"}, choice=PN_CASE, diffs={"dcmtk": DCMTK_PN_CASE}),
    Query("pn-lower", PN_CASE, {"PatientName": "smith^rex"}, choice=PN_CASE, diffs={"dcmtk": DCMTK_PN_CASE}),
    Query("pn-upper", PN_CASE, {"PatientName": "SMITH^REX"}, choice=PN_CASE, diffs={"dcmtk": DCMTK_PN_CASE}),
    Query("pn-prefix", WILDCARD, {"PatientName": "Smith*"}, choice=PN_CASE, diffs={"dcmtk": DCMTK_PN_CASE}),
    Query("pn-prefix-caret", WILDCARD, {"PatientName": "Smith^*"}, choice=PN_CASE, diffs={"dcmtk": DCMTK_PN_CASE}),
    Query("pn-question-mark", WILDCARD, {"PatientName": "Smith^R?x"}, choice=PN_CASE, diffs={"dcmtk": DCMTK_PN_CASE}),
    Query(
        "pn-trailing-carets",
        PADDING,
        {"PatientName": "Smith^Rex^^"},
        choice=PN_CASE,
        diffs={
            "orthanc": Diff(
                PADDING, "reads 'Smith^Rex^^' literally; trailing empty components and their '^' may be left out"
            ),
            "dcmtk": Diff(
                PADDING, "reads 'Smith^Rex^^' literally; trailing empty components and their '^' may be left out"
            ),
        },
    ),
    Query("pn-no-match", SV, {"PatientName": "Smith^Rexx"}),
    Query("pn-accent", SV, {"PatientName": "Müller^Bello"}),
    Query("pn-accent-upper", PN_CASE, {"PatientName": "MÜLLER^BELLO"}, choice=PN_CASE, diffs={"dcmtk": DCMTK_PN_CASE}),
    Query(
        "pn-accent-wildcard",
        CHARACTERS,
        {"PatientName": "m?ller*"},
        choice=PN_CASE,
        diffs={
            "orthanc": ORTHANC_BYTES,
            "dcmtk": Diff(CHARACTERS, "wlmscpfs matches bytes (no Müller) and case-sensitively (no Muller)"),
        },
    ),
    Query("pn-ascii-only", WILDCARD, {"PatientName": "Muller*"}),
    Query("pn-apostrophe", SV, {"PatientName": "O'Connor^Daisy"}),
    Query("pn-apostrophe-wildcard", WILDCARD, {"PatientName": "O'C*"}),
    Query("pn-japanese", SV, {"PatientName": "山田^ポチ"}),
    Query("pn-japanese-prefix", WILDCARD, {"PatientName": "山田*"}),
    Query(
        "pn-japanese-question",
        CHARACTERS,
        {"PatientName": "山田^??"},
        diffs={"orthanc": ORTHANC_BYTES, "dcmtk": Diff(CHARACTERS, "wlmscpfs's '?' stands for one byte")},
    ),
    Query("pn-groups-contains", WILDCARD, {"PatientName": "*山田^ポチ*"}),
    Query("pn-groups-prefix", WILDCARD, {"PatientName": "Yamada*"}),
    Query("pn-greek", SV, {"PatientName": "Παπαδόπουλος^Άργος"}),
    Query("pn-greek-lower", PN_CASE, {"PatientName": "παπαδόπουλος*"}, choice=PN_CASE, diffs={"dcmtk": DCMTK_PN_CASE}),
    Query(
        "pn-cyrillic-upper", PN_CASE, {"PatientName": "ИВАНОВ^ШАРИК"}, choice=PN_CASE, diffs={"dcmtk": DCMTK_PN_CASE}
    ),
    Query("pn-farm-prefix", WILDCARD, {"PatientName": "Green Acres Farm^*"}),
    Query("pn-farm", SV, {"PatientName": "Green Acres Farm^Running on Water"}),
    Query("pn-responsible", SV, {"ResponsiblePerson": "Smith^John"}),
    Query("pn-responsible-five", SV, {"ResponsiblePerson": "Brown^Anne^Marie^Mrs.^PhD"}),
    Query("pn-responsible-wildcard", WILDCARD, {"ResponsiblePerson": "García^María*"}),
    Query("pn-referring-prefix", WILDCARD, {"ReferringPhysicianName": "Okafor*"}),
    Query("pn-performing", SV, step={"ScheduledPerformingPhysicianName": "Patel^Priya"}),
    Query(
        "pn-latin1",
        CHARSET,
        {"PatientName": "Müller*"},
        charset="ISO_IR 100",
        diffs={"dcmtk": Diff(CHARSET, "wlmscpfs compares the query's ISO_IR 100 bytes with the files' UTF-8 bytes")},
    ),
    Query(
        "pn-latin1-upper",
        CHARSET,
        {"PatientName": "MÜLLER^BELLO"},
        charset="ISO_IR 100",
        choice=PN_CASE,
        diffs={"dcmtk": Diff(CHARSET, "wlmscpfs compares the query's ISO_IR 100 bytes with the files' UTF-8 bytes")},
    ),
    Query("pn-no-charset", CHARSET, {"PatientName": "O'Connor*"}, charset=""),
    # Wildcards on other text
    Query(
        "wc-id-prefix",
        WILDCARD,
        {"PatientID": "0001*"},
        diffs={"dcmtk": dcmtk_single_value_only("Patient ID")},
    ),
    Query(
        "wc-id-question",
        WILDCARD,
        {"PatientID": "00012?"},
        diffs={"dcmtk": dcmtk_single_value_only("Patient ID")},
    ),
    Query("wc-accession", WILDCARD, {"AccessionNumber": "ACC10*"}),
    Query("wc-accession-case", WILDCARD, {"AccessionNumber": "acc*"}),
    Query("wc-accession-middle", WILDCARD, {"AccessionNumber": "A*1"}),
    Query(
        "wc-species",
        WILDCARD,
        {"PatientSpeciesDescription": "Felis*"},
        diffs={"dcmtk": dcmtk_ignores("Patient Species Description")},
    ),
    Query(
        "wc-species-case",
        WILDCARD,
        {"PatientSpeciesDescription": "felis*"},
        diffs={"dcmtk": dcmtk_ignores("Patient Species Description")},
    ),
    Query(
        "wc-breed-suffix",
        WILDCARD,
        {"PatientBreedDescription": "*Retriever"},
        diffs={"dcmtk": dcmtk_ignores("Patient Breed Description")},
    ),
    Query(
        "wc-breed-cyrillic",
        CHARACTERS,
        {"PatientBreedDescription": "Л?йка"},
        diffs={"orthanc": ORTHANC_BYTES, "dcmtk": dcmtk_ignores("Patient Breed Description")},
    ),
    Query(
        "wc-step-description",
        WILDCARD,
        step={"ScheduledProcedureStepDescription": "CT thorax*"},
        diffs={"dcmtk": dcmtk_ignores("SPS Description")},
    ),
    Query(
        "wc-station-name",
        WILDCARD,
        step={"ScheduledStationName": "?R Room ?"},
        diffs={"dcmtk": dcmtk_ignores("Scheduled Station Name")},
    ),
    Query(
        "wc-station-ae",
        WILDCARD,
        step={"ScheduledStationAETitle": "DX*"},
        diffs={"dcmtk": dcmtk_single_value_only("Scheduled Station AE Title")},
    ),
    Query("wc-requested-procedure", WILDCARD, {"RequestedProcedureID": "RP10?8"}),
    Query("wc-sps-id", WILDCARD, step={"ScheduledProcedureStepID": "SPS06*"}, diffs={"dcmtk": dcmtk_ignores("SPS ID")}),
    # Date ranges
    Query("rg-date-closed", RANGE, step={DATE: "20251231-20260101"}),
    Query("rg-date-up-to", RANGE, step={DATE: "-20251230"}),
    Query("rg-date-from", RANGE, step={DATE: "20260102-"}),
    Query("rg-date-one-day", RANGE, step={DATE: "20251231-20251231"}),
    Query("rg-date-year-end", RANGE, step={DATE: "20251230-20260102"}),
    Query("rg-birth-year", RANGE, {"PatientBirthDate": "20190101-20191231"}),
    Query("rg-birth-up-to", RANGE, {"PatientBirthDate": "-20151231"}),
    # Times: ranges and single values of every precision
    Query(
        "rg-time-minutes",
        TM_RANGE,
        step={TIME: "0800-0830"},
        diffs={"orthanc": orthanc_tm_strings()},
    ),
    Query("rg-time-seconds", TM_RANGE, step={TIME: "080000-083000"}, diffs={"orthanc": orthanc_tm_strings()}),
    Query(
        "rg-time-afternoon",
        TM_RANGE,
        step={TIME: "1500-1530"},
        diffs={"orthanc": orthanc_tm_strings()},
    ),
    Query("rg-time-afternoon-seconds", TM_RANGE, step={TIME: "150000-153000"}, diffs={"orthanc": orthanc_tm_strings()}),
    Query("rg-time-fraction", TM_RANGE, step={TIME: "083015-083015.5"}),
    Query(
        "rg-time-hour",
        TM_RANGE,
        step={TIME: "08-08"},
        diffs={"orthanc": orthanc_tm_strings()},
    ),
    Query("rg-time-late", TM_RANGE, step={TIME: "2359-"}),
    Query(
        "rg-time-midnight",
        TM_RANGE,
        step={TIME: "-0000"},
        diffs={"orthanc": orthanc_tm_strings()},
    ),
    Query("rg-time-evening", TM_RANGE, step={TIME: "1700-1800"}),
    Query("tm-single-minutes", TM_SINGLE, step={TIME: "0830"}),
    Query("tm-single-seconds", TM_SINGLE, step={TIME: "083000"}, diffs={"orthanc": orthanc_tm_strings(TM_SINGLE)}),
    Query(
        "tm-single-hour",
        TM_SINGLE,
        step={TIME: "08"},
        diffs={"orthanc": orthanc_tm_strings(TM_SINGLE)},
    ),
    Query("tm-single-fraction", TM_SINGLE, step={TIME: "083015.123456"}),
    Query(
        "tm-single-with-date",
        TM_SINGLE,
        step={DATE: "20251231", TIME: "0830"},
    ),
    # SPS Start Date and Time together
    Query(
        "dt-overnight",
        COMBINED,
        step={DATE: "20251230-20251231", TIME: "1800-0830"},
        diffs={
            "ours": Diff(
                COMBINED,
                "ours refuses a time range across midnight: read apart from the date, as Orthanc's re-check "
                "reads it, it would be a range that ends before it starts",
            ),
            "orthanc": ORTHANC_SEPARATE,
        },
    ),
    Query(
        "dt-three-days",
        COMBINED,
        step={DATE: "20251230-20260101", TIME: "1000-1800"},
        diffs={"ours": OURS_SEPARATE, "orthanc": ORTHANC_SEPARATE},
    ),
    Query(
        "dt-one-day-time-range",
        COMBINED,
        step={DATE: "20251231", TIME: "0800-0830"},
        diffs={"orthanc": orthanc_tm_strings()},
    ),
    Query(
        "dt-range-single-time",
        COMBINED,
        step={DATE: "20251231-20260101", TIME: "0830"},
    ),
    Query(
        "dt-from",
        COMBINED,
        step={DATE: "20260101-", TIME: "1200-"},
        diffs={"ours": OURS_SEPARATE, "orthanc": ORTHANC_SEPARATE},
    ),
    Query("dt-up-to", COMBINED, step={DATE: "-20251230", TIME: "-1200"}),
    # List of UID
    Query("uid-single", UID, {"StudyInstanceUID": UID_1001}, diffs={"dcmtk": dcmtk_ignores("Study Instance UID")}),
    Query(
        "uid-list",
        UID,
        {"StudyInstanceUID": f"{UID_1005}\\{UID_1025}"},
        diffs={"dcmtk": dcmtk_ignores("Study Instance UID")},
    ),
    Query(
        "uid-list-unknown",
        UID,
        {"StudyInstanceUID": f"{UID_1039}\\1.2.3.4"},
        diffs={"dcmtk": dcmtk_ignores("Study Instance UID")},
    ),
    Query("uid-none", UID, {"StudyInstanceUID": "1.2.3.4"}, diffs={"dcmtk": dcmtk_ignores("Study Instance UID")}),
    # Several keys at once
    Query("combo-broad", SV, step={"Modality": "DX", DATE: "20251231", "ScheduledStationAETitle": "DX_ROOM1"}),
    Query("combo-patient", SV, {"PatientName": "Smith^Rex", "AccessionNumber": "ACC1001"}, choice=PN_CASE),
    Query("combo-none", SV, {"PatientID": "000123"}, step={"Modality": "CT"}),
    Query(
        "combo-status-modality",
        SV,
        step={"ScheduledProcedureStepStatus": "SCHEDULED", "Modality": "CT"},
        diffs={"dcmtk": dcmtk_ignores("SPS Status")},
    ),
    Query(
        "combo-root-and-date",
        SV,
        {"PatientSpeciesDescription": "Equus caballus"},
        step={DATE: "20251230"},
        diffs={"dcmtk": dcmtk_ignores("Patient Species Description")},
    ),
]

#: Return keys of every new attribute at the root (issue #12), asked with no value.
NEW_ROOT_KEYS = {
    "IssuerOfPatientID": "",
    "RequestingPhysician": "",
    "AdmissionID": "",
    "CurrentPatientLocation": "",
    "SpecialNeeds": "",
    "PatientState": "",
    "ResponsiblePersonRole": "",
    "MedicalAlerts": "",
    "Allergies": "",
    "PatientSize": "",
    "PatientAge": "",
    "ReasonForTheRequestedProcedure": "",
}
#: The new step attributes, asked with no value.
NEW_STEP_KEYS = {
    "PreMedication": "",
    "RequestedContrastAgent": "",
    "CommentsOnTheScheduledProcedureStep": "",
    "ScheduledProcedureStepEndDate": "",
    "ScheduledProcedureStepEndTime": "",
}
CODE_KEYS = {"CodeValue": "", "CodingSchemeDesignator": "", "CodeMeaning": ""}
REFERENCE_KEYS = {"ReferencedSOPClassUID": "", "ReferencedSOPInstanceUID": ""}

ORTHANC_MULTIPLE = Diff(
    MULTIPLE,
    "Orthanc's matcher compares the key with all the stored values as one text ('Bites when in pain\\Epilepsy'), "
    "so no value of several ever matches",
)
ORTHANC_NUMBER = Diff(
    NUMBER, "Orthanc compares DS values as text, so '0.45' does not find '0.450' (nor '32.50' '32.5')", CHOICE
)
ORTHANC_ABSENT_SEQUENCE = Diff(
    UNKNOWN,
    "Orthanc's matcher skips a sequence key that the item does not have, so every item without the sequence "
    "matches; items with it are matched as C.2.2.2.6 says",
)
#: What the plugin does with a TM or DT key in the step that it matches by value (issue #12).
DCMTK_SEQUENCES = "sequence keys (it returns them, never matches on them)"

#: Queries on the attributes the plugin answers and matches since issue #12: the reference table's
#: new plain columns, several stored values, numbers, the catch-all, DICOM JSON sequences.
WHOLE_MODEL: list[Query] = [
    # Plain columns at the root: single value and wildcard
    Query("sv-issuer", SV, {"IssuerOfPatientID": "RVC"}),
    Query("wc-issuer", WILDCARD, {"IssuerOfPatientID": "RVC*"}),
    Query(
        "sv-requesting",
        PN_CASE,
        {"RequestingPhysician": "Carter^Emily"},
        choice=PN_CASE,
        diffs={"dcmtk": DCMTK_PN_CASE},
    ),
    Query("wc-requesting", WILDCARD, {"RequestingPhysician": "Lindq*"}),
    Query("sv-admission", SV, {"AdmissionID": "ADM-1001"}),
    Query("wc-admission", WILDCARD, {"AdmissionID": "ADM-100?"}),
    Query(
        "sv-patient-location",
        SV,
        {"CurrentPatientLocation": "Ward 3"},
        diffs={"dcmtk": dcmtk_ignores("Current Patient Location")},
    ),
    Query(
        "wc-patient-location",
        WILDCARD,
        {"CurrentPatientLocation": "Barn*"},
        diffs={"dcmtk": dcmtk_ignores("Current Patient Location")},
    ),
    Query("sv-special-needs", SV, {"SpecialNeeds": "Muzzle"}, diffs={"dcmtk": dcmtk_ignores("Special Needs")}),
    Query("wc-special-needs", WILDCARD, {"SpecialNeeds": "Muzzle*"}, diffs={"dcmtk": dcmtk_ignores("Special Needs")}),
    Query("sv-patient-state", SV, {"PatientState": "Fasted"}, diffs={"dcmtk": dcmtk_ignores("Patient State")}),
    Query("sv-role", SV, {"ResponsiblePersonRole": "AGENT"}),
    Query(
        "sv-role-owner",
        SV,
        {"ResponsiblePersonRole": "OWNER"},
        diffs={
            "ours": Diff(
                SV,
                "ours answers Responsible Person Role OWNER for an owner whose role is not stored, and matches "
                "what it answers (docs/conformance.md)",
                CHOICE,
            )
        },
    ),
    Query("univ-star-alerts", UNIVERSAL, {"MedicalAlerts": "*"}, diffs={"orthanc": ORTHANC_NEEDS_ATTRIBUTE}),
    # Several stored values: any may match
    Query(
        "mv-alerts-second",
        MULTIPLE,
        {"MedicalAlerts": "Epilepsy"},
        diffs={"orthanc": ORTHANC_MULTIPLE, "dcmtk": dcmtk_ignores("Medical Alerts")},
    ),
    Query(
        "mv-alerts-first",
        MULTIPLE,
        {"MedicalAlerts": "Bites when in pain"},
        diffs={"orthanc": ORTHANC_MULTIPLE, "dcmtk": dcmtk_ignores("Medical Alerts")},
    ),
    Query(
        "mv-allergies-first",
        MULTIPLE,
        {"Allergies": "Penicillin"},
        diffs={"orthanc": ORTHANC_MULTIPLE, "dcmtk": dcmtk_ignores("Allergies")},
    ),
    Query(
        "mv-allergies-second",
        MULTIPLE,
        {"Allergies": "Chicken"},
        diffs={"orthanc": ORTHANC_MULTIPLE, "dcmtk": dcmtk_ignores("Allergies")},
    ),
    Query(
        "mv-allergies-wildcard",
        MULTIPLE,
        {"Allergies": "Lat*"},
        diffs={
            "orthanc": Diff(
                MULTIPLE,
                "Orthanc matches the key against all the values as one text: 'Lat*' finds 'Latex\\Chicken' (its "
                "'*' runs over the backslash) but not 'Penicillin\\Latex'",
            ),
            "dcmtk": dcmtk_ignores("Allergies"),
        },
    ),
    Query(
        "mv-recipients-pn",
        MULTIPLE,
        {"NamesOfIntendedRecipientsOfResults": "okafor^james"},
        choice=PN_CASE,
        diffs={"orthanc": ORTHANC_MULTIPLE, "dcmtk": dcmtk_ignores("Names of Intended Recipients of Results")},
    ),
    # Numbers
    Query(
        "num-size",
        NUMBER,
        {"PatientSize": "0.45"},
        diffs={"orthanc": ORTHANC_NUMBER, "dcmtk": dcmtk_ignores("Patient's Size")},
    ),
    Query(
        "num-size-zeros",
        NUMBER,
        {"PatientSize": "0.4500"},
        diffs={"orthanc": ORTHANC_NUMBER, "dcmtk": dcmtk_ignores("Patient's Size")},
    ),
    Query(
        "num-weight",
        NUMBER,
        {"PatientWeight": "32.50"},
        diffs={"orthanc": ORTHANC_NUMBER, "dcmtk": dcmtk_ignores("Patient's Weight")},
    ),
    # The catch-all at the root
    Query("ca-age", SV, {"PatientAge": "007Y"}, diffs={"dcmtk": dcmtk_ignores("Patient's Age")}),
    Query(
        "ca-reason",
        SV,
        {"ReasonForTheRequestedProcedure": "Seizures"},
        diffs={"dcmtk": dcmtk_ignores("Reason for the Requested Procedure")},
    ),
    Query(
        "ca-reason-wildcard",
        WILDCARD,
        {"ReasonForTheRequestedProcedure": "Lameness*"},
        diffs={"dcmtk": dcmtk_ignores("Reason for the Requested Procedure")},
    ),
    # Plain columns in the step
    Query(
        "sv-premedication",
        SV,
        step={"PreMedication": "Butorphanol"},
        diffs={"dcmtk": dcmtk_ignores("Pre-Medication")},
    ),
    Query(
        "wc-premedication", WILDCARD, step={"PreMedication": "Dex*"}, diffs={"dcmtk": dcmtk_ignores("Pre-Medication")}
    ),
    Query(
        "univ-star-premedication",
        UNIVERSAL,
        step={"PreMedication": "*"},
        diffs={"orthanc": ORTHANC_NEEDS_ATTRIBUTE},
    ),
    Query(
        "sv-contrast",
        SV,
        step={"RequestedContrastAgent": "Iohexol"},
        diffs={"dcmtk": dcmtk_ignores("Requested Contrast Agent")},
    ),
    Query(
        "wc-contrast",
        WILDCARD,
        step={"RequestedContrastAgent": "Io*"},
        diffs={"dcmtk": dcmtk_ignores("Requested Contrast Agent")},
    ),
    Query(
        "sv-step-comments",
        SV,
        step={"CommentsOnTheScheduledProcedureStep": "Fasted since 22:00"},
        diffs={"dcmtk": dcmtk_ignores("Comments on the SPS")},
    ),
    Query(
        "wc-step-comments",
        WILDCARD,
        step={"CommentsOnTheScheduledProcedureStep": "*lobby"},
        diffs={"dcmtk": dcmtk_ignores("Comments on the SPS")},
    ),
    Query(
        "lt-leading-space",
        LT_LEADING,
        step={"CommentsOnTheScheduledProcedureStep": " Bring the consent form"},
        diffs={"dcmtk": dcmtk_ignores("Comments on the SPS")},
    ),
    Query(
        "lt-leading-space-missing",
        LT_LEADING,
        step={"CommentsOnTheScheduledProcedureStep": "Bring the consent form"},
        diffs={"dcmtk": dcmtk_ignores("Comments on the SPS")},
    ),
    # The catch-all in the step
    Query(
        "ca-step-end-date",
        SV,
        step={"ScheduledProcedureStepEndDate": "20251231"},
        diffs={"dcmtk": dcmtk_ignores("SPS End Date")},
    ),
    Query(
        "ca-step-end-date-range",
        RANGE,
        step={"ScheduledProcedureStepEndDate": "20251230-20251231"},
        diffs={"dcmtk": dcmtk_ignores("SPS End Date")},
    ),
    Query(
        "ca-step-end-time-range",
        TM_RANGE,
        step={"ScheduledProcedureStepEndTime": "1300-1500"},
        diffs={"dcmtk": dcmtk_ignores("SPS End Time")},
    ),
    Query(
        "ca-step-end-time-seconds",
        TM_RANGE,
        step={"ScheduledProcedureStepEndTime": "130000-150000"},
        diffs={"orthanc": orthanc_tm_strings(), "dcmtk": dcmtk_ignores("SPS End Time")},
    ),
    Query(
        "ca-step-end-time-single",
        TM_SINGLE,
        step={"ScheduledProcedureStepEndTime": "130000"},
        diffs={"orthanc": orthanc_tm_strings(TM_SINGLE), "dcmtk": dcmtk_ignores("SPS End Time")},
    ),
    Query(
        "ca-step-modified",
        DT_SINGLE,
        step={"ScheduledProcedureStepModificationDateTime": "20251230113000"},
        diffs={
            "orthanc": Diff(DT_SINGLE, "Orthanc compares DT as strings: '202512301130' is not '20251230113000'"),
            "dcmtk": dcmtk_ignores("SPS Modification Date Time"),
        },
    ),
    # Sequence matching in the step
    Query(
        "seq-protocol-code",
        SEQUENCE,
        step={"ScheduledProtocolCodeSequence": [{"CodeValue": "CT-THX-C"}]},
        diffs={"orthanc": ORTHANC_ABSENT_SEQUENCE, "dcmtk": dcmtk_ignores(DCMTK_SEQUENCES)},
    ),
    Query(
        "seq-protocol-second-item",
        SEQUENCE,
        step={"ScheduledProtocolCodeSequence": [{"CodeValue": "XR-THX-VD"}]},
        diffs={"orthanc": ORTHANC_ABSENT_SEQUENCE, "dcmtk": dcmtk_ignores(DCMTK_SEQUENCES)},
    ),
    Query(
        "seq-protocol-meaning-wildcard",
        SEQUENCE,
        step={"ScheduledProtocolCodeSequence": [{"CodeMeaning": "CT thorax*"}]},
        diffs={"orthanc": ORTHANC_ABSENT_SEQUENCE, "dcmtk": dcmtk_ignores(DCMTK_SEQUENCES)},
    ),
    Query(
        "seq-protocol-same-item",
        SEQUENCE,
        step={"ScheduledProtocolCodeSequence": [{"CodeValue": "CT-HEAD", "CodingSchemeDesignator": "99RVC"}]},
        diffs={"orthanc": ORTHANC_ABSENT_SEQUENCE, "dcmtk": dcmtk_ignores(DCMTK_SEQUENCES)},
    ),
    Query(
        "seq-protocol-across-items",
        SEQUENCE,
        step={"ScheduledProtocolCodeSequence": [{"CodeValue": "XR-THX-LAT", "CodeMeaning": "XR thorax ventrodorsal"}]},
        diffs={"orthanc": ORTHANC_ABSENT_SEQUENCE, "dcmtk": dcmtk_ignores(DCMTK_SEQUENCES)},
    ),
    Query(
        "seq-protocol-universal-star",
        UNIVERSAL,
        step={"Modality": "CT", "ScheduledProtocolCodeSequence": [{"CodeValue": "*"}]},
    ),
    # Sequence matching at the root: DICOM JSON columns and the catch-all
    Query(
        "seq-referenced-study",
        SEQUENCE,
        {"ReferencedStudySequence": [{"ReferencedSOPInstanceUID": REFERENCED_STUDY_1001}]},
        diffs={"orthanc": ORTHANC_ABSENT_SEQUENCE, "dcmtk": dcmtk_ignores(DCMTK_SEQUENCES)},
    ),
    Query(
        "seq-referenced-patient",
        SEQUENCE,
        {"ReferencedPatientSequence": [{"ReferencedSOPInstanceUID": REFERENCED_PATIENT_FARM}]},
        diffs={"orthanc": ORTHANC_ABSENT_SEQUENCE, "dcmtk": dcmtk_ignores(DCMTK_SEQUENCES)},
    ),
    Query(
        "seq-requested-code",
        SEQUENCE,
        {"RequestedProcedureCodeSequence": [{"CodeValue": "CT-THX"}]},
        diffs={"orthanc": ORTHANC_ABSENT_SEQUENCE, "dcmtk": dcmtk_ignores(DCMTK_SEQUENCES)},
    ),
    Query(
        "seq-other-ids",
        SEQUENCE,
        {"OtherPatientIDsSequence": [{"PatientID": "LUNA-1"}]},
        diffs={"orthanc": ORTHANC_ABSENT_SEQUENCE, "dcmtk": dcmtk_ignores(DCMTK_SEQUENCES)},
    ),
    Query(
        "seq-other-ids-type",
        SEQUENCE,
        {"OtherPatientIDsSequence": [{"TypeOfPatientID": "RFID"}]},
        diffs={"orthanc": ORTHANC_ABSENT_SEQUENCE, "dcmtk": dcmtk_ignores(DCMTK_SEQUENCES)},
    ),
    Query(
        "seq-other-ids-wildcard",
        SEQUENCE,
        {"OtherPatientIDsSequence": [{"PatientID": "9410*"}]},
        diffs={"orthanc": ORTHANC_ABSENT_SEQUENCE, "dcmtk": dcmtk_ignores(DCMTK_SEQUENCES)},
    ),
    # Sequences and new attributes asked for as return keys: an item of empty keys is universal,
    # and a sequence asked inside the step must not make Orthanc's re-check empty the step item.
    Query(
        "ask-protocol-codes",
        SEQUENCE,
        step={"Modality": "CT", "ScheduledProtocolCodeSequence": [dict(CODE_KEYS)]},
    ),
    Query("ask-protocol-zero-length", SEQUENCE, step={"Modality": "CT", "ScheduledProtocolCodeSequence": []}),
    Query(
        "ask-step-nested-sequences",
        SEQUENCE,
        step={
            "Modality": "CT",
            "ScheduledStationNameCodeSequence": [dict(CODE_KEYS)],
            "ScheduledPerformingPhysicianIdentificationSequence": [
                {"PersonIdentificationCodeSequence": [dict(CODE_KEYS)], "InstitutionName": ""}
            ],
        },
    ),
    Query("ask-step-attributes", UNIVERSAL, step={"Modality": "CT", **NEW_STEP_KEYS}),
    Query(
        "ask-root-sequences",
        SEQUENCE,
        {
            "ReferencedStudySequence": [dict(REFERENCE_KEYS)],
            "ReferencedPatientSequence": [dict(REFERENCE_KEYS)],
            "RequestedProcedureCodeSequence": [dict(CODE_KEYS)],
            "OtherPatientIDsSequence": [{"PatientID": "", "TypeOfPatientID": ""}],
        },
        step={DATE: "20251230"},
    ),
    Query("ask-root-attributes", UNIVERSAL, dict(NEW_ROOT_KEYS), step={DATE: "20251231"}),
]
QUERIES += WHOLE_MODEL
